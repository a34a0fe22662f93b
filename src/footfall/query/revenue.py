"""Revenue: what an event earned, and the lifetime value of the users first seen in each interval.

An event's revenue is Amplitude's: `$price` × `$quantity` (quantity 1 when absent) when a price was sent,
else `$revenue` (ingestion stores Amplitude's price/quantity/revenue fields under those event property
names); events with neither earned nothing. Negative values are refunds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import IDENTITY_EVENTS, REVENUE_SQL, filters_sql, value_sql
from footfall.query.spec import PropertyRef, Scope
from footfall.query.sql import Params, and_all
from footfall.query.timerange import bucket_sql, buckets, parse_bucket

LTV_DAYS = 90


@dataclass
class LtvCohort:
    """Users first seen in one interval: how many, and per day N = 1..90 the revenue they made in their
    first N days (day 1 is the day of a user's first event) and how many of them had paid by then."""

    bucket: dt.datetime
    users: int = 0
    revenue: list[float] = field(default_factory=lambda: [0.0] * LTV_DAYS)
    paying: list[int] = field(default_factory=lambda: [0] * LTV_DAYS)


def run_ltv(engine: Engine, scope: Scope, breakdown: PropertyRef | None = None) -> dict[str, list[LtvCohort]]:
    """Cohorts by breakdown value ('' without one; a user's value is the one on their first event).

    A user belongs to the interval of their first analytics event ever, when that is in the window; the
    scan runs from the beginning up to 90 days past the window, the last day any cohort's r90d can use.
    A paying user is one whose revenue so far is from at least one event with a positive amount.
    Segment filters narrow the events read, as in retention: first events and revenue both among them.
    """
    rng = scope.date_range
    cohorts = buckets(rng, scope.interval, scope.week_start)
    p = Params()
    tz = p(rng.timezone)
    end = p((rng.end + dt.timedelta(days=LTV_DAYS)).strftime("%Y-%m-%d %H:%M:%S"))
    where = and_all([f"timestamp < toDateTime64({end}, 3, {tz})", filters_sql(scope.filters, p)])
    analytics = f"event NOT IN {p(list(IDENTITY_EVENTS), 'Array(String)')}"
    group = value_sql(breakdown, p) if breakdown else "''"
    start = p(rng.start.strftime("%Y-%m-%d %H:%M:%S"))
    stop = p(rng.end.strftime("%Y-%m-%d %H:%M:%S"))
    days = p(list(range(1, LTV_DAYS + 1)), "Array(Int64)")
    sql = f"""
    SELECT bd, toString({bucket_sql(scope.interval, tz, scope.week_start, "first_seen")}) AS cohort, count(),
           sumForEach(arrayMap(n -> arraySum(arrayMap((d, r) -> if(d < n, r, 0), days, amounts)), {days})),
           sumForEach(arrayMap(n -> toUInt64(arrayExists((d, r) -> d < n AND r > 0, days, amounts)), {days}))
    FROM (
        SELECT pid, minIf(timestamp, a) AS first_seen, argMinIf({group}, timestamp, a) AS bd,
               groupArrayIf(toDate(timestamp, {tz}), rev IS NOT NULL) AS dates,
               groupArrayIf(assumeNotNull(rev), rev IS NOT NULL) AS amounts,
               arrayMap(x -> dateDiff('day', toDate(first_seen, {tz}), x), dates) AS days
        FROM (SELECT *, {analytics} AS a, {REVENUE_SQL} AS rev FROM {source_sql(p, scope.project_id, where)})
        GROUP BY pid
        HAVING countIf(a) > 0 AND first_seen >= toDateTime64({start}, 3, {tz})
               AND first_seen < toDateTime64({stop}, 3, {tz})
    )
    GROUP BY bd, cohort"""
    rows = engine.query(sql, p.values)
    groups: dict[str, dict[dt.datetime, LtvCohort]] = {}
    for bd, bucket, users, revenue, paying in rows:
        table = groups.setdefault(bd, {b: LtvCohort(b) for b in cohorts})
        cohort = table.get(parse_bucket(bucket))
        if cohort is not None:
            cohort.users, cohort.revenue, cohort.paying = int(users), [float(r) for r in revenue], list(paying)
    if not groups:
        groups[""] = {b: LtvCohort(b) for b in cohorts}
    return {bd: list(table.values()) for bd, table in groups.items()}
