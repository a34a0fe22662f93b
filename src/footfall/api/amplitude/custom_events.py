"""`/api/2/custom-events`: a project's Amplitude custom events, which queries name as `ce:<name>`.

In Amplitude a custom event is a saved definition made in the web app: any of several events, each with
its own filters. Amplitude has no public API for them, so footfall offers this small one under the same
HTTP Basic `api_key:secret_key` as the Dashboard REST API:

- `GET /api/2/custom-events`: `{"data": [CUSTOM_EVENT, ...]}`
- `PUT /api/2/custom-events/{name}` with `{"events": [{"event_type", "filters"}, ...], "description"}`: create
  it, or replace its definition; `{"data": CUSTOM_EVENT}`
- `DELETE /api/2/custom-events/{name}`: `{"success": true}`, 404 when there is none

The events are `e` objects (`footfall.api.amplitude.params`), checked when saved and read on each query, so
a query sees a changed definition at once. Errors are Amplitude's plain-text `HTTP 400: Bad Request (...)`.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from footfall.api.amplitude import params
from footfall.api.amplitude.errors import amplitude_error
from footfall.api.auth import amplitude_project
from footfall.meta import custom_events as rows
from footfall.meta.accounts import ProjectInfo
from footfall.meta.db import MetaDB
from footfall.meta.models import CustomEvent

router = APIRouter(tags=["Amplitude custom events"])

MAX_NAME = 400


def lookup(meta: MetaDB, project_id: int) -> params.CustomEvents:
    """The project's custom events for `params.event`: read only when a query names one."""

    def definition(name: str) -> Any:
        with meta.session() as session:
            found = rows.get(session, project_id, name)
            return None if found is None else found.events

    return definition


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def custom_event_json(found: CustomEvent) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "event_type": f"ce:{found.name}",
        "events": found.events,
        "description": found.description,
    }


@router.get("/api/2/custom-events")
def list_custom_events(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return _json({"data": [custom_event_json(c) for c in rows.list_all(session, project.id)]})


@router.put("/api/2/custom-events/{name:path}")
async def put_custom_event(name: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return amplitude_error(400, "The body must be JSON")
    name = name.removeprefix("ce:")
    if not name.strip() or len(name) > MAX_NAME:
        return amplitude_error(400, f"A custom event's name has 1 to {MAX_NAME} characters")
    if not isinstance(body, dict) or not isinstance(body.get("description", ""), str):
        return amplitude_error(400, 'The body is {"events": [...], "description": "..."}')
    try:
        params.custom_event_parts(body.get("events"))
    except params.BadRequest as exc:
        return amplitude_error(400, str(exc))
    return await run_in_threadpool(_put, request, project, name, body["events"], body.get("description", ""))


def _put(request: Request, project: ProjectInfo, name: str, events: list[Any], description: str) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        return _json({"data": custom_event_json(rows.put(session, project.id, name, events, description))})


@router.delete("/api/2/custom-events/{name:path}")
def delete_custom_event(name: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        if not rows.delete(session, project.id, name.removeprefix("ce:")):
            return amplitude_error(404, f"Unknown custom event: ce:{name.removeprefix('ce:')}")
    return _json({"success": True})
