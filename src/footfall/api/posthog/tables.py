"""EventsQuery, ActorsQuery and InsightActorsQuery on `/query/`: events as a table, and who is behind a number.

Translation and shaping only. An InsightActorsQuery becomes a cell of its insight's spec (the same
translation the insight itself uses), and `footfall.query.actors` answers it with the conditions the
insight's number was computed with; `footfall.query.event_table` answers EventsQuery. Expressions come
from the whitelist in `hogql`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from footfall.api.posthog import hogql, translate
from footfall.api.posthog.errors import invalid
from footfall.api.posthog.hogql import Expr
from footfall.api.posthog.people_events import display_name, person_json
from footfall.api.posthog.runner import previous_range, unwrap
from footfall.api.posthog.serialize import iso
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.query import actors, event_table
from footfall.query.actors import Actor, ActorField, ActorSort, ActorsQuery, run_actors
from footfall.query.event_log import LoggedEvent
from footfall.query.event_table import EventColumn, EventField, EventPerson, EventSort, EventTableQuery
from footfall.query.spec import (
    Cell,
    FunnelCell,
    LifecycleCell,
    LifecycleStatus,
    Op,
    PropertyFilter,
    PropertyRef,
    RetentionCell,
    Source,
    StickinessCell,
    TrendsCell,
)

INSIGHT_ACTORS_KINDS = frozenset({"InsightActorsQuery", "FunnelsActorsQuery", "StickinessActorsQuery"})
KINDS = INSIGHT_ACTORS_KINDS | {"EventsQuery", "ActorsQuery"}
DEFAULT_LIMIT = 100
NULL_BREAKDOWN, OTHER_BREAKDOWN = "$$_posthog_breakdown_null_$$", "$$_posthog_breakdown_other_$$"

_EVENT_FIELDS = {
    "*": EventField.ALL,
    "event": EventField.EVENT,
    "timestamp": EventField.TIMESTAMP,
    "distinct_id": EventField.DISTINCT_ID,
    "uuid": EventField.UUID,
    "person_id": EventField.PERSON_ID,
    "person": EventField.PERSON,
    "person_display_name": EventField.PERSON,
    "count()": EventField.COUNT,
    "properties": EventField.PROPERTY,
    "person.properties": EventField.PERSON_PROPERTY,
}
_EVENT_TYPES = {
    EventField.ALL: "Tuple(UUID, String, String, DateTime64(6, 'UTC'), Int64, String, String)",
    EventField.EVENT: "String",
    EventField.TIMESTAMP: "DateTime64(6, 'UTC')",
    EventField.DISTINCT_ID: "String",
    EventField.UUID: "UUID",
    EventField.PERSON_ID: "UUID",
    EventField.PERSON: "String",
    EventField.COUNT: "UInt64",
    EventField.PROPERTY: "Nullable(String)",
    EventField.PERSON_PROPERTY: "Nullable(String)",
}
_EVENT_NAMES = frozenset(_EVENT_FIELDS)
_EVENT_SORTS = _EVENT_NAMES - {"*", "person_display_name"}

# PostHog's default ActorsQuery columns (posthog/hogql_queries/actor_strategies.py, PersonStrategy).
DEFAULT_ACTOR_COLUMNS = ["person", "id", "person.$delete"]
_ACTOR_TYPES = {
    "person": "UUID",
    "actor": "UUID",
    "id": "UUID",
    "actor_id": "UUID",
    "created_at": "DateTime64(3, 'UTC')",
    "person_display_name": "Tuple(String, UUID)",
    "person.$delete": "UInt8",
    "event_count": "UInt64",
    "appearances": "Array(Int64)",
    "matched_recordings": "Array(Tuple(String))",
    "properties": "String",
    "person.properties": "String",
}
_ACTOR_NAMES = frozenset(_ACTOR_TYPES)
_ACTOR_SORT_FIELDS = {
    "id": ActorField.ID,
    "actor_id": ActorField.ID,
    "created_at": ActorField.CREATED_AT,
    "event_count": ActorField.EVENT_COUNT,
}
_ACTOR_SORTS = frozenset({*_ACTOR_SORT_FIELDS, "person", "actor", "person_display_name", *hogql.PROPERTY_NAMES})


def _kind(query: Any) -> str:
    kind = query.get("kind") if isinstance(query, dict) else None
    return kind if isinstance(kind, str) else ""


def table_query(query: Any) -> dict[str, Any] | None:
    """The EventsQuery / ActorsQuery / InsightActorsQuery asked for (also inside a DataTableNode), else None."""
    if _kind(query) == "DataTableNode":
        query = query.get("source")
    return query if _kind(query) in KINDS else None


def run_table(engine: Engine, project: ProjectInfo, query: dict[str, Any], now: dt.datetime | None = None) -> Any:
    moment = now or dt.datetime.now(dt.UTC)
    kind = query["kind"]
    if kind == "EventsQuery":
        body = _events(engine, project, query, moment)
    elif kind == "ActorsQuery":
        source = query.get("source")
        if source is not None and _kind(source) not in INSIGHT_ACTORS_KINDS:
            raise invalid(
                f"an ActorsQuery source must be an InsightActorsQuery, not {_kind(source) or source}", "source"
            )
        cell = _cell(source, project, now) if source is not None else None
        body = _actors(engine, project, query, query.get("select") or DEFAULT_ACTOR_COLUMNS, cell)
    else:  # the ids behind the number, as PostHog's HogQL response of the insight's actors query
        cell = _cell(query, project, now)
        extras = {TrendsCell: ["event_count"], StickinessCell: ["event_count"], RetentionCell: ["appearances"]}
        body = _actors(engine, project, query, ["actor_id", *extras.get(type(cell), [])], cell)
    return {
        **body,
        "hogql": None,
        "timings": [],
        "is_cached": False,
        "last_refresh": iso(moment),
        "timezone": project.timezone,
        "query_status": None,
        "error": None,
    }


# --- EventsQuery -------------------------------------------------------------------------------------------


def _events(engine: Engine, project: ProjectInfo, query: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    for unsupported in ("actionId", "source"):
        if query.get(unsupported) is not None:
            raise invalid(f"EventsQuery {unsupported} is not supported", unsupported)
    select = _strings(query.get("select") or ["*"], "select")
    exprs = [hogql.expr(text, _EVENT_NAMES, "select") for text in select]
    filters = [
        *translate.properties(query.get("properties")),
        *translate.properties(query.get("fixedProperties")),
        *(hogql.condition(text) for text in _strings(query.get("where") or [], "where")),
    ]
    names = [
        name for name in [_text(query.get("event"), "event"), *_strings(query.get("events") or [], "events")] if name
    ]
    if names:
        filters.append(PropertyFilter(PropertyRef(Source.COLUMN, "event"), Op.EQ, tuple(names)))
    # PostHog shows the last day unless asked, and never events from the future (beyond a clock skew).
    after = str(query.get("after") or "-24h")
    before = query.get("before")
    order = hogql.sorts(query["orderBy"], _EVENT_SORTS) if query.get("orderBy") is not None else []
    limit, offset = _page(query)
    table = event_table.run_event_table(
        engine,
        EventTableQuery(
            project.id,
            tuple(_event_column(e) for e in exprs),
            tuple(filters),
            _text(query.get("personId"), "personId") or None,
            None if after == "all" else _instant(after, project, now, "after"),
            _instant(str(before), project, now, "before") if before else now + dt.timedelta(seconds=5),
            tuple(EventSort(_event_column(e), descending) for e, descending in order),
            limit,
            offset,
        ),
    )
    return {
        "columns": select,
        "types": [_EVENT_TYPES[_EVENT_FIELDS[e.name]] for e in exprs],
        "results": [[_event_value(e, v, project) for e, v in zip(exprs, row, strict=True)] for row in table.rows],
        "hasMore": table.has_more,
        "limit": limit,
        "offset": offset,
    }


def _event_column(e: Expr) -> EventColumn:
    return EventColumn(_EVENT_FIELDS[e.name], e.key)


def _event_value(e: Expr, value: Any, project: ProjectInfo) -> Any:
    if isinstance(value, LoggedEvent):
        return {
            "uuid": value.uuid,
            "event": value.event,
            "properties": value.properties,
            "timestamp": _local_iso(value.timestamp, project),
            "team_id": project.id,
            "distinct_id": value.distinct_id,
            "elements_chain": "",
        }
    if isinstance(value, EventPerson):
        if e.name == "person_display_name":
            name = display_name(value.properties, value.distinct_id)
            return {"display_name": name, "id": value.person_id, "distinct_id": value.distinct_id}
        if value.created_at is None:
            return {"distinct_id": value.distinct_id}
        created = iso(value.created_at)
        return {
            "uuid": value.person_id,
            "created_at": created,
            "properties": value.properties,
            "distinct_id": value.distinct_id,
        }
    if isinstance(value, dt.datetime):
        return _local_iso(value, project)
    return value


def _local_iso(moment: dt.datetime, project: ProjectInfo) -> str:
    """A time as HogQL returns it: in the project's time zone, with its offset."""
    return moment.astimezone(ZoneInfo(project.timezone)).isoformat().replace("+00:00", "Z")


# --- ActorsQuery and InsightActorsQuery --------------------------------------------------------------------


def _actors(
    engine: Engine, project: ProjectInfo, query: dict[str, Any], select: Any, cell: Cell | None
) -> dict[str, Any]:
    """The persons behind `cell` (None: all of them), filtered, searched, sorted and paged as `query` says."""
    columns = _strings(select, "select")
    exprs = [hogql.expr(text, _ACTOR_NAMES, "select") for text in columns]
    order = hogql.sorts(query["orderBy"], _ACTOR_SORTS) if query.get("orderBy") is not None else []
    _check_available([*exprs, *(e for e, _ in order)], cell)
    if not order and "created_at" in (e.name for e in exprs):  # PostHog's default: newest persons first
        order = [(Expr("created_at"), True)]
    limit, offset = _page(query)
    result = run_actors(
        engine,
        ActorsQuery(
            project.id,
            cell,
            (*translate.properties(query.get("properties")), *translate.properties(query.get("fixedProperties"))),
            _text(query.get("search"), "search"),
            tuple(_actor_sort(e, descending) for e, descending in order),
            limit,
            offset,
        ),
    )
    return {
        "columns": columns,
        "types": [_ACTOR_TYPES[e.name] for e in exprs],
        "results": [[_actor_value(e, actor) for e in exprs] for actor in result.actors],
        "hasMore": result.has_more,
        "limit": limit,
        "offset": offset,
        "missing_actors_count": sum(actor.created_at is None for actor in result.actors),
    }


def _check_available(exprs: list[Expr], cell: Cell | None) -> None:
    for e in exprs:
        if e.name == "event_count" and not isinstance(cell, TrendsCell | StickinessCell):
            raise invalid("event_count is known for the persons of trends and stickiness insights", "select")
        if e.name == "appearances" and not isinstance(cell, RetentionCell):
            raise invalid("appearances are known for the persons of retention insights", "select")


def _actor_sort(e: Expr, descending: bool) -> ActorSort:
    if e.name in _ACTOR_SORT_FIELDS:
        return ActorSort(_ACTOR_SORT_FIELDS[e.name], descending=descending)
    # Persons sort by their email, as PostHog sorts its person column.
    return ActorSort(ActorField.PROPERTY, e.key or "email", descending)


def _actor_value(e: Expr, actor: Actor) -> Any:
    if e.name in ("person", "actor"):
        return person_json(actor.person_id, actor.properties, actor.created_at, actor.is_identified, actor.distinct_ids)
    if e.name in ("id", "actor_id"):
        return actor.person_id
    if e.name == "created_at":
        return iso(actor.created_at)
    if e.name == "person_display_name":
        fallback = actor.distinct_ids[0] if actor.distinct_ids else actor.person_id
        return {"display_name": display_name(actor.properties, fallback), "id": actor.person_id}
    if e.name == "person.$delete":  # PostHog's constant column behind the table's delete button
        return 1
    if e.name == "event_count":
        return actor.event_count
    if e.name == "appearances":
        # PostHog numbers a cohort's intervals 0, 1, …; the engine's columns are 0 (the cohort) then counts
        # whose k-th (1-based) is interval k - 1.
        return sorted({0, *(column - 1 for column in actor.appearances if column >= 2)})
    if e.name == "matched_recordings":  # footfall records no sessions
        return []
    return actor.properties.get(e.key)


def _cell(source: dict[str, Any], project: ProjectInfo, now: dt.datetime | None) -> Cell:
    """The number an InsightActorsQuery points at, in the spec its insight translates to."""
    insight = unwrap(source.get("source"))
    cell = _CELLS.get(insight["kind"])
    if cell is None:
        raise invalid(f"the persons of a {insight['kind']} are not supported", "source")
    return cell(source, insight, project, now)


def _trends_cell(
    source: dict[str, Any], insight: dict[str, Any], project: ProjectInfo, now: dt.datetime | None
) -> Cell:
    options = insight.get("trendsFilter") or {}
    if options.get("formula") or options.get("formulas"):
        raise invalid("the persons of a formula are not supported", "source")
    spec = translate.trends(insight, project, now)
    if source.get("compare") == "previous":
        spec = replace(spec, scope=replace(spec.scope, date_range=previous_range(spec.scope.date_range)))
    day, raw = source.get("day"), source.get("breakdown")
    parts = None if raw is None else tuple(_breakdown(v) for v in (raw if isinstance(raw, list) else [raw]))
    bucket = _local(day, project, "day") if day else None  # no day: the whole range (one-number displays)
    return TrendsCell(spec, _integer(source.get("series"), "series", 0), bucket, parts)


def _funnel_cell(
    source: dict[str, Any], insight: dict[str, Any], project: ProjectInfo, now: dt.datetime | None
) -> Cell:
    spec = translate.funnel(insight, project, now)
    if source.get("funnelCustomSteps"):
        raise invalid("funnelCustomSteps is not supported", "funnelCustomSteps")
    raw = source.get("funnelStepBreakdown")
    raw = (raw[0] if raw else None) if isinstance(raw, list) else raw
    breakdown = _breakdown(raw) if spec.breakdown is not None and raw is not None else None
    n, entrance = len(spec.steps), source.get("funnelTrendsEntrancePeriodStart")
    if entrance:  # funnel trends: who entered in that period and converted (or, with drop-off, did not)
        reached, missed = (1, n) if source.get("funnelTrendsDropOff") else (n, None)
        return FunnelCell(
            spec, reached, missed, breakdown, _local(entrance, project, "funnelTrendsEntrancePeriodStart")
        )
    step = _integer(source.get("funnelStep"), "funnelStep", 0)
    if step in (0, -1) or abs(step) > n:
        raise invalid(f"funnelStep is 1 to {n} (reached the step) or -2 to -{n} (dropped off before it)", "funnelStep")
    return FunnelCell(spec, step, None, breakdown) if step > 0 else FunnelCell(spec, -step - 1, -step, breakdown)


def _retention_cell(
    source: dict[str, Any], insight: dict[str, Any], project: ProjectInfo, now: dt.datetime | None
) -> Cell:
    if source.get("breakdown") not in (None, "", []):
        raise invalid("retention breakdowns are not supported", "breakdown")
    interval = _integer(source.get("interval"), "interval", -1)
    if interval < 0:
        raise invalid("interval (the cohort's row, from 0) is required", "interval")
    return RetentionCell(translate.retention(insight, project, now), interval)


def _lifecycle_cell(
    source: dict[str, Any], insight: dict[str, Any], project: ProjectInfo, now: dt.datetime | None
) -> Cell:
    status, day = source.get("status"), source.get("day")
    if not isinstance(status, str) or status not in set(LifecycleStatus):
        raise invalid("status must be new, returning, resurrecting or dormant", "status")
    if not day:
        raise invalid("day is required", "day")
    spec = translate.lifecycle(insight, project, now)
    return LifecycleCell(spec, _local(day, project, "day"), LifecycleStatus(status))


def _stickiness_cell(
    source: dict[str, Any], insight: dict[str, Any], project: ProjectInfo, now: dt.datetime | None
) -> Cell:
    if source.get("operator") not in (None, "exact"):
        raise invalid("only the persons active in exactly `day` intervals are supported", "operator")
    intervals = _integer(source.get("day"), "day", 0)
    if intervals < 1:
        raise invalid("day (in how many intervals persons were active, from 1) is required", "day")
    spec = translate.stickiness(insight, project, now)
    return StickinessCell(spec, _integer(source.get("series"), "series", 0), intervals)


_CELLS = {
    "TrendsQuery": _trends_cell,
    "FunnelsQuery": _funnel_cell,
    "RetentionQuery": _retention_cell,
    "LifecycleQuery": _lifecycle_cell,
    "StickinessQuery": _stickiness_cell,
}


def _breakdown(value: Any) -> str:
    """A breakdown value as the engine compares it (unset properties are '', booleans 'true'/'false')."""
    if value is None or value == NULL_BREAKDOWN:
        return ""
    if value == OTHER_BREAKDOWN:
        raise invalid("the persons of the Other breakdown are not supported", "breakdown")
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, str | int | float):
        raise invalid("a breakdown value is a string or a number", "breakdown")
    return str(value)


# --- shared checks -----------------------------------------------------------------------------------------


def _page(query: dict[str, Any]) -> tuple[int, int]:
    """limit (PostHog's default 100; larger than footfall serves is cut, as PostHog does) and offset."""
    limit = _integer(query.get("limit"), "limit", DEFAULT_LIMIT)
    offset = _integer(query.get("offset"), "offset", 0)
    if limit < 1 or offset < 0:
        raise invalid("limit must be positive and offset not negative", "limit" if limit < 1 else "offset")
    return min(limit, actors.MAX_LIMIT, event_table.MAX_LIMIT), offset


def _integer(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise invalid(f"{name} must be a whole number", name)
    return int(value)


def _text(value: Any, name: str) -> str:
    if value is not None and not isinstance(value, str):
        raise invalid(f"{name} must be a string", name)
    return value or ""


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(f"{name} must be a list of strings", name)
    return value


def _instant(value: str, project: ProjectInfo, now: dt.datetime, name: str) -> dt.datetime:
    try:
        return translate.instant(value, project, now)
    except translate.TranslationError as exc:
        raise invalid(f"{name}: {exc}", name) from exc


def _local(value: Any, project: ProjectInfo, name: str) -> dt.datetime:
    """A bucket PostHog names by its local start ('2024-05-01', '2024-05-01 13:00:00'), naive local time."""
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{name} must be a date or a time, got {value!r}", name) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(project.timezone)).replace(tzinfo=None)
    return moment
