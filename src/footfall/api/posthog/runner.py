"""Run a PostHog query (an InsightVizNode or a bare *Query) on the shared engine, with PostHog's caching.

Insights, dashboard tiles, `/query/`, exports and the web UI all call `run_query`, so a number is computed
the same way wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from footfall.api.posthog import results, translate
from footfall.api.posthog.translate import TranslationError
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.query.cache import Cached, ResultCache
from footfall.query.formula import Ref
from footfall.query.funnels import run_conversion_times, run_funnel
from footfall.query.lifecycle import run_lifecycle
from footfall.query.paths import run_paths
from footfall.query.retention import run_retention
from footfall.query.spec import DateRange, Interval, TrendsQuery
from footfall.query.stickiness import run_stickiness
from footfall.query.trends import run_formula, run_trends

INSIGHT_KINDS = ("TrendsQuery", "FunnelsQuery", "RetentionQuery", "LifecycleQuery", "StickinessQuery", "PathsQuery")
# `refresh` values that recompute even when a fresh result is cached; `force_cache` never computes.
RECOMPUTE = {"force_blocking", "force_async", True, "true"}


def unwrap(query: Any) -> dict[str, Any]:
    """The runnable query inside an InsightVizNode (or the query itself)."""
    if not isinstance(query, dict):
        raise TranslationError("query must be an object")
    if query.get("kind") in ("InsightVizNode", "DataVisualizationNode", "DataTableNode"):
        query = query.get("source") or {}
        if not isinstance(query, dict):
            raise TranslationError("source must be an object")
    if query.get("kind") not in INSIGHT_KINDS:
        raise TranslationError(f"unsupported query kind: {query.get('kind')}")
    return query


def previous_range(rng: DateRange) -> DateRange:
    """The range just before, as long (compareFilter's previous period)."""
    return DateRange(rng.start - (rng.end - rng.start), rng.start, rng.timezone)


def _trends(engine: Engine, query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None) -> list[Any]:
    spec = translate.trends(query, project, now)
    interval = spec.scope.interval
    options = query.get("trendsFilter") or {}
    formulas = translate.formulas(options)

    def operand(ref: Ref) -> Any:
        index = ord(ref.name) - ord("A") if len(ref.name) == 1 else -1
        if ref.function or not 0 <= index < len(spec.series):
            raise TranslationError(f"formula names series {ref.name}, which does not exist")
        return spec.series[index]

    def shaped(q: TrendsQuery, compare: str | None) -> list[Any]:
        """The series, or one result per formula (PostHog's `formulas` runs several side by side)."""
        if not formulas:
            return results.trends(run_trends(engine, q), query, interval, compare)
        each = (
            results.trends(run_formula(engine, q, f, operand), query, interval, compare, f, name)
            for f, name in formulas
        )
        return [row for rows in each for row in rows]

    if not (query.get("compareFilter") or {}).get("compare"):
        return shaped(spec, None)
    earlier = replace(spec, scope=replace(spec.scope, date_range=previous_range(spec.scope.date_range)))
    return shaped(spec, "current") + shaped(earlier, "previous")


def compute(engine: Engine, query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> Any:
    kind = query["kind"]
    if kind == "TrendsQuery":
        return _trends(engine, query, project, now)
    if kind == "FunnelsQuery":
        spec = translate.funnel(query, project, now)
        options = translate.section(query, "funnelsFilter")
        viz = options.get("funnelVizType") or "steps"
        if viz == "time_to_convert":
            first, last = translate.step_range(options, len(spec.steps))
            bins = options.get("binCount")
            bin_count = None if bins is None else translate.integer(bins, "binCount", 0)
            return results.conversion_times(run_conversion_times(engine, spec, first, last, bin_count))
        result = run_funnel(engine, spec)
        if viz == "trends":
            first, last = translate.step_range(options, len(spec.steps))
            return results.funnel_trends(result, spec.scope.interval, first, last, spec.breakdown is not None)
        return results.funnel(result, query)
    if kind == "RetentionQuery":
        spec = translate.retention(query, project, now)
        return results.retention(run_retention(engine, spec, now), spec.scope.interval)
    if kind == "LifecycleQuery":
        spec = translate.lifecycle(query, project, now)
        return results.lifecycle(run_lifecycle(engine, spec), query, spec.scope.interval)
    if kind == "StickinessQuery":
        spec = translate.stickiness(query, project, now)
        return results.stickiness(run_stickiness(engine, spec), query, spec.scope.interval)
    return results.paths(run_paths(engine, translate.paths(query, project, now)))


def with_dashboard_filters(query: Any, filters: dict[str, Any] | None) -> Any:
    """A tile's query under its dashboard's date range, which PostHog applies on top of each insight's own."""
    date_from = (filters or {}).get("date_from")
    if not date_from or not isinstance(query, dict):
        return query
    wrapped = query.get("kind") == "InsightVizNode" and isinstance(query.get("source"), dict)
    source = dict(query["source"] if wrapped else query)
    source["dateRange"] = {**(source.get("dateRange") or {}), "date_from": date_from, "date_to": filters.get("date_to")}
    return {**query, "source": source} if wrapped else source


def cache_key(project: ProjectInfo, query: dict[str, Any]) -> str:
    canonical = orjson.dumps(
        {"project": project.id, "tz": project.timezone, "query": query}, option=orjson.OPT_SORT_KEYS
    )
    return "cache_" + hashlib.sha256(canonical).hexdigest()[:32]


def run_query(
    engine: Engine,
    cache: ResultCache,
    project: ProjectInfo,
    query: Any,
    refresh: Any = "blocking",
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """PostHog's cached response envelope around the query's results."""
    runnable = unwrap(query)
    if not isinstance(refresh, str | bool | None):
        raise translate.TranslationError("refresh must be a string such as blocking or force_blocking")
    key = cache_key(project, runnable)
    moment = now or dt.datetime.now(dt.UTC)
    cached = cache.get(key)
    usable = cached is not None and (
        refresh == "force_cache" or (refresh not in RECOMPUTE and not cached.stale(moment))
    )
    if not usable and refresh == "force_cache":
        return _envelope(None, key, None, project, moment)
    if not usable:
        interval = translate.INTERVALS.get(str(runnable.get("interval") or "day"), Interval.DAY)
        value = compute(engine, runnable, project, now)
        cached = Cached(value, moment, interval, _range_end(runnable, project, interval, moment))
        cache.put(key, cached)
        return _envelope(value, key, cached, project, moment, is_cached=False)
    assert cached is not None
    return _envelope(cached.value, key, cached, project, moment, is_cached=True)


def _range_end(query: dict[str, Any], project: ProjectInfo, interval: Interval, now: dt.datetime) -> dt.datetime:
    """When the queried range ends, in UTC (a range that ended long ago is never stale)."""
    date_range = translate.section(query, "dateRange")
    if not date_range.get("date_to"):
        return now
    local_end = translate.range_end(date_range, project, interval, now)
    return local_end.replace(tzinfo=ZoneInfo(project.timezone)).astimezone(dt.UTC)


def _envelope(
    value: Any, key: str, cached: Cached | None, project: ProjectInfo, now: dt.datetime, is_cached: bool = False
) -> dict[str, Any]:
    last = cached.computed_at if cached else None
    return {
        "results": value,
        "is_cached": is_cached,
        "cache_key": key,
        "last_refresh": last.isoformat().replace("+00:00", "Z") if last else None,
        "next_allowed_client_refresh": (now + dt.timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
        "cache_target_age": None,
        "timezone": project.timezone,
        "query_status": None,
        "hasMore": False,
        "timings": [],
        "hogql": None,
        "error": None,
    }
