"""Brute-force answers to trends, funnels and retention, for the property tests to compare the engine with.

Plain Python over a list of events, written from the stated semantics (the docstrings of
`footfall.query.funnels` and `footfall.query.retention`, PostHog's and Amplitude's definitions), never from
the SQL. Times are UTC epoch milliseconds; days and weeks are local to the project's time zone.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IDENTITY_EVENTS = frozenset({"$identify", "$groupidentify", "$create_alias", "$set"})
UNBOUNDED = 1 << 30


@dataclass(frozen=True)
class Ev:
    person: int  # the generated person (all of its ids merge into one)
    name: str
    ms: int  # UTC epoch milliseconds
    platform: str = ""  # the `platform` column ('' when not sent)
    plan: str = ""  # the `plan` event property as the engine shows it ('' when unset or null)


# -- calendar --------------------------------------------------------------------------------------------
def local_midnight_ms(day: dt.date, tz: str) -> int:
    return int(dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(tz)).timestamp() * 1000)


def local_date(ms: int, tz: str) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz)).date()


def week_start_of(day: dt.date, week_start: int) -> dt.date:
    """The Sunday (week_start 0) or Monday (1) starting the week of `day`."""
    back = (day.weekday() + 1) % 7 if week_start == 0 else day.weekday()
    return day - dt.timedelta(days=back)


def bucket_at(ms: int, tz: str, interval: str, week_start: int = 0) -> dt.datetime:
    """The start (naive, local) of the hour, day or week holding the instant."""
    local = dt.datetime.fromtimestamp(ms / 1000, zoneinfo.ZoneInfo(tz)).replace(tzinfo=None)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date() if interval == "day" else week_start_of(local.date(), week_start)
    return dt.datetime.combine(day, dt.time())


def bucket_starts(first: dt.date, last: dt.date, interval: str, week_start: int = 0) -> list[dt.datetime]:
    """Every bucket start (naive, local) overlapping the days [first, last]: local clock hours, so a day
    losing an hour to DST still lists it (empty) and the repeated hour of a day gaining one is one bucket."""
    step = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}[interval]
    first_day = week_start_of(first, week_start) if interval == "week" else first
    out, current = [], dt.datetime.combine(first_day, dt.time())
    while current < dt.datetime.combine(last + dt.timedelta(days=1), dt.time()):
        out.append(current)
        current += step
    return out


# -- trends ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrendsSeries:
    series_index: int
    breakdown: tuple[str, ...]
    values: tuple[float, ...]
    total: float


def trends(
    events: Iterable[Ev],
    tz: str,
    first: dt.date,
    last: dt.date,
    series: Sequence[tuple[str, str]],  # (event name, "total" | "uniques")
    interval: str = "day",  # "hour" | "day" | "week"
    week_start: int = 0,
    breakdown: str | None = None,  # an attribute of Ev ("platform", "plan") or None
) -> list[TrendsSeries]:
    """Per series and breakdown value: the metric in each bucket and over the whole range.

    Breakdown values are ranked by their total (descending), then by value; without a breakdown a series
    is always present, all zeros when nothing happened.
    """
    start, end = local_midnight_ms(first, tz), local_midnight_ms(last + dt.timedelta(days=1), tz)
    buckets = bucket_starts(first, last, interval, week_start)
    in_range = [e for e in events if start <= e.ms < end]
    out: list[TrendsSeries] = []
    for index, (name, math) in enumerate(series):
        matching = [e for e in in_range if e.name == name]
        groups: dict[tuple[str, ...], list[Ev]] = {}
        for e in matching:
            key = (getattr(e, breakdown),) if breakdown else ()
            groups.setdefault(key, []).append(e)
        if not breakdown and not groups:
            groups[()] = []

        def metric(evs: list[Ev], math: str = math) -> float:
            return float(len(evs) if math == "total" else len({e.person for e in evs}))

        rows = []
        for key, evs in groups.items():
            per_bucket = [metric([e for e in evs if bucket_at(e.ms, tz, interval, week_start) == b]) for b in buckets]
            rows.append(TrendsSeries(index, key, tuple(per_bucket), metric(evs)))
        out.extend(sorted(rows, key=lambda s: (-s.total, s.breakdown)))
    return out


# -- funnels ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunnelAnswer:
    counts: list[int]
    avg_ms: list[float | None]
    median_ms: list[float | None]


def _matched(e: Ev, steps: Sequence[str]) -> list[int]:
    return [k for k, name in enumerate(steps) if e.name == name]


def _sorted_events(evs: Iterable[Ev], steps: Sequence[str]) -> list[Ev]:
    """Time order, simultaneous events by step (where an event of no step goes among them does not matter:
    `_funnel_events` drops it). An event matching several steps (a funnel repeating an event) sorts as the
    bitmask of its steps compares, so by its highest step: a convention where "by step" says nothing."""
    return sorted(evs, key=lambda e: (e.ms, sum(1 << k for k in _matched(e, steps))))


def _funnel_events(
    evs: Iterable[Ev], steps: Sequence[str], strict: bool, start: int, end: int, window: int, past_range: bool
) -> list[Ev]:
    """The events that can matter: from the range start until the last moment a step may happen.

    Strict funnels read every other (non-identity) event too, except one simultaneous with a step event:
    Amplitude's exact-order funnels still count a user whose other event fires at the same time as a step.
    """
    last = end + window if past_range else end
    during = [e for e in evs if start <= e.ms < last and e.name not in IDENTITY_EVENTS]
    step_times = {e.ms for e in during if e.name in steps}
    keep = [e for e in during if e.name in steps or (strict and e.ms not in step_times)]
    return _sorted_events(keep, steps)


def ordered_paths(evs: Sequence[Ev], steps: Sequence[str], window: int, start: int, end: int) -> list[list[int]]:
    """From each first-step event inside [start, end), in order: the times of the path that takes, for each
    later step, the first event of that step after the previous one, while within `window` ms (inclusive)
    of the first. Taking the earliest event never loses against a later choice, so the longest of these
    paths reaches the most steps any path of events in (sorted) order can."""
    paths = []
    for i, first in enumerate(evs):
        if not (steps[0] == first.name and start <= first.ms < end):
            continue
        path, j = [first.ms], i + 1
        while len(path) < len(steps):
            j = next(
                (m for m in range(j, len(evs)) if evs[m].name == steps[len(path)] and evs[m].ms - first.ms <= window),
                -1,
            )
            if j < 0:
                break
            path.append(evs[j].ms)
            j += 1
        paths.append(path)
    return paths


def strict_reach(evs: Sequence[Ev], steps: Sequence[str], window: int, start: int, end: int) -> int:
    """Brute force: the most steps matched by consecutive events (no other event between)."""
    best = 0
    for i, first in enumerate(evs):
        if not (steps[0] == first.name and start <= first.ms < end):
            continue
        reached = 1
        while (
            reached < len(steps)
            and i + reached < len(evs)
            and evs[i + reached].name == steps[reached]
            and evs[i + reached].ms - first.ms <= window
        ):
            reached += 1
        best = max(best, reached)
    return best


def chain_of(evs: Sequence[Ev], steps: Sequence[str], window: int, start: int, end: int, strict: bool) -> list[int]:
    """The path of funnels.py's fold: walking the events, keep for each step k the latest chain of times
    reaching k whose first event is within the window of the event extending it (strict order empties every
    chain the event does not extend); the answer is the first chain that reached the furthest step."""
    n = len(steps)
    chains: list[list[int]] = [[] for _ in range(n)]
    best: list[int] = []
    for e in evs:
        for c in chains:
            if len(c) > len(best):
                best = c
        new = [[] if strict else c for c in chains]
        for k in _matched(e, steps):
            if k == 0:
                if start <= e.ms < end:
                    new[0] = [e.ms]
            elif chains[k - 1] and e.ms - chains[k - 1][0] <= window:
                new[k] = [*chains[k - 1], e.ms]
        chains = new
    for c in chains:
        if len(c) > len(best):
            best = c
    return best


def unordered_reach(evs: Sequence[Ev], steps: Sequence[str], window: int, start: int, end: int) -> int:
    """For each anchor (a step event inside the range): the distinct steps done within [anchor, anchor +
    window]; the best anchor counts."""
    best = 0
    for anchor in evs:
        if not start <= anchor.ms < end:
            continue
        done = {e.name for e in evs if anchor.ms <= e.ms <= anchor.ms + window}
        best = max(best, len(done & set(steps)))
    return best


def funnel(
    events: Iterable[Ev],
    steps: Sequence[str],
    order: str,  # "ordered" | "strict" | "unordered"
    window: int,
    start: int,
    end: int,
    past_range: bool = True,
) -> FunnelAnswer:
    """Persons reaching each step; for ordered and strict funnels also the mean and median time from the
    previous step (over the persons reaching it, the median as the midpoint of the two middle values)."""
    n = len(steps)
    per_person: dict[int, list[Ev]] = {}
    for e in events:
        per_person.setdefault(e.person, []).append(e)
    reached: list[int] = []
    chains: list[list[int]] = []
    for evs in per_person.values():
        kept = _funnel_events(evs, steps, order == "strict", start, end, window, past_range)
        if order == "unordered":
            reached.append(unordered_reach(kept, steps, window, start, end))
            continue
        fold = chain_of(kept, steps, window, start, end, order == "strict")
        if order == "strict":
            chain = fold
            assert len(chain) == strict_reach(kept, steps, window, start, end)  # two readings agree
        else:
            # Ordered funnels time the longest earliest-next path, the earliest start winning ties
            # (Amplitude's "earliest, longest path"; funnels.py's `_greedy_sql`); the fold reaches as far.
            paths = ordered_paths(kept, steps, window, start, end)
            chain = max(paths, key=len, default=[])
            assert len(chain) == len(fold)
        reached.append(len(chain))
        chains.append(chain)
    counts = [sum(1 for r in reached if r > k) for k in range(n)]
    avg: list[float | None] = [None] * n
    median: list[float | None] = [None] * n
    for k in range(1, n):
        gaps = [c[k] - c[k - 1] for c in chains if len(c) > k]
        if gaps:
            avg[k], median[k] = statistics.fmean(gaps), float(statistics.median(gaps))
    return FunnelAnswer(counts, avg, median)


# -- retention -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionAnswer:
    sizes: list[int]  # per cohort (each day of the range)
    counts: list[list[int]]  # per cohort, per column
    combined: tuple[int, list[int]]  # persons over all cohorts, each once


def retention_columns(mode: str, periods: int) -> list[tuple[int, int]]:
    if mode == "rolling":
        return [(k, UNBOUNDED) for k in range(periods + 1)]
    return [(k, k) for k in range(periods + 1)]


def retention(
    events: Iterable[Ev],
    tz: str,
    first: dt.date,
    last: dt.date,
    start_event: str,
    return_event: str,
    periods: int,
    mode: str,  # "n_day" | "rolling"
    cohort_by: str,  # "first_in_range" | "every" | "first_ever"
) -> RetentionAnswer:
    """Daily cohorts over local days [first, last]. A person's cohorts: the day of their first start event in
    the range (first_in_range), every day with one (every), or the day of their first start event ever when
    that day is in the range (first_ever). A cohort's column [lo, hi] counts the persons with a return event
    on a day d with lo <= d - cohort <= hi (returns before the range never count)."""
    n_cohorts = (last - first).days + 1
    columns = retention_columns(mode, periods)
    origin = local_midnight_ms(first, tz)
    starts: dict[int, list[int]] = {}
    returns: dict[int, set[int]] = {}
    for e in events:
        day = (local_date(e.ms, tz) - first).days
        if e.name == start_event and (e.ms >= origin or cohort_by == "first_ever"):
            starts.setdefault(e.person, []).append(day)
        if e.name == return_event and e.ms >= origin:
            returns.setdefault(e.person, set()).add(day)
    sizes = [0] * n_cohorts
    counts = [[0] * len(columns) for _ in range(n_cohorts)]
    combined_members: set[int] = set()
    combined_counts: list[set[int]] = [set() for _ in columns]
    for person, days in starts.items():
        in_range = sorted({d for d in days if 0 <= d < n_cohorts})
        if cohort_by == "first_in_range":
            cohorts = in_range[:1]
        elif cohort_by == "every":
            cohorts = in_range
        else:
            cohorts = [min(days)] if 0 <= min(days) < n_cohorts else []
        for c in cohorts:
            sizes[c] += 1
            combined_members.add(person)
            for j, (lo, hi) in enumerate(columns):
                if any(lo <= r - c <= hi for r in returns.get(person, ())):
                    counts[c][j] += 1
                    combined_counts[j].add(person)
    return RetentionAnswer(sizes, counts, (len(combined_members), [len(s) for s in combined_counts]))
