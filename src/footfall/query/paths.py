"""Paths (PostHog): the most travelled step-to-step transitions between pages, screens or events.

Per person: items in time order, split into separate paths after 30 idle minutes, consecutive repeats
collapsed, excluded items dropped. A start point cuts each path to begin at its first occurrence; an end
point cuts it to end at its first occurrence, keeping the steps leading to it. Up to `step_limit` steps
remain, and each transition k → k+1 becomes the edge `k_item → (k+1)_item`.
"""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, value_sql
from footfall.query.spec import PathEdge, PathItem, PathsQuery, PropertyRef, QueryError, Source
from footfall.query.sql import Params, and_all
from footfall.query.timerange import window_sql


class PathsError(QueryError):
    pass


def _item_sql(include: tuple[PathItem, ...], p: Params) -> tuple[str, str]:
    """(the item name of an event, the condition selecting the events that are items)."""
    names, conditions = [], []
    if PathItem.PAGEVIEW in include:
        names.append(f"event = '$pageview', {value_sql(PropertyRef(Source.EVENT, '$current_url'), p)}")
        conditions.append("event = '$pageview'")
    if PathItem.SCREEN in include:
        names.append(f"event = '$screen', {value_sql(PropertyRef(Source.EVENT, '$screen_name'), p)}")
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
    # Only the cuts asked for are computed (each copies every walk once more). A start or end point that
    # a walk lacks leaves it empty: index 0 slices nothing.
    cut, first = "walk", "1"
    if query.end_point:
        cut = f"arraySlice(walk, 1, indexOf(arrayMap(e -> e.2, walk), {p(query.end_point)}))"
    if query.start_point:
        first = f"indexOf(arrayMap(e -> e.2, cut), {p(query.start_point)})"
    elif query.end_point:
        first = "greatest(1, toInt64(length(cut)) - {steps:UInt32} + 1)"
    # Edges are counted by (step, item, next item) and named after: the names are built once per edge.
    # Lambdas take neighbours as shifted arrays: one that indexes a captured array copies it per element.
    # Items are never '', so '' stands for "no previous item". Two groupArrays (which see rows in the same
    # order) zipped cost less than one of tuples.
    sql = f"""
    SELECT concat(toString(k), '_', here) AS source, concat(toString(k + 1), '_', next) AS target, value, avg_ms
    FROM (
        SELECT k, path[k] AS here, path[k + 1] AS next, count() AS value, avg(times[k + 1] - times[k]) AS avg_ms
        FROM (
            SELECT {cut} AS cut, arraySlice(cut, {first}, {{steps:UInt32}}) AS kept,
                   arrayMap(e -> e.2, kept) AS path, arrayMap(e -> e.1, kept) AS times
            FROM (
                SELECT arrayFilter((e, previous) -> e.2 != previous, walk_all,
                                   arrayPushFront(arrayPopBack(arrayMap(e -> e.2, walk_all)), '')) AS walk
                FROM (
                    SELECT arrayJoin(arraySplit((e, gap) -> gap > {{gap:Int64}},
                                                sorted, arrayDifference(arrayMap(e -> e.1, sorted)))) AS walk_all
                    FROM (
                        SELECT arraySort(e -> e.1, arrayZip(groupArray(ms), groupArray(item))) AS sorted
                        FROM (SELECT pid, toUnixTimestamp64Milli(timestamp) AS ms, {name} AS item
                              FROM {source_sql(p, scope.project_id, where)})
                        WHERE item != '' AND NOT has({excluded}, item)
                        GROUP BY pid
                    )
                )
            )
        )
        ARRAY JOIN arrayEnumerate(path) AS k
        WHERE k < length(path)
        GROUP BY k, here, next
        HAVING value >= {p(query.min_edge_weight, "UInt64")}
    )
    ORDER BY value DESC, source, target
    LIMIT {p(query.edge_limit, "UInt32")}"""
    return [PathEdge(src, dst, int(value), float(avg)) for src, dst, value, avg in engine.query(sql, p.values)]
