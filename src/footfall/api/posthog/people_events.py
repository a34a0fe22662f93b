"""PostHog's persons and events endpoints, so a PostHog API user finds who did what.

Persons come from the metadata store (the identity model's own tables); events from the engine, newest
first, with a `next` link that pages by timestamp as PostHog's events API does. One addition of footfall's,
`persons/:id/activity_summary/`, gives a person's totals as Amplitude's user activity does, for the UI.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import String, cast, func, or_, select
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import invalid, not_found
from footfall.api.posthog.serialize import iso
from footfall.api.posthog.translate import properties as translate_properties
from footfall.meta.models import Person, PersonDistinctId, PersonOverride
from footfall.query import user_activity
from footfall.query.event_log import EventLogQuery, LoggedEvent, run_event_log
from footfall.query.spec import QueryError

router = APIRouter(tags=["PostHog persons and events"])


def _distinct_ids(session: Any, project_id: int, person_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {pid: [] for pid in person_ids}
    for distinct_id, person_id in session.execute(
        select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
            PersonDistinctId.project_id == project_id, PersonDistinctId.person_id.in_(person_ids)
        )
    ):
        out[person_id].append(distinct_id)
    return out


# PostHog's default display-name properties (posthog/api/person.py); then a distinct_id, then the id.
DISPLAY_NAME_PROPERTIES = ("email", "Email", "$email", "name", "Name", "username", "Username", "UserName")


def display_name(properties: dict[str, Any], fallback: str) -> str:
    return next((str(properties[key]) for key in DISPLAY_NAME_PROPERTIES if properties.get(key)), fallback)


def person_json(
    person_id: str,
    properties: dict[str, Any],
    created_at: dt.datetime | None,
    identified: bool,
    distinct_ids: list[str],
) -> dict[str, Any]:
    ids = sorted(distinct_ids)
    return {
        "id": person_id,
        "uuid": person_id,
        "name": display_name(properties, ids[0] if ids else person_id),
        "distinct_ids": ids,
        "properties": properties,
        "created_at": iso(created_at),
        "is_identified": identified,
    }


def _person_json(person: Person, distinct_ids: list[str]) -> dict[str, Any]:
    return person_json(person.id, person.properties or {}, person.created_at, person.is_identified, distinct_ids)


@dual_route(router, "/persons/", ["GET"])
def list_persons(request: Request, caller: Caller = Depends(require("person:read"))) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    query = select(Person).where(Person.project_id == caller.project.id)
    with request.app.state.runtime.meta.session() as session:
        if q.get("distinct_id"):
            owner = session.scalar(
                select(PersonDistinctId.person_id).where(
                    PersonDistinctId.project_id == caller.project.id, PersonDistinctId.distinct_id == q["distinct_id"]
                )
            )
            query = query.where(Person.id == (owner or ""))
        if q.get("search"):
            pattern = f"%{q['search']}%"
            matching = select(PersonDistinctId.person_id).where(
                PersonDistinctId.project_id == caller.project.id, PersonDistinctId.distinct_id.ilike(pattern)
            )
            query = query.where(or_(Person.id.in_(matching), cast(Person.properties, String).ilike(pattern)))
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        people = list(session.scalars(query.order_by(Person.created_at.desc(), Person.id).offset(offset).limit(limit)))
        ids = _distinct_ids(session, caller.project.id, [p.id for p in people])
        items = [_person_json(p, ids[p.id]) for p in people]
    return json_response(page(request, items, total, limit, offset))


def _person(session: Any, caller: Caller, person_id: str) -> Person:
    person = session.get(Person, person_id)
    if person is None:  # merged away: follow the override to the surviving person
        survivor = session.scalar(
            select(PersonOverride.person_id).where(
                PersonOverride.project_id == caller.project.id, PersonOverride.old_person_id == person_id
            )
        )
        person = session.get(Person, survivor) if survivor else None
    if person is None or person.project_id != caller.project.id:
        raise not_found()
    return person


@dual_route(router, "/persons/{person_id}/", ["GET"])
def retrieve_person(request: Request, person_id: str, caller: Caller = Depends(require("person:read"))) -> Response:
    with request.app.state.runtime.meta.session() as session:
        person = _person(session, caller, person_id)
        return json_response(_person_json(person, _distinct_ids(session, caller.project.id, [person.id])[person.id]))


@dual_route(router, "/persons/{person_id}/activity_summary/", ["GET"])
def person_activity_summary(
    request: Request, person_id: str, caller: Caller = Depends(require("person:read"))
) -> Response:
    """footfall's addition: a person's totals as Amplitude's user activity gives them (`query.user_activity`).

    Counts, sessions, usage time (ms), first and last day used (in the project's time zone), revenue, device ids and
    the latest platform, OS, version and place; the person's properties are in the person itself."""
    with request.app.state.runtime.meta.session() as session:
        pid = _person(session, caller, person_id).id
    found = user_activity.summary(request.app.state.runtime.engine, caller.project.id, caller.project.timezone, pid)
    return json_response({key: value for key, value in asdict(found).items() if key != "properties"})


def event_json(item: LoggedEvent) -> dict[str, Any]:
    properties = item.properties
    if item.columns.get("session") and "$session_id" not in properties:
        # An Amplitude event's session is a field, not a property: PostHog readers look for $session_id.
        properties = {**properties, "$session_id": item.columns["session"]}
    return {
        "id": item.uuid,
        "uuid": item.uuid,
        "distinct_id": item.distinct_id,
        "event": item.event,
        "timestamp": item.timestamp.isoformat().replace("+00:00", "Z"),
        "properties": properties,
        "person": {"id": item.person_id, "properties": item.person_properties},
        "elements": [],
        "elements_chain": "",
    }


def _time(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{name} must be an ISO 8601 time", name) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@dual_route(router, "/events/", ["GET"])
async def list_events(request: Request, caller: Caller = Depends(require("query:read"))) -> Response:
    q = request.query_params
    limit = int(q["limit"]) if q.get("limit", "").isdigit() else 100
    try:
        filters = translate_properties(orjson.loads(q["properties"])) if q.get("properties") else ()
    except (orjson.JSONDecodeError, QueryError) as exc:
        raise invalid(f"properties: {exc}", "properties") from exc
    ascending = q.get("orderBy", "") in ('["timestamp"]', "timestamp")
    query = EventLogQuery(
        caller.project.id,
        event=q.get("event") or None,
        distinct_id=q.get("distinct_id") or None,
        person_id=q.get("person_id") or None,
        filters=filters,
        before=_time(q.get("before"), "before"),
        after=_time(q.get("after"), "after"),
        ascending=ascending,
        limit=min(max(limit, 1), 1000),
    )
    try:
        found = await run_in_threadpool(run_event_log, request.app.state.runtime.engine, query)
    except (QueryError, ValueError) as exc:
        raise invalid(str(exc)) from exc
    next_url = None
    if len(found) == query.limit:
        edge = found[-1].timestamp.isoformat().replace("+00:00", "Z")
        next_url = str(request.url.include_query_params(**({"after": edge} if ascending else {"before": edge})))
    return json_response({"next": next_url, "results": [event_json(e) for e in found]})


@dual_route(router, "/events/{event_id}/", ["GET"])
async def retrieve_event(request: Request, event_id: str, caller: Caller = Depends(require("query:read"))) -> Response:
    found = await run_in_threadpool(
        run_event_log, request.app.state.runtime.engine, EventLogQuery(caller.project.id, uuid=event_id, limit=1)
    )
    if not found:
        raise not_found()
    return json_response(event_json(found[0]))
