"""Lifecycle (PostHog): each active person in each interval is new, returning or resurrecting; people who
were active and stop are dormant in the next interval.

A person's activity is the sorted list of interval numbers with the event. Paired with the interval before
each one (the person's creation interval before the first): equal → new; exactly one earlier → returning;
else resurrecting. An active interval not followed by activity in the next one adds a dormant person
there. The window reads one interval either side of the range so the edges are classified correctly.
"""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql
from footfall.query.persons import ZERO_UUID, current_persons
from footfall.query.spec import LifecycleCell, LifecycleQuery, LifecycleResult, LifecycleStatus
from footfall.query.sql import Params, and_all
from footfall.query.timerange import advance, align, bucket_index_sql, buckets


def run_lifecycle(engine: Engine, query: LifecycleQuery) -> LifecycleResult:
    x = buckets(query.scope.date_range, query.scope.interval, query.scope.week_start)
    p = Params()
    sql = f"""
    SELECT i, status, count() AS persons FROM ({_statuses_sql(query, p)})
    WHERE i >= 0 AND i < {len(x)}
    GROUP BY i, status"""
    series = {status: [0] * len(x) for status in LifecycleStatus}
    for i, status, persons in engine.query(sql, p.values):
        series[status][int(i)] = -int(persons) if status == "dormant" else int(persons)
    return LifecycleResult(x, series["new"], series["returning"], series["resurrecting"], series["dormant"])


def lifecycle_actors_sql(cell: LifecycleCell, p: Params) -> str:
    """The persons with one status in one interval (a number of `run_lifecycle`): rows of `pid`."""
    scope = cell.query.scope
    x = buckets(scope.date_range, scope.interval, scope.week_start)
    bucket = align(cell.bucket, scope.interval, scope.week_start)
    index = x.index(bucket) if bucket in x else -1
    return f"""SELECT pid FROM ({_statuses_sql(cell.query, p)})
        WHERE i = {p(index, "Int64")} AND status = {p(cell.status.value)}"""


def _statuses_sql(query: LifecycleQuery, p: Params) -> str:
    """Rows of (`pid`, interval number `i` from the range's first, `status`) for every status a person has."""
    scope, rng = query.scope, query.scope.date_range
    x = buckets(rng, scope.interval, scope.week_start)
    origin = align(rng.start, scope.interval, scope.week_start)
    tz = p(rng.timezone)
    first = advance(origin, scope.interval, -1)
    last = advance(origin, scope.interval, len(x) + 1)
    window = (
        f"timestamp >= toDateTime64({p(first.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz}) AND "
        f"timestamp < toDateTime64({p(last.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    )
    where = and_all([window, selector_sql(query.selector, p), filters_sql(scope.filters, p)])
    index = bucket_index_sql(scope.interval, tz, origin, p)
    created = bucket_index_sql(scope.interval, tz, origin, p, column="c.created_at")
    return f"""
    SELECT pid, status_at.1 AS i, status_at.2 AS status
    FROM (
        SELECT a.pid AS pid, a.acts, if(c.id = toUUID('{ZERO_UUID}'), -1000000, {created}) AS born
        FROM (SELECT pid, arraySort(groupUniqArray({index})) AS acts
              FROM {source_sql(p, scope.project_id, where)} GROUP BY pid) AS a
        LEFT ANY JOIN {current_persons(p(scope.project_id, "UInt32"))} AS c
            ON c.id = a.pid
    )
    ARRAY JOIN arrayConcat(
        arrayMap((cur, prev) -> (cur, if(prev = cur, 'new', if(prev = cur - 1, 'returning', 'resurrecting'))),
                 acts, arrayPopBack(arrayPushFront(acts, born))),
        arrayMap(cur -> (cur + 1, 'dormant'),
                 arrayFilter((cur, next) -> next != cur + 1, acts, arrayPopFront(arrayPushBack(acts, -1000000))))
    ) AS status_at"""
