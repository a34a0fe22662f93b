"""Stickiness (PostHog): how many persons did the event in exactly 1, 2, … of the range's intervals."""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql
from footfall.query.spec import StickinessQuery, StickinessResult
from footfall.query.sql import Params, and_all
from footfall.query.timerange import align, bucket_index_sql, buckets, window_sql


def run_stickiness(engine: Engine, query: StickinessQuery) -> StickinessResult:
    scope, rng = query.scope, query.scope.date_range
    n = len(buckets(rng, scope.interval, scope.week_start))
    origin = align(rng.start, scope.interval, scope.week_start)
    counts = []
    for series in query.series:
        p = Params()
        tz = p(rng.timezone)
        where = and_all([window_sql(scope, p), selector_sql(series.selector, p), filters_sql(scope.filters, p)])
        sql = f"""
        SELECT active, count() FROM (
            SELECT pid, uniqExact({bucket_index_sql(scope.interval, tz, origin, p)}) AS active
            FROM {source_sql(p, scope.project_id, where)} GROUP BY pid
        ) GROUP BY active"""
        row = [0] * n
        for active, persons in engine.query(sql, p.values):
            if 1 <= int(active) <= n:
                row[int(active) - 1] = int(persons)
        counts.append(row)
    return StickinessResult(n, counts)
