"""Paths (PostHog): the most travelled step-to-step transitions between pages, screens or events.

Per person: items in time order, split into separate paths after 30 idle minutes, consecutive repeats
collapsed, excluded items dropped. A start point cuts each path to begin at its first occurrence; an end
point cuts it to end at its first occurrence, keeping the steps leading to it. Up to `step_limit` steps
remain, and each transition k → k+1 becomes the edge `k_item → (k+1)_item`.
"""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql
from footfall.query.spec import PathEdge, PathItem, PathsQuery, QueryError
from footfall.query.sql import Params, and_all
from footfall.query.timerange import window_sql


class PathsError(QueryError):
    pass


def _item_sql(include: tuple[PathItem, ...], p: Params) -> tuple[str, str]:
    """(the item name of an event, the condition selecting the events that are items)."""
    names, conditions = [], []
    if PathItem.PAGEVIEW in include:
        names.append("event = '$pageview', JSONExtractString(properties, '$current_url')")
        conditions.append("event = '$pageview'")
    if PathItem.SCREEN in include:
        names.append("event = '$screen', JSONExtractString(properties, '$screen_name')")
        conditions.append("event = '$screen'")
    if PathItem.CUSTOM in include:
        conditions.append("NOT startsWith(event, '$')")
    if not conditions:
        raise PathsError("paths need at least one kind of item")
    name = f"multiIf({', '.join(names)}, event)" if names else "event"
    return name, " OR ".join(conditions)


def run_paths(engine: Engine, query: PathsQuery) -> list[PathEdge]:
    if not 2 <= query.step_limit <= 20:
        raise PathsError("step_limit must be between 2 and 20")
    if not 1 <= query.edge_limit <= 10_000:
        raise PathsError("edge_limit must be between 1 and 10000")
    scope = query.scope
    p = Params(gap=query.session_gap_ms, steps=query.step_limit)
    name, is_item = _item_sql(query.include, p)
    where = and_all([window_sql(scope, p), is_item, filters_sql(scope.filters, p)])
    excluded = p(list(query.exclude), "Array(String)")
    start = p(query.start_point or "")
    end = p(query.end_point or "")
    sql = f"""
    SELECT concat(toString(k), '_', path[k]) AS source, concat(toString(k + 1), '_', path[k + 1]) AS target,
           count() AS value, avg(times[k + 1] - times[k]) AS avg_ms
    FROM (
        SELECT arraySlice(items, first, {{steps:UInt32}}) AS path, arraySlice(ts, first, {{steps:UInt32}}) AS times
        FROM (
            SELECT arrayMap(e -> e.2, walk) AS all_items, arrayMap(e -> e.1, walk) AS all_ts,
                   toInt64(if({end} = '', length(all_items), indexOf(all_items, {end}))) AS stop,
                   arraySlice(all_items, 1, stop) AS cut_items, arraySlice(all_ts, 1, stop) AS cut_ts,
                   toInt64(multiIf({start} != '', toInt64(indexOf(cut_items, {start})),
                           {end} != '', greatest(1, toInt64(length(cut_items)) - {{steps:UInt32}} + 1),
                           toInt64(1))) AS first,
                   cut_items AS items, cut_ts AS ts
            FROM (
                SELECT arrayFilter((e, i) -> i = 1 OR e.2 != walk_all[i - 1].2,
                                   walk_all, arrayEnumerate(walk_all)) AS walk
                FROM (
                    SELECT arrayJoin(arraySplit((e, i) -> i > 1 AND e.1 - sorted[i - 1].1 > {{gap:Int64}},
                                                sorted, arrayEnumerate(sorted))) AS walk_all
                    FROM (
                        SELECT arraySort(e -> e.1, groupArray((toUnixTimestamp64Milli(timestamp), item))) AS sorted
                        FROM (SELECT pid, timestamp, {name} AS item FROM {source_sql(p, scope.project_id, where)})
                        WHERE item != '' AND NOT has({excluded}, item)
                        GROUP BY pid
                    )
                )
            )
        )
        WHERE stop > 0 AND first > 0
    )
    ARRAY JOIN arrayEnumerate(path) AS k
    WHERE k < length(path)
    GROUP BY source, target
    HAVING value >= {p(query.min_edge_weight, "UInt64")}
    ORDER BY value DESC, source, target
    LIMIT {p(query.edge_limit, "UInt32")}"""
    return [PathEdge(src, dst, int(value), float(avg)) for src, dst, value, avg in engine.query(sql, p.values)]
