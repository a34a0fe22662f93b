"""Sessions: the events one person sent with one session key, from the first to the last of them.

A session belongs to the interval of its first event (as Amplitude dates it). Its length is the time
between its first and last event, capped at one day: Amplitude's doc says session lengths have a maximum
of one day (86,400,000 ms), so a longer one counts as one day long rather than vanishing from the numbers.
Events without a session key ('' : Amplitude's session_id -1, PostHog's missing $session_id) are in no
session; identity operations ($identify, …) are not events of a session.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import IDENTITY_EVENTS, filters_sql
from footfall.query.spec import EventSelector, Math, Scope, Series, TrendsQuery
from footfall.query.sql import Params, and_all
from footfall.query.timerange import bucket_sql, buckets, parse_bucket, window_sql
from footfall.query.trends import run_trends

MAX_LENGTH_MS = 86_400_000
_DAY = dt.timedelta(days=1)

# Amplitude's default bins (ms), chosen to show bounce rates: [lo, hi).
DEFAULT_BINS: tuple[tuple[int, int], ...] = (
    (0, 3_000),
    (3_000, 10_000),
    (10_000, 30_000),
    (30_000, 60_000),
    (60_000, 180_000),
    (180_000, 600_000),
    (600_000, 1_800_000),
    (1_800_000, 3_600_000),
    (3_600_000, MAX_LENGTH_MS),
)


def sessions_sql(scope: Scope, p: Params) -> str:
    """A subquery with one row per session started in the scope's window: pid, session, started, length_ms.

    Events are read from a day either side of the window: a session is at most a day long, so that finds
    the true first event of a session starting in the window and the last of one running past its end.
    """
    rng = scope.date_range
    wide = replace(scope, date_range=replace(rng, start=rng.start - _DAY, end=rng.end + _DAY))
    where = and_all(
        [
            window_sql(wide, p),
            "session != ''",
            f"event NOT IN {p(list(IDENTITY_EVENTS), 'Array(String)')}",
            filters_sql(scope.filters, p),
        ]
    )
    return f"""(
        SELECT pid, session, min(timestamp) AS started,
               least(toUnixTimestamp64Milli(max(timestamp)) - toUnixTimestamp64Milli(min(timestamp)),
                     {p(MAX_LENGTH_MS, "Int64")}) AS length_ms
        FROM {source_sql(p, scope.project_id, where)}
        GROUP BY pid, session
        HAVING {window_sql(scope, p, "started")}
    )"""


def length_histogram(engine: Engine, scope: Scope, bins: tuple[tuple[int, int], ...] = DEFAULT_BINS) -> list[int]:
    """Sessions started in the window per length bin [lo, hi) in ms; the last bin also holds its upper end,
    so with the default bins every session (at most a day long) is counted once."""
    if not bins:
        return []
    p = Params()
    los = p([lo for lo, _ in bins], "Array(Int64)")
    his = p([hi for _, hi in bins[:-1]] + [bins[-1][1] + 1], "Array(Int64)")  # lengths are whole ms
    rows = engine.query(
        f"""SELECT arrayFirstIndex((lo, hi) -> length_ms >= lo AND length_ms < hi, {los}, {his}) AS bin, count()
        FROM {sessions_sql(scope, p)} GROUP BY bin""",
        p.values,
    )
    counts = [0] * len(bins)
    for index, n in rows:
        if index:  # 0: in no bin
            counts[int(index) - 1] = int(n)
    return counts


@dataclass
class SessionSeries:
    buckets: list[dt.datetime]
    values: list[float]


def _per_bucket(engine: Engine, scope: Scope, aggregate: str) -> dict[dt.datetime, float]:
    p = Params()
    tz = p(scope.date_range.timezone)
    rows = engine.query(
        f"""SELECT toString({bucket_sql(scope.interval, tz, scope.week_start, "started")}) AS b, {aggregate}
        FROM {sessions_sql(scope, p)} GROUP BY b""",
        p.values,
    )
    return {parse_bucket(b): float(v) for b, v in rows}


def average_length(engine: Engine, scope: Scope) -> SessionSeries:
    """Mean length in seconds of the sessions started in each interval (0 where none started)."""
    x = buckets(scope.date_range, scope.interval, scope.week_start)
    found = _per_bucket(engine, scope, "avg(length_ms) / 1000")
    return SessionSeries(x, [found.get(b, 0.0) for b in x])


def sessions_per_user(engine: Engine, scope: Scope) -> SessionSeries:
    """Sessions started in each interval per active user of that interval (active users as everywhere:
    the uniques of any analytics event, so a user without a session key counts and lowers the mean)."""
    active = run_trends(engine, TrendsQuery(scope, (Series(EventSelector(None), Math.UNIQUES),))).series[0]
    found = _per_bucket(engine, scope, "count()")
    x = buckets(scope.date_range, scope.interval, scope.week_start)
    return SessionSeries(
        x, [found.get(b, 0.0) / users if users else 0.0 for b, users in zip(x, active.values, strict=True)]
    )
