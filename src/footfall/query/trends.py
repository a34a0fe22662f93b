"""Trends (Amplitude's event segmentation, PostHog's TrendsQuery): a metric per time bucket and breakdown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.formula import FormulaError, Ref, evaluate, parse, refs
from footfall.query.spec import (
    OTHER,
    EventSelector,
    FilterGroup,
    Math,
    Op,
    PropertyFilter,
    QueryError,
    Series,
    SeriesResult,
    TrendsCell,
    TrendsQuery,
    TrendsResult,
)
from footfall.query.sql import Params, and_all
from footfall.query.timerange import advance, align, bucket_index_sql, bucket_sql, buckets, parse_bucket, window_sql

_PROPERTY_MATH = {
    Math.SUM: "sum({x})",
    Math.AVG: "avg({x})",
    Math.MIN: "min({x})",
    Math.MAX: "max({x})",
    Math.MEDIAN: "quantileExactInclusive(0.5)({x})",  # interpolated, as PostHog's median()
    Math.P90: "quantileExactInclusive(0.9)({x})",
    Math.P95: "quantileExactInclusive(0.95)({x})",
    Math.P99: "quantileExactInclusive(0.99)({x})",
}


class TrendsError(QueryError):
    pass


def aggregate_sql(series: Series, p: Params) -> str:
    if series.math is Math.TOTAL:
        return "toFloat64(count())"
    if series.math is Math.UNIQUES:
        return "toFloat64(uniqExact(pid))"
    if series.math is Math.UNIQUE_SESSIONS:
        return "toFloat64(uniqExactIf(session, session != ''))"
    if series.math is Math.PER_USER:
        return "count() / greatest(uniqExact(pid), 1)"
    if series.math_property is None:
        raise TrendsError(f"math {series.math} needs a property")
    number = f"toFloat64OrNull({value_sql(series.math_property, p)})"
    return f"ifNull(toFloat64({_PROPERTY_MATH[series.math].format(x=number)}), 0)"


def run_trends(engine: Engine, query: TrendsQuery) -> TrendsResult:
    scope = query.scope
    if len(query.breakdowns) > 2:
        raise TrendsError("at most two breakdowns")
    x = buckets(scope.date_range, scope.interval, scope.week_start)
    result = TrendsResult(x)
    for index, series in enumerate(query.series):
        result.series.extend(_series(engine, query, index, series, x))
    return result


def _rolling(values: list[float], n: int, mean: bool) -> list[float]:
    out = []
    for i in range(len(values)):
        part = values[max(0, i - n + 1) : i + 1]
        out.append(sum(part) / len(part) if mean else sum(part))
    return out


def _series(engine: Engine, query: TrendsQuery, index: int, series: Series, x: list[Any]) -> list[SeriesResult]:
    if series.window < 1 or series.average_over < 1 or series.window > 366 or series.average_over > 366:
        raise TrendsError("rolling windows are 1 to 366 intervals")
    if series.window > 1 and series.math is Math.UNIQUES:
        results = _rolling_uniques(engine, query, index, series, x)
    else:
        results = _bucketed(engine, query, index, series, x)
        if series.window > 1:
            for item in results:
                item.values = _rolling(item.values, series.window, mean=False)
    if series.average_over > 1:
        for item in results:
            item.values = _rolling(item.values, series.average_over, mean=True)
    if not query.breakdowns:
        return results
    kept = results[: query.breakdown_limit]
    if query.fold_other and len(results) > len(kept):
        kept.append(_other(engine, query, index, series, x, [item.breakdown for item in kept]))
    return kept


def _other(
    engine: Engine, query: TrendsQuery, index: int, series: Series, x: list[Any], kept: list[tuple[str, ...]]
) -> SeriesResult:
    """The series over every event whose breakdown values are none of the kept ones: measured again rather
    than summed, so uniques and property math stay exact."""
    refs = query.breakdowns
    if len(refs) == 1:
        rest: PropertyFilter | FilterGroup = PropertyFilter(refs[0], Op.NEQ, tuple(key[0] for key in kept))
    else:
        rest = FilterGroup(
            False,
            tuple(
                FilterGroup(True, tuple(PropertyFilter(ref, Op.NEQ, (v,)) for ref, v in zip(refs, key, strict=True)))
                for key in kept
            ),
        )
    scope = replace(query.scope, filters=(*query.scope.filters, rest))
    [other] = _series(engine, replace(query, scope=scope, breakdowns=()), index, series, x)
    other.breakdown = (OTHER,) * len(refs)
    return other


def _collect(
    rows: list[list[Any]], index: int, groups: int, x: list[Any], slot_of: Callable[[Any], int | None]
) -> list[SeriesResult]:
    """Rows of (bucket, group values…, value, is_total) into series ranked by total, zeros where nothing
    happened."""
    per_group: dict[tuple[str, ...], SeriesResult] = {}
    for row in rows:
        key = tuple(row[1 : 1 + groups])
        out = per_group.setdefault(key, SeriesResult(index, key, [0.0] * len(x), 0.0))
        if row[-1]:
            out.total = float(row[-2])
        elif (slot := slot_of(row[0])) is not None:
            out.values[slot] = float(row[-2])
    if not groups and not per_group:  # nothing happened: still one series, all zeros
        per_group[()] = SeriesResult(index, (), [0.0] * len(x), 0.0)
    return sorted(per_group.values(), key=lambda s: (-s.total, s.breakdown))


def _rolling_uniques(
    engine: Engine, query: TrendsQuery, index: int, series: Series, x: list[Any]
) -> list[SeriesResult]:
    """Persons active in the `window` intervals ending at each bucket: each person's active intervals are
    spread forward over the buckets whose window contains them, so a person counts once per bucket (a plain
    count, no distinct set per bucket). The row with target -1 counts the persons of the whole range."""
    scope, rng = query.scope, query.scope.date_range
    origin = align(rng.start, scope.interval, scope.week_start)
    first = advance(origin, scope.interval, -(series.window - 1))
    p = Params()
    tz = p(rng.timezone)
    window = (
        f"timestamp >= toDateTime64({p(first.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz}) AND "
        f"timestamp < toDateTime64({p(rng.end.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})"
    )
    where = and_all([window, selector_sql(series.selector, p), filters_sql(scope.filters, p)])
    groups = [f"{value_sql(ref, p)} AS g{i}" for i, ref in enumerate(query.breakdowns)]
    names = [f"g{i}" for i in range(len(groups))]
    spread = f"arrayDistinct(arrayFlatten(arrayMap(i -> range(i, i + {series.window}), groupUniqArray(i))))"
    sql = f"""
        SELECT target, {"".join(g + ", " for g in names)} toFloat64(count()) AS v, target = -1 AS t
        FROM (
            SELECT {"".join(g + ", " for g in names)} arrayFilter(t -> t >= 0 AND t < {len(x)}, {spread}) AS targets
            FROM (SELECT pid, {bucket_index_sql(scope.interval, tz, origin, p)} AS i{"".join(", " + g for g in groups)}
                  FROM {source_sql(p, scope.project_id, where)})
            GROUP BY pid{"".join(", " + g for g in names)}
            HAVING notEmpty(targets)
        )
        ARRAY JOIN arrayPushBack(targets, -1) AS target
        GROUP BY target{"".join(", " + g for g in names)}"""
    return _collect(engine.query(sql, p.values), index, len(groups), x, lambda i: int(i))


def _bucketed(engine: Engine, query: TrendsQuery, index: int, series: Series, x: list[Any]) -> list[SeriesResult]:
    scope = query.scope
    p = Params()
    tz = p(scope.date_range.timezone)
    where = and_all([window_sql(scope, p), selector_sql(series.selector, p), filters_sql(scope.filters, p)])
    groups = [f"{value_sql(ref, p)} AS g{i}" for i, ref in enumerate(query.breakdowns)]
    group_names = [f"g{i}" for i in range(len(groups))]
    sets = f"(b{''.join(', ' + g for g in group_names)}), ({', '.join(group_names)})"
    sql = f"""
        SELECT {bucket_sql(scope.interval, tz, scope.week_start)} AS b, {"".join(g + ", " for g in groups)}
               {aggregate_sql(series, p)} AS v, grouping(b) AS is_total
        FROM {source_sql(p, scope.project_id, where)}
        GROUP BY GROUPING SETS ({sets})"""
    position = {bucket: i for i, bucket in enumerate(x)}
    rows = engine.query(sql, p.values)
    return _collect(rows, index, len(groups), x, lambda b: position.get(parse_bucket(b)))


def trends_actors_sql(cell: TrendsCell, p: Params) -> str:
    """The persons counted in one number of `run_trends` (a series in a bucket for a breakdown value), with
    how many of their events it read: rows of `pid`, `event_count`. A bucket reads the same events as its
    value: with a rolling window, the `window` intervals ending at it."""
    query = cell.query
    if not 0 <= cell.series_index < len(query.series):
        raise TrendsError(f"series {cell.series_index} does not exist")
    series = query.series[cell.series_index]
    if series.average_over > 1:
        raise TrendsError("the persons of a rolling average are not supported")
    scope = query.scope
    if cell.bucket is not None:
        rng = scope.date_range
        bucket = align(cell.bucket, scope.interval, scope.week_start)
        start = advance(bucket, scope.interval, 1 - series.window)
        if not (series.window > 1 and series.math is Math.UNIQUES):  # only rolling uniques read before the range
            start = max(start, rng.start)
        scope = replace(scope, date_range=replace(rng, start=start, end=min(advance(bucket, scope.interval), rng.end)))
    conditions = [window_sql(scope, p), selector_sql(series.selector, p), filters_sql(scope.filters, p)]
    if cell.breakdown is not None:
        if len(cell.breakdown) != len(query.breakdowns):
            raise TrendsError(f"a breakdown value needs {len(query.breakdowns)} parts, got {len(cell.breakdown)}")
        refs = zip(query.breakdowns, cell.breakdown, strict=True)
        conditions += [f"{value_sql(ref, p)} = {p(value)}" for ref, value in refs]
    source = source_sql(p, scope.project_id, and_all(conditions))
    return f"SELECT pid, count() AS event_count FROM {source} GROUP BY pid"


def run_formula(engine: Engine, query: TrendsQuery, formula: str, operand: Callable[[Ref], Series]) -> TrendsResult:
    """A formula over series: each operand (e.g. UNIQUES(A)) becomes a series; the formula is applied per
    bucket and to the whole-range totals, for every breakdown value any operand has."""
    tree = parse(formula)
    operands = refs(tree)
    if not operands:
        raise FormulaError("a formula needs at least one series")
    series = tuple(operand(ref) for ref in operands)
    # Folding into Other happens per operand (as PostHog does); otherwise every value is kept until the end.
    inner_limit = query.breakdown_limit if query.fold_other else 10**9
    result = run_trends(engine, replace(query, series=series, breakdown_limit=inner_limit))
    n = len(result.buckets)
    by_key: dict[tuple[str, ...], dict[int, SeriesResult]] = {}
    for item in result.series:
        by_key.setdefault(item.breakdown, {})[item.series_index] = item
    out = []
    for key, items in by_key.items():
        zero = SeriesResult(0, key, [0.0] * n, 0.0)

        def values(ref: Ref, items: dict[int, SeriesResult] = items, zero: SeriesResult = zero) -> list[float]:
            return items.get(operands.index(ref), zero).values

        def totals(ref: Ref, items: dict[int, SeriesResult] = items, zero: SeriesResult = zero) -> list[float]:
            return [items.get(operands.index(ref), zero).total]

        out.append(SeriesResult(0, key, evaluate(tree, values, n), evaluate(tree, totals, 1)[0]))
    if not out:
        out.append(SeriesResult(0, (), [0.0] * n, 0.0))
    out.sort(key=lambda s: (s.breakdown[:1] == (OTHER,), -s.total, s.breakdown))
    return TrendsResult(result.buckets, out if query.fold_other else out[: query.breakdown_limit])


def run_share_of_active(engine: Engine, query: TrendsQuery) -> TrendsResult:
    """Amplitude's pct_dau: a series' uniques as a percentage of all active users in the same bucket."""
    active = Series(EventSelector(None), Math.UNIQUES)
    return run_formula(
        engine,
        query,
        "UNIQUES(A) / UNIQUES(B) * 100",
        lambda ref: replace(query.series[0], math=Math.UNIQUES) if ref.name == "A" else active,
    )
