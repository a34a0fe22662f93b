"""PostHog's event and property definitions: list (search, filters, limit/offset), retrieve, PATCH, DELETE.

The rows are kept at ingestion (`footfall.ingest.definitions`); `volume_30_day` of events is counted in the
engine for the page shown. A deleted definition comes back when its event or key is ingested again, as in
PostHog. Group and session properties are not kept (footfall has no group type indexes): asking is a 400.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, exists, func, literal, select
from sqlalchemy.orm import Session

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import invalid, not_found
from footfall.api.posthog.serialize import iso
from footfall.ingest.definitions import EVENT, PERSON
from footfall.meta.models import EventDefinition, EventProperty, PropertyDefinition, utcnow
from footfall.query.definitions import event_volumes

router = APIRouter(tags=["PostHog event and property definitions"])

# Event properties PostHog never lists: set by libraries inconsistently, or carrying person/group updates.
HIDDEN_EVENT_PROPERTIES = frozenset(
    {"distinct_id", "$set", "$set_once", "$initial_referrer", "$initial_referring_domain", "$groups"}
    | {"$group_type", "$group_key", "$group_set", *(f"$group_{i}" for i in range(5))}
)


class EventDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = None
    tags: list[str] | None = None


class PropertyDefinitionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    description: str | None = None
    tags: list[str] | None = None
    property_type: Literal["String", "Numeric", "Boolean", "DateTime", "Duration"] | None = Field(default=None)


# --- query parameters -------------------------------------------------------------------------------


def _json_list(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"{name} must be a JSON list of names", name) from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise invalid(f"{name} must be a JSON list of names", name)
    return value


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid(f"{name} must be true or false", name)


def _search(column: Any, request: Request) -> list[ColumnElement[bool]]:
    """Every whitespace-separated term of `search` appears in the name, in any case."""
    terms = (request.query_params.get("search") or "").lower().split()
    return [func.lower(column).contains(term, autoescape=True) for term in terms]


# --- event definitions ------------------------------------------------------------------------------

_EVENT_ORDER = {
    "name": EventDefinition.name,
    "last_seen_at": EventDefinition.last_seen_at,
    "created_at": EventDefinition.created_at,
}


def event_json(item: EventDefinition, volume: int | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "tags": list(item.tags or []),
        "volume_30_day": volume,
        "query_usage_30_day": None,
        "created_at": iso(item.created_at),
        "last_seen_at": iso(item.last_seen_at),
        "last_updated_at": iso(item.updated_at),
        "updated_at": iso(item.updated_at),
        "is_action": False,
        "action_id": None,
        "is_calculating": False,
        "last_calculated_at": None,
        "created_by": None,
        "post_to_slack": False,
        "verified": False,
        "hidden": False,
    }


def _event_order(request: Request) -> list[Any]:
    """`ordering` (`name`, `last_seen_at`, `created_at`, `-` for descending; a `::date` suffix is read as the
    field); by default the most recently seen first, and with a search the shortest names first."""
    order = []
    for field in ",".join(request.query_params.getlist("ordering")).split(","):
        column = _EVENT_ORDER.get(field.lstrip("-").removesuffix("::date"))
        if column is not None:
            order.append(column.desc() if field.startswith("-") else column.asc())
    if not order:
        order = [EventDefinition.last_seen_at.desc()]
        if request.query_params.get("search", "").strip():
            order.insert(0, func.length(EventDefinition.name))
    return [*order, EventDefinition.name]


@dual_route(router, "/event_definitions/", ["GET"])
def list_event_definitions(request: Request, caller: Caller = Depends(require("event_definition:read"))) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    conditions = [EventDefinition.project_id == caller.project.id, *_search(EventDefinition.name, request)]
    event_type = q.get("event_type", "event")
    if event_type == "event_custom":
        conditions.append(~EventDefinition.name.startswith("$"))
    elif event_type == "event_posthog":
        conditions.append(EventDefinition.name.startswith("$"))
    elif event_type not in ("event", "all", "action_event"):
        raise invalid("event_type must be event, event_custom or event_posthog", "event_type")
    excluded = _json_list(request, "excluded_properties")
    if excluded:
        conditions.append(EventDefinition.name.not_in(excluded))
    names = [name for value in q.getlist("names") for name in value.split(",") if name]
    if names:
        conditions.append(EventDefinition.name.in_(names))
    with request.app.state.runtime.meta.session() as session:
        count = session.scalar(select(func.count()).select_from(EventDefinition).where(*conditions)) or 0
        found = list(
            session.scalars(
                select(EventDefinition).where(*conditions).order_by(*_event_order(request)).limit(limit).offset(offset)
            )
        )
    volumes = event_volumes(request.app.state.runtime.engine, caller.project.id, [d.name for d in found])
    items = [event_json(d, volumes.get(d.name, 0)) for d in found]
    return json_response(page(request, items, count, limit, offset))


def _event_definition(session: Session, caller: Caller, definition_id: str) -> EventDefinition:
    found = session.get(EventDefinition, definition_id)
    if found is None or found.project_id != caller.project.id:
        raise not_found()
    return found


def _event_response(request: Request, caller: Caller, item: EventDefinition) -> Response:
    volume = event_volumes(request.app.state.runtime.engine, caller.project.id, [item.name]).get(item.name, 0)
    return json_response(event_json(item, volume))


@dual_route(router, "/event_definitions/{definition_id}/", ["GET"])
def retrieve_event_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("event_definition:read"))
) -> Response:
    with request.app.state.runtime.meta.session() as session:
        item = _event_definition(session, caller, definition_id)
    return _event_response(request, caller, item)


@dual_route(router, "/event_definitions/{definition_id}/", ["PATCH", "PUT"])
async def update_event_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("event_definition:write"))
) -> Response:
    body = await body_of(request, EventDefinitionIn)
    with request.app.state.runtime.meta.session() as session, session.begin():
        item = _event_definition(session, caller, definition_id)
        if body.description is not None:
            item.description = body.description
        if body.tags is not None:
            item.tags = body.tags
        item.updated_at = utcnow()
    return _event_response(request, caller, item)


@dual_route(router, "/event_definitions/{definition_id}/", ["DELETE"])
def delete_event_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("event_definition:write"))
) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        session.delete(_event_definition(session, caller, definition_id))
    return Response(status_code=204)


# --- property definitions ---------------------------------------------------------------------------


def property_json(item: PropertyDefinition, seen: bool | None) -> dict[str, Any]:
    return {
        "id": item.id,
        "name": item.name,
        "description": item.description,
        "tags": list(item.tags or []),
        "is_numerical": item.property_type == "Numeric",
        "property_type": item.property_type,
        "type": "event" if item.kind == EVENT else "person",
        "is_seen_on_filtered_events": seen,
        "volume_30_day": None,
        "query_usage_30_day": None,
        "created_at": iso(item.created_at),
        "verified": False,
        "hidden": False,
    }


def _kind(request: Request) -> int:
    """PostHog's `type` (event by default) and its rules for `group_type_index` and `event_names`."""
    q = request.query_params
    kind = q.get("type", "event")
    if kind not in ("event", "person", "group", "session"):
        raise invalid("type must be event, person, group or session", "type")
    if kind == "group" and not q.get("group_type_index"):
        raise invalid("`group_type_index` must be set for `group` type", "group_type_index")
    if kind != "group" and q.get("group_type_index"):
        raise invalid("`group_type_index` can only set for `group` type", "group_type_index")
    if kind != "event" and q.get("event_names"):
        raise invalid("`event_names` can only be set for `event` type", "event_names")
    if kind in ("group", "session"):
        raise invalid(f"{kind} property definitions are not kept by this server", "type")
    return EVENT if kind == "event" else PERSON


@dual_route(router, "/property_definitions/", ["GET"])
def list_property_definitions(
    request: Request, caller: Caller = Depends(require("property_definition:read"))
) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    kind = _kind(request)
    conditions = [
        PropertyDefinition.project_id == caller.project.id,
        PropertyDefinition.kind == kind,
        *_search(PropertyDefinition.name, request),
    ]
    if kind == EVENT:
        conditions.append(PropertyDefinition.name.not_in(HIDDEN_EVENT_PROPERTIES))
    if q.get("properties"):
        conditions.append(PropertyDefinition.name.in_(q["properties"].split(",")))
    if _flag(request, "is_numerical"):  # as in PostHog, false does not filter
        conditions.append(PropertyDefinition.property_type == "Numeric")
        conditions.append(PropertyDefinition.name.not_in(("distinct_id", "timestamp")))
    excluded = _json_list(request, "excluded_properties")
    if excluded:
        conditions.append(PropertyDefinition.name.not_in(excluded))
    # With event_names, each definition says whether it was seen on those events, and those come first.
    event_names = _json_list(request, "event_names")
    seen: ColumnElement[bool] = literal(False)
    if event_names:
        seen = exists().where(
            EventProperty.project_id == caller.project.id,
            EventProperty.event.in_(event_names),
            EventProperty.property == PropertyDefinition.name,
        )
        if _flag(request, "filter_by_event_names"):
            conditions.append(seen)
    with request.app.state.runtime.meta.session() as session:
        count = session.scalar(select(func.count()).select_from(PropertyDefinition).where(*conditions)) or 0
        rows = session.execute(
            select(PropertyDefinition, seen)
            .where(*conditions)
            .order_by(seen.desc(), PropertyDefinition.name)
            .limit(limit)
            .offset(offset)
        ).all()
    items = [property_json(item, bool(on_events) if event_names else None) for item, on_events in rows]
    return json_response(page(request, items, count, limit, offset))


@dual_route(router, "/property_definitions/seen_together/", ["GET"])
def seen_together(request: Request, caller: Caller = Depends(require("property_definition:read"))) -> Response:
    """For each of `event_names`, whether `property_name` has been seen on it."""
    event_names = _json_list(request, "event_names")
    name = request.query_params.get("property_name")
    if not event_names or not name:
        raise invalid(
            "event_names and property_name are required", "event_names" if not event_names else "property_name"
        )
    with request.app.state.runtime.meta.session() as session:
        found = set(
            session.scalars(
                select(EventProperty.event).where(
                    EventProperty.project_id == caller.project.id,
                    EventProperty.event.in_(event_names),
                    EventProperty.property == name,
                )
            )
        )
    return json_response({event: event in found for event in event_names})


def _property_definition(session: Session, caller: Caller, definition_id: str) -> PropertyDefinition:
    found = session.get(PropertyDefinition, definition_id)
    if found is None or found.project_id != caller.project.id:
        raise not_found()
    return found


@dual_route(router, "/property_definitions/{definition_id}/", ["GET"])
def retrieve_property_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("property_definition:read"))
) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return json_response(property_json(_property_definition(session, caller, definition_id), None))


@dual_route(router, "/property_definitions/{definition_id}/", ["PATCH", "PUT"])
async def update_property_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("property_definition:write"))
) -> Response:
    body = await body_of(request, PropertyDefinitionIn)
    with request.app.state.runtime.meta.session() as session, session.begin():
        item = _property_definition(session, caller, definition_id)
        for field in ("description", "tags", "property_type"):
            if getattr(body, field) is not None:
                setattr(item, field, getattr(body, field))
        return json_response(property_json(item, None))


@dual_route(router, "/property_definitions/{definition_id}/", ["DELETE"])
def delete_property_definition(
    request: Request, definition_id: str, caller: Caller = Depends(require("property_definition:write"))
) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        session.delete(_property_definition(session, caller, definition_id))
    request.app.state.runtime.flusher.definitions.forget()  # so the key is recorded again when it next arrives
    return Response(status_code=204)
