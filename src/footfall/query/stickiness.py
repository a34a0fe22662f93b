"""Stickiness (PostHog): how many persons did the event in exactly 1, 2, … of the range's intervals."""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql
from footfall.query.spec import QueryError, Series, StickinessCell, StickinessQuery, StickinessResult
from footfall.query.sql import Params, and_all
from footfall.query.timerange import align, bucket_index_sql, buckets, window_sql


def run_stickiness(engine: Engine, query: StickinessQuery) -> StickinessResult:
    scope = query.scope
    n = len(buckets(scope.date_range, scope.interval, scope.week_start))
    counts = []
    for series in query.series:
        p = Params()
        sql = f"SELECT active, count() FROM ({_active_sql(query, series, p)}) GROUP BY active"
        row = [0] * n
        for active, persons in engine.query(sql, p.values):
            if 1 <= int(active) <= n:
                row[int(active) - 1] = int(persons)
        counts.append(row)
    return StickinessResult(n, counts)


def stickiness_actors_sql(cell: StickinessCell, p: Params) -> str:
    """The persons active in exactly `intervals` intervals (a number of `run_stickiness`): rows of `pid` and
    `event_count`, their events of the series in the range."""
    if not 0 <= cell.series_index < len(cell.query.series):
        raise QueryError(f"series {cell.series_index} does not exist")
    if cell.intervals < 1:
        raise QueryError("persons are active in 1 or more intervals")
    active = _active_sql(cell.query, cell.query.series[cell.series_index], p)
    return f"SELECT pid, event_count FROM ({active}) WHERE active = {p(cell.intervals, 'UInt64')}"


def _active_sql(query: StickinessQuery, series: Series, p: Params) -> str:
    """Rows of (`pid`, `active`: in how many intervals of the range they did the series' event, `event_count`)."""
    scope, rng = query.scope, query.scope.date_range
    origin = align(rng.start, scope.interval, scope.week_start)
    tz = p(rng.timezone)
    where = and_all([window_sql(scope, p), selector_sql(series.selector, p), filters_sql(scope.filters, p)])
    return f"""
        SELECT pid, uniqExact({bucket_index_sql(scope.interval, tz, origin, p)}) AS active, count() AS event_count
        FROM {source_sql(p, scope.project_id, where)} GROUP BY pid"""
