"""PostHog query JSON (TrendsQuery, FunnelsQuery, …) translated into footfall's query specs.

Only translation lives here; PostHog's semantics (what a funnel or lifecycle means) are in `footfall.query`.
Unsupported features raise `TranslationError` (a 400), never a silent wrong answer.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from calendar import monthrange
from collections.abc import Callable
from dataclasses import replace
from math import ceil
from typing import Any, ParamSpec, TypeVar

from footfall.meta.accounts import ProjectInfo
from footfall.query.spec import (
    CohortBy,
    DateRange,
    EventSelector,
    FilterGroup,
    FunnelExclusion,
    FunnelOrder,
    FunnelQuery,
    Interval,
    LifecycleQuery,
    Math,
    Op,
    PathItem,
    PathsQuery,
    PropertyFilter,
    PropertyRef,
    QueryError,
    RetentionMode,
    RetentionQuery,
    Scope,
    Series,
    Source,
    StickinessQuery,
    TrendsQuery,
)
from footfall.query.timerange import advance, align

P = ParamSpec("P")
R = TypeVar("R")


class TranslationError(QueryError):
    pass


def readable(fn: Callable[P, R]) -> Callable[P, R]:
    """Translation reads untrusted JSON: a value of the wrong type or out of range (a list where a name goes,
    `-99999y`) is the caller's error, a 400, never a 500."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except QueryError:
            raise
        except (TypeError, AttributeError, KeyError, ValueError, OverflowError) as exc:
            raise TranslationError(f"the query could not be read: {exc}") from exc

    return wrapper


INTERVALS = {
    "minute": Interval.MINUTE,
    "hour": Interval.HOUR,
    "day": Interval.DAY,
    "week": Interval.WEEK,
    "month": Interval.MONTH,
}
OPERATORS = {
    "exact": Op.EQ,
    "in": Op.EQ,
    "is_not": Op.NEQ,
    "not_in": Op.NEQ,
    "icontains": Op.CONTAINS,
    "not_icontains": Op.NOT_CONTAINS,
    "regex": Op.REGEX,
    "not_regex": Op.NOT_REGEX,
    "gt": Op.GT,
    "gte": Op.GTE,
    "lt": Op.LT,
    "lte": Op.LTE,
    "is_set": Op.IS_SET,
    "is_not_set": Op.IS_NOT_SET,
    "is_date_before": Op.DATE_BEFORE,
    "is_date_after": Op.DATE_AFTER,
}
MATHS = {
    None: Math.TOTAL,
    "total": Math.TOTAL,
    "dau": Math.UNIQUES,
    "unique_session": Math.UNIQUE_SESSIONS,
    "avg_count_per_actor": Math.PER_USER,
    "sum": Math.SUM,
    "avg": Math.AVG,
    "min": Math.MIN,
    "max": Math.MAX,
    "median": Math.MEDIAN,
    "p90": Math.P90,
    "p95": Math.P95,
    "p99": Math.P99,
}
_RELATIVE = re.compile(r"^-(\d+)([hdwmyq]|M)$")


def _local_now(timezone: str, now: dt.datetime | None) -> dt.datetime:
    moment = now or dt.datetime.now(dt.UTC)
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)


def _parse_point(value: str, now: dt.datetime, interval: Interval) -> dt.datetime:
    """A PostHog date: `-7d`, `-24h`, `-1w`, `-3m`, `-1y`, `dStart`, `mStart`, `yStart` or an ISO date."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value == "dStart":
        return today
    if value == "mStart":
        return today.replace(day=1)
    if value == "yStart":
        return today.replace(month=1, day=1)
    if match := _RELATIVE.match(value):
        n, unit = int(match.group(1)), match.group(2)
        if unit == "h":
            return (now - dt.timedelta(hours=n)).replace(minute=0, second=0, microsecond=0)
        if unit in ("m", "M", "q", "y"):
            months = today.year * 12 + today.month - 1 - n * {"m": 1, "M": 1, "q": 3, "y": 12}[unit]
            year, month = divmod(months, 12)
            return today.replace(year=year, month=month + 1, day=min(today.day, monthrange(year, month + 1)[1]))
        days = n * (7 if unit == "w" else 1)
        start = today - dt.timedelta(days=days)
        if interval in (Interval.HOUR, Interval.MINUTE):
            return (now - dt.timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        return start
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TranslationError(f"invalid date: {value}") from exc
    return (
        parsed.replace(tzinfo=None)
        if parsed.tzinfo is None
        else parsed.astimezone(zoneinfo.ZoneInfo("UTC")).replace(tzinfo=None)
    )


def section(query: dict[str, Any], name: str) -> dict[str, Any]:
    """An optional object of the query (`funnelsFilter`, `dateRange`, …); anything but an object is a 400."""
    value = query.get(name) or {}
    if not isinstance(value, dict):
        raise TranslationError(f"{name} must be an object")
    return value


@readable
def date_range(
    raw: Any,
    project: ProjectInfo,
    interval: Interval,
    default_from: str = "-7d",
    now: dt.datetime | None = None,
    first_event: dt.datetime | None = None,
) -> DateRange:
    raw = raw if isinstance(raw, dict) else {}
    local_now = _local_now(project.timezone, now)
    date_from = raw.get("date_from") or default_from
    if date_from == "all":
        start = first_event or local_now - dt.timedelta(days=365)
    else:
        start = _parse_point(str(date_from), local_now, interval)
    end = range_end(raw, project, interval, now)
    if end <= start:
        raise TranslationError("date_to must be after date_from")
    return DateRange(start, end, project.timezone)


@readable
def range_end(
    raw: dict[str, Any], project: ProjectInfo, interval: Interval, now: dt.datetime | None = None
) -> dt.datetime:
    """The exclusive local end of a dateRange (whatever its start)."""
    date_to = raw.get("date_to")
    local_now = _local_now(project.timezone, now)
    end = _parse_point(str(date_to), local_now, interval) if date_to else local_now
    if not raw.get("explicitDate") and interval in (Interval.DAY, Interval.WEEK, Interval.MONTH):
        # Whole days: a range "to" a day (or to now) includes all of that day.
        return end.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    if date_to and len(str(date_to)) == 10:
        return end + dt.timedelta(days=1)
    return end


@readable
def instant(value: str, project: ProjectInfo, now: dt.datetime | None = None) -> dt.datetime:
    """A PostHog moment (`-24h`, `-7d`, `dStart`, an ISO date or time) in UTC; times without an offset, and
    the relative ones, are in the project's time zone."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = _parse_point(value, _local_now(project.timezone, now), Interval.HOUR)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(project.timezone))
    return parsed.astimezone(dt.UTC)


def _values(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else ([] if value is None else [value])
    return tuple("true" if v is True else "false" if v is False else str(v) for v in items)


def property_filter(raw: Any) -> PropertyFilter | FilterGroup:
    if not isinstance(raw, dict):
        raise TranslationError("a property filter must be an object")
    if raw.get("type") in ("AND", "OR") and "values" in raw:
        return FilterGroup(raw["type"] == "OR", tuple(property_filter(v) for v in raw.get("values") or []))
    kind, key = raw.get("type", "event"), raw.get("key")
    if kind == "cohort":
        return PropertyFilter(
            PropertyRef(Source.COHORT, "id"),
            Op.NOT_IN_COHORT if raw.get("operator") == "not_in" else Op.IN_COHORT,
            _values(raw.get("value")),
        )
    if kind not in ("event", "person"):
        raise TranslationError(f"property filters of type {kind} are not supported")
    if not isinstance(key, str) or not key:
        raise TranslationError("a property filter needs a key")
    op = OPERATORS.get(raw.get("operator") or "exact")
    if op is None:
        raise TranslationError(f"unsupported operator: {raw.get('operator')}")
    source = Source.EVENT if kind == "event" else Source.PERSON
    return PropertyFilter(PropertyRef(source, key), op, _values(raw.get("value")))


@readable
def properties(raw: Any) -> tuple[PropertyFilter | FilterGroup, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        return (property_filter(raw),)
    if not isinstance(raw, list):
        raise TranslationError("properties must be a list or a property group")
    return tuple(property_filter(item) for item in raw)


def selector(node: Any) -> EventSelector:
    if not isinstance(node, dict):
        raise TranslationError("a series must be an object")
    if node.get("kind", "EventsNode") != "EventsNode":
        raise TranslationError(f"{node.get('kind')} series are not supported (use EventsNode)")
    event = node.get("event")
    if event is not None and not isinstance(event, str):
        raise TranslationError("event must be a string or null")
    return EventSelector(event, properties(node.get("properties")))


# Rolling-active math: persons active in the trailing N days at each point.
ACTIVE_DAYS = {"weekly_active": 7, "monthly_active": 30}
INTERVAL_HOURS = {Interval.MINUTE: 1 / 60, Interval.HOUR: 1, Interval.DAY: 24, Interval.WEEK: 168, Interval.MONTH: 720}


def series(node: dict[str, Any], interval: Interval = Interval.DAY) -> Series:
    if node.get("math") in ACTIVE_DAYS:
        window = max(1, ceil(ACTIVE_DAYS[node["math"]] * 24 / INTERVAL_HOURS[interval]))
        return Series(selector(node), Math.UNIQUES, window=window)
    math = MATHS.get(node.get("math"))
    if math is None:
        raise TranslationError(f"unsupported math: {node.get('math')}")
    prop = node.get("math_property")
    ref = (
        PropertyRef(Source.PERSON if node.get("math_property_type") == "person_properties" else Source.EVENT, prop)
        if prop
        else None
    )
    return Series(selector(node), math, ref)


def breakdowns(raw: Any) -> tuple[tuple[PropertyRef, ...], int]:
    if not isinstance(raw, dict):
        return (), 25
    limit = integer(raw.get("breakdown_limit") or 25, "breakdown_limit", 25)
    if limit < 1:
        raise TranslationError("breakdown_limit must be positive")
    items = raw.get("breakdowns") or (
        [
            {"property": b, "type": raw.get("breakdown_type", "event")}
            for b in (raw["breakdown"] if isinstance(raw.get("breakdown"), list) else [raw["breakdown"]])
        ]
        if raw.get("breakdown") not in (None, "")
        else []
    )
    refs = []
    for item in items:
        kind, prop = item.get("type", "event"), item.get("property")
        if kind not in ("event", "person") or not isinstance(prop, str):
            raise TranslationError(f"breakdowns of type {kind} are not supported")
        refs.append(PropertyRef(Source.EVENT if kind == "event" else Source.PERSON, prop))
    if len(refs) > 2:
        raise TranslationError("at most two breakdowns")
    return tuple(refs), limit


def scope(
    query: dict[str, Any],
    project: ProjectInfo,
    default_interval: str = "day",
    default_from: str = "-7d",
    now: dt.datetime | None = None,
) -> Scope:
    interval = INTERVALS.get(query.get("interval") or default_interval)
    if interval is None:
        raise TranslationError(f"unsupported interval: {query.get('interval')}")
    rng = date_range(query.get("dateRange"), project, interval, default_from, now)
    return Scope(project.id, rng, interval, properties(query.get("properties")))


@readable
def trends(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> TrendsQuery:
    nodes = query.get("series") or []
    if not isinstance(nodes, list) or not nodes:
        raise TranslationError("a TrendsQuery needs at least one series")
    refs, limit = breakdowns(query.get("breakdownFilter"))
    scoped = scope(query, project, now=now)
    options = query.get("breakdownFilter")
    hide_other = isinstance(options, dict) and bool(options.get("breakdown_hide_other_aggregation"))
    return TrendsQuery(scoped, tuple(series(n, scoped.interval) for n in nodes), refs, limit, fold_other=not hide_other)


@readable
def formulas(options: Any) -> list[tuple[str, str | None]]:
    """trendsFilter's formulas as (formula, custom name): `formula`, or several side by side in `formulas` or
    `formulaNodes`."""
    options = options if isinstance(options, dict) else {}
    listed = options.get("formulas") or []
    if options.get("formula"):
        raw: Any = [{"formula": options["formula"]}]
    elif options.get("formulaNodes"):
        raw = options["formulaNodes"]
    else:
        raw = [{"formula": f} for f in listed] if isinstance(listed, list) else None
    if not isinstance(raw, list) or not all(isinstance(n, dict) and isinstance(n.get("formula"), str) for n in raw):
        raise TranslationError("formulas must be a list of strings")
    return [(n["formula"], n.get("custom_name") or None) for n in raw]


@readable
def funnel(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> FunnelQuery:
    nodes = query.get("series") or []
    if not isinstance(nodes, list) or len(nodes) < 2:
        raise TranslationError("a FunnelsQuery needs at least two steps")
    options = query.get("funnelsFilter") or {}
    unit = options.get("funnelWindowIntervalUnit", "day")
    seconds = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800, "month": 2592000}.get(unit)
    if seconds is None:
        raise TranslationError(f"unsupported funnel window unit: {unit}")
    window = integer(options.get("funnelWindowInterval") or 14, "funnelWindowInterval", 14) * seconds * 1000
    order = {"ordered": FunnelOrder.ORDERED, "strict": FunnelOrder.STRICT, "unordered": FunnelOrder.UNORDERED}.get(
        options.get("funnelOrderType", "ordered")
    )
    if order is None:
        raise TranslationError(f"unsupported funnel order: {options.get('funnelOrderType')}")
    refs, limit = breakdowns(query.get("breakdownFilter"))
    return FunnelQuery(
        scope(query, project, now=now),
        tuple(selector(n) for n in nodes),
        window,
        order,
        refs[0] if refs else None,
        limit,
        fold_other=True,
        convert_past_range=False,
        exclusions=exclusions(options.get("exclusions"), len(nodes)),
        per_entry=options.get("funnelVizType") == "trends",
    )


def exclusions(raw: Any, steps: int) -> tuple[FunnelExclusion, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise TranslationError("exclusions must be a list")
    return tuple(
        FunnelExclusion(
            selector(item),
            integer(item.get("funnelFromStep"), "funnelFromStep", 0),
            integer(item.get("funnelToStep"), "funnelToStep", steps - 1),
        )
        for item in raw
    )


@readable
def step_range(options: dict[str, Any], steps: int) -> tuple[int, int]:
    """funnelFromStep and funnelToStep (0-based; the first and last step by default)."""
    first = integer(options.get("funnelFromStep"), "funnelFromStep", 0)
    last = integer(options.get("funnelToStep"), "funnelToStep", steps - 1)
    if not 0 <= first < last < steps:
        raise TranslationError(f"funnelFromStep and funnelToStep must satisfy 0 <= from < to <= {steps - 1}")
    return first, last


@readable
def integer(raw: Any, name: str, default: int) -> int:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise TranslationError(f"{name} must be an integer")
    try:
        return int(raw)
    except ValueError as exc:
        raise TranslationError(f"{name} must be an integer") from exc


@readable
def retention(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> RetentionQuery:
    options = query.get("retentionFilter") or {}
    period = str(options.get("period", "Day")).lower()
    interval = INTERVALS.get(period)
    if interval is None:
        raise TranslationError(f"unsupported retention period: {options.get('period')}")
    total = integer(options.get("totalIntervals") or 8, "totalIntervals", 8)
    if not 1 <= total <= 100:
        raise TranslationError("totalIntervals must be between 1 and 100")
    dates = query.get("dateRange") if isinstance(query.get("dateRange"), dict) else {}
    counted_back = not dates.get("date_from")
    if counted_back:  # the range's start follows from its end, below
        dates = {**dates, "date_from": "1970-01-01"}
    scoped = scope({**query, "interval": period, "dateRange": dates}, project, period, now=now)
    if counted_back:  # PostHog: totalIntervals intervals, the last one holding date_to
        rng = scoped.date_range
        last = align(rng.end - dt.timedelta(milliseconds=1), interval, scoped.week_start)
        scoped = replace(scoped, date_range=replace(rng, start=advance(last, interval, 1 - total)))
    target = options.get("targetEntity") or {"id": "$pageview", "type": "events"}
    returning = options.get("returningEntity") or target
    return RetentionQuery(
        scoped,
        _entity(target),
        _entity(returning),
        total - 1,
        RetentionMode.ROLLING if options.get("cumulative") else RetentionMode.N_DAY,
        cohort_by=CohortBy.FIRST_EVER if options.get("retentionType") == "retention_first_time" else CohortBy.EVERY,
    )


def _entity(raw: Any) -> EventSelector:
    if not isinstance(raw, dict) or raw.get("type", "events") != "events":
        raise TranslationError("retention entities must be events")
    return EventSelector(raw.get("id") or raw.get("name"), properties(raw.get("properties")))


@readable
def lifecycle(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> LifecycleQuery:
    nodes = query.get("series") or []
    if not isinstance(nodes, list) or len(nodes) != 1:
        raise TranslationError("a LifecycleQuery has exactly one series")
    return LifecycleQuery(scope(query, project, now=now), selector(nodes[0]))


@readable
def stickiness(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> StickinessQuery:
    nodes = query.get("series") or []
    if not isinstance(nodes, list) or not nodes:
        raise TranslationError("a StickinessQuery needs at least one series")
    scoped = scope(query, project, now=now)
    return StickinessQuery(scoped, tuple(series(n, scoped.interval) for n in nodes))


@readable
def paths(query: dict[str, Any], project: ProjectInfo, now: dt.datetime | None = None) -> PathsQuery:
    options = query.get("pathsFilter") or {}
    kinds = options.get("includeEventTypes") or ["$pageview"]
    include = []
    for kind in kinds:
        try:
            include.append(PathItem(kind))
        except ValueError as exc:
            raise TranslationError(f"unsupported path item type: {kind}") from exc
    return PathsQuery(
        scope(query, project, now=now),
        tuple(include),
        options.get("startPoint") or None,
        options.get("endPoint") or None,
        int(options.get("stepLimit") or 5),
        int(options.get("edgeLimit") or 50),
        int(options.get("minEdgeWeight") or 1),
        tuple(options.get("excludeEvents") or ()),
    )
