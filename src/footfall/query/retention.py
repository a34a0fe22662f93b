"""Retention: of the persons who did the start event in an interval, how many came back k intervals later.

Intervals are numbered in the project's calendar from the range's first bucket, so DST and month lengths
never shift a cohort. Each result column is an offset range [lo, hi]: n-day columns are [k, k], rolling ones
[k, ∞), brackets as given; column 0 of the SQL is the cohort itself (its size).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.spec import (
    CohortBy,
    Interval,
    QueryError,
    RetentionCell,
    RetentionCohort,
    RetentionMode,
    RetentionQuery,
    RetentionResult,
)
from footfall.query.sql import Params, and_all
from footfall.query.timerange import advance, align, bucket_index_sql, buckets

UNBOUNDED = 1 << 30


class RetentionError(QueryError):
    pass


def columns_of(query: RetentionQuery) -> list[tuple[int, int]]:
    if query.mode is RetentionMode.BRACKET:
        if not query.brackets or any(lo > hi or lo < 0 for lo, hi in query.brackets):
            raise RetentionError("brackets are [low, high] interval ranges with 0 <= low <= high")
        return list(query.brackets)
    if not 0 <= query.periods <= 1000:
        raise RetentionError("periods must be between 0 and 1000")
    if query.mode is RetentionMode.ROLLING:
        return [(k, UNBOUNDED) for k in range(query.periods + 1)]
    return [(k, k) for k in range(query.periods + 1)]


def run_retention(engine: Engine, query: RetentionQuery, now: dt.datetime | None = None) -> RetentionResult:
    scope, rng = query.scope, query.scope.date_range
    columns = columns_of(query)
    p = Params()
    # Recurring cohorts count a person in several cohorts, so the combined row needs its own grouping set
    # (each person once); otherwise a person is in one cohort at most and `_shape` sums the cohorts' rows,
    # which spares a second aggregation over every person.
    every = query.cohort_by is CohortBy.EVERY
    sql = f"""
    SELECT bd, cohort, col, {"grouping(cohort)" if every else "0"} AS combined,
           {"uniqExact(pid)" if every else "count()"} AS persons
    FROM (SELECT pid, bd, cohort, arrayJoin(cols) AS col FROM ({_cohort_members_sql(query, columns, p)}))
    GROUP BY {"GROUPING SETS ((bd, cohort, col), (bd, col))" if every else "bd, cohort, col"}"""
    rows = engine.query(sql, p.values)
    cohorts = buckets(rng, scope.interval, scope.week_start)
    return _shape(rows, cohorts, columns, scope.interval, now or dt.datetime.now(dt.UTC), rng.timezone, not every)


def retention_actors_sql(cell: RetentionCell, p: Params) -> str:
    """The persons of one cohort (a row of `run_retention`): rows of `pid` and `appearances`, the result
    columns they count in (0: the cohort itself, k: the k-th column of counts)."""
    members = _cohort_members_sql(cell.query, columns_of(cell.query), p)
    return f"""SELECT pid, cols AS appearances FROM ({members})
        WHERE cohort = {p(cell.cohort, "Int64")} AND bd = {p(cell.breakdown)}"""


def _cohort_members_sql(query: RetentionQuery, columns: list[tuple[int, int]], p: Params) -> str:
    """Rows of (`pid`, breakdown value `bd`, `cohort` row, `cols`: the result columns the person counts in)."""
    scope, rng = query.scope, query.scope.date_range
    n_cohorts = len(buckets(rng, scope.interval, scope.week_start))
    origin = align(rng.start, scope.interval, scope.week_start)
    tz = p(rng.timezone)
    index = bucket_index_sql(scope.interval, tz, origin, p)
    start_cond, return_cond = selector_sql(query.start, p), selector_sql(query.returning, p)
    conditions = [f"({start_cond}) OR ({return_cond})", filters_sql(scope.filters, p)]
    if all(hi < UNBOUNDED for _, hi in columns):  # returns later than the last column cannot count
        last = advance(origin, scope.interval, n_cohorts + max(hi for _, hi in columns))
        conditions.append(f"timestamp < toDateTime64({p(last.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})")
    if query.cohort_by is not CohortBy.FIRST_EVER:  # first-ever needs the start events before the range too
        conditions.append(f"timestamp >= toDateTime64({p(origin.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})")
    in_range = f"i >= 0 AND i < {n_cohorts}"
    # The same event starting and returning (the usual question) makes every event read both: plain
    # aggregates then, without per-event flags.
    same = query.start == query.returning
    flags = "" if same else f", toUInt8({start_cond}) AS s, toUInt8({return_cond}) AS r"
    is_start = "1" if same else "s"
    if query.cohort_by is CohortBy.EVERY:
        cohort_sql, pick = f"groupUniqArrayIf(i, {is_start} AND {in_range}) AS cohorts", "ARRAY JOIN cohorts AS cohort"
    else:  # the first start read (ever, or from the range's start on), kept when it falls in the range
        cohort_sql = f"{'min(i)' if same else f'min(if(s, i, {n_cohorts}))'} AS cohort"
        pick = f"WHERE cohort >= 0 AND cohort < {n_cohorts}"
    returns = "groupUniqArray(i)" if same else "groupUniqArrayIf(i, r)"
    breakdown = f"argMinIf({value_sql(query.breakdown, p)}, timestamp, {is_start})" if query.breakdown else "''"
    return f"""
        SELECT pid, bd, cohort, arrayConcat([0], {_columns_sql(query, columns, p)}) AS cols
        FROM (
            SELECT pid, {cohort_sql}, {returns} AS returns, {breakdown} AS bd
            FROM (SELECT *, {index} AS i{flags} FROM {source_sql(p, scope.project_id, and_all(conditions))})
            GROUP BY pid
        )
        {pick}"""


def _columns_sql(query: RetentionQuery, columns: list[tuple[int, int]], p: Params) -> str:
    """The 1-based result columns a person-cohort counts in, from its return intervals `returns`.

    n-day and rolling columns follow from the return offsets directly (one pass over the returns);
    brackets test each bracket."""
    offsets = "arrayMap(r -> r - cohort, arrayFilter(r -> r >= cohort, returns))"
    last = len(columns) - 1
    if query.mode is RetentionMode.N_DAY:
        return f"arrayMap(k -> k + 1, arrayFilter(k -> k <= {last}, {offsets}))"
    if query.mode is RetentionMode.ROLLING:
        return f"range(1, least(arrayMax(arrayPushBack({offsets}, -1)), {last}) + 2)"
    los = p([lo for lo, _ in columns], "Array(Int64)")
    his = p([hi for _, hi in columns], "Array(Int64)")
    return (
        f"arrayFilter(x -> x > 0, arrayMap((lo, hi, n) -> if(arrayExists(r -> r - cohort >= lo AND "
        f"r - cohort <= hi, returns), n, 0), {los}, {his}, arrayEnumerate({los})))"
    )


def _shape(
    rows: list[list[Any]],
    cohorts: list[dt.datetime],
    columns: list[tuple[int, int]],
    interval: Interval,
    now: dt.datetime,
    timezone: str,
    sum_combined: bool,
) -> RetentionResult:
    """`sum_combined`: the combined row is the sum of the cohorts' rows (rows flagged combined otherwise)."""
    local_now = now.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)
    groups: dict[str, list[RetentionCohort]] = {}
    combined: dict[str, tuple[int, list[int]]] = {}
    for bd, cohort, col, is_combined, persons in rows:
        if is_combined or sum_combined:
            size, counts = combined.get(bd, (0, [0] * len(columns)))
            if col == 0:
                size += int(persons)
            else:
                counts[col - 1] += int(persons)
            combined[bd] = (size, counts)
        if is_combined:
            continue
        table = groups.setdefault(
            bd,
            [
                RetentionCohort(
                    b, 0, [0] * len(columns), [advance(b, interval, lo + 1) > local_now for lo, _ in columns]
                )
                for b in cohorts
            ],
        )
        if col == 0:
            table[cohort].size = int(persons)
        else:
            table[cohort].counts[col - 1] = int(persons)
    if not groups:
        groups[""] = [
            RetentionCohort(b, 0, [0] * len(columns), [advance(b, interval, lo + 1) > local_now for lo, _ in columns])
            for b in cohorts
        ]
        combined[""] = (0, [0] * len(columns))
    return RetentionResult(columns, groups, combined)
