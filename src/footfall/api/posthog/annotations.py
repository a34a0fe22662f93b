"""PostHog's annotations: list (search, scope, created before/after, chart, deleted), create, retrieve, PATCH.

The rows are the ones Amplitude's annotation APIs read and write (`footfall.meta.annotations`), so a note
made in either API shows in both. Deletion is `PATCH {"deleted": true}`; DELETE is 405 as in PostHog. A
time without an offset is UTC. "organization" annotations stay in their project: a key of one project never
reads another's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.serialize import iso, user
from footfall.meta import annotations
from footfall.meta import dashboards as boards
from footfall.meta.models import Annotation, Dashboard, Insight

router = APIRouter(tags=["PostHog annotations"])

Scope = Literal["dashboard_item", "dashboard", "project", "organization"]
_ORDER = {
    "date_marker": Annotation.date_marker,
    "created_at": Annotation.created_at,
    "updated_at": Annotation.updated_at,
    "id": Annotation.id,
}
RowId = Annotated[int, Field(ge=1, lt=2**62)]


class AnnotationIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str | None = Field(default=None, max_length=400)
    date_marker: dt.datetime | None = None
    creation_type: Literal["USR", "GIT"] | None = None
    dashboard_item: RowId | None = None
    dashboard_id: RowId | None = None
    scope: Scope | None = None
    deleted: bool | None = None


def annotation_json(session: Session, item: Annotation) -> dict[str, Any]:
    insight = session.get(Insight, item.insight_id) if item.insight_id else None
    dashboard = session.get(Dashboard, item.dashboard_id) if item.dashboard_id else None
    return {
        "id": item.id,
        "content": item.content,
        "date_marker": iso(item.date_marker),
        "creation_type": item.creation_type,
        "dashboard_item": item.insight_id,
        "dashboard_id": item.dashboard_id,
        "dashboard_name": dashboard.name if dashboard else None,
        "insight_short_id": insight.short_id if insight else None,
        "insight_name": insight.name if insight else None,
        "insight_derived_name": insight.derived_name if insight else None,
        "created_by": user(session, item.created_by_id),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "deleted": item.deleted,
        "scope": item.scope,
    }


def _time(request: Request, name: str) -> dt.datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f"{name} must be an ISO 8601 time", name) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise invalid(f"{name} must be true or false", name)
    return raw.lower() in ("true", "1")


@dual_route(router, "/annotations/", ["GET"])
def list_annotations(request: Request, caller: Caller = Depends(require("annotation:read"))) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    conditions = [Annotation.project_id == caller.project.id, Annotation.deleted.is_(bool(_flag(request, "deleted")))]
    if q.get("search"):
        conditions.append(func.lower(Annotation.content).contains(q["search"].lower(), autoescape=True))
    if q.get("scope"):
        conditions.append(Annotation.scope == q["scope"])
    if (after := _time(request, "after")) is not None:
        conditions.append(Annotation.created_at > after)
    if (before := _time(request, "before")) is not None:
        conditions.append(Annotation.created_at < before)
    if q.get("dashboardItemId"):
        if not q["dashboardItemId"].isdigit():
            raise invalid("dashboardItemId must be an insight id", "dashboardItemId")
        conditions.append(Annotation.insight_id == int(q["dashboardItemId"]))
    apply_all = _flag(request, "apply_all")
    if apply_all is not None:  # true: the annotations shown on every chart; false: those of one chart
        conditions.append(
            (Annotation.scope != "dashboard_item") if apply_all else (Annotation.scope == "dashboard_item")
        )
    order = q.get("order", "-date_marker")
    column = _ORDER.get(order.removeprefix("-"))
    if column is None:
        raise invalid(f"order must be one of {', '.join(_ORDER)} (with - for descending)", "order")
    with request.app.state.runtime.meta.session() as session:
        count = session.scalar(select(func.count()).select_from(Annotation).where(*conditions)) or 0
        found = session.scalars(
            select(Annotation)
            .where(*conditions)
            .order_by(column.desc() if order.startswith("-") else column, Annotation.id.desc())
            .limit(limit)
            .offset(offset)
        )
        items = [annotation_json(session, a) for a in found]
    return json_response(page(request, items, count, limit, offset))


def _apply(session: Session, caller: Caller, item: Annotation, body: AnnotationIn) -> None:
    """The fields the body carries; a new attachment (chart, dashboard, scope) is checked against the project."""
    given = body.model_fields_set
    if "content" in given:
        item.content = body.content or ""
    if "date_marker" in given:
        if body.date_marker is None:
            raise invalid("date_marker may not be null", "date_marker")
        marker = body.date_marker
        item.date_marker = marker if marker.tzinfo else marker.replace(tzinfo=dt.UTC)
    if body.creation_type is not None:
        item.creation_type = body.creation_type
    if "deleted" in given and body.deleted is not None:
        item.deleted = body.deleted
    if not given & {"dashboard_item", "dashboard_id", "scope"}:
        return
    insight_id = body.dashboard_item if "dashboard_item" in given else item.insight_id
    dashboard_id = body.dashboard_id if "dashboard_id" in given else item.dashboard_id
    try:
        insight = boards.insight(session, caller.project.id, insight_id) if insight_id is not None else None
    except boards.NotFound as exc:
        raise invalid(f"insight {insight_id} is not in this project", "dashboard_item") from exc
    try:
        dashboard = boards.dashboard(session, caller.project.id, dashboard_id) if dashboard_id is not None else None
    except boards.NotFound as exc:
        raise invalid(f"dashboard {dashboard_id} is not in this project", "dashboard_id") from exc
    scope = body.scope if "scope" in given else None
    if scope == "dashboard_item" and insight is None:
        raise invalid("an annotation scoped to an insight needs dashboard_item", "dashboard_item")
    if scope == "dashboard" and dashboard is None:
        raise invalid("an annotation scoped to a dashboard needs dashboard_id", "dashboard_id")
    annotations.attach(item, insight, dashboard, scope)


@dual_route(router, "/annotations/", ["POST"])
async def create_annotation(request: Request, caller: Caller = Depends(require("annotation:write"))) -> Response:
    body = await body_of(request, AnnotationIn)
    if body.date_marker is None:
        raise invalid("date_marker is required", "date_marker")
    with request.app.state.runtime.meta.session() as session, session.begin():
        item = Annotation(project_id=caller.project.id, created_by_id=caller.user_id or None)
        _apply(session, caller, item, body)
        session.add(item)
        session.flush()
        return json_response(annotation_json(session, item), 201)


def _get(session: Session, caller: Caller, annotation_id: int) -> Annotation:
    found = annotations.find(session, caller.project.id, annotation_id, include_deleted=True)
    if found is None:
        raise not_found()
    return found


@dual_route(router, "/annotations/{annotation_id}/", ["GET"])
def retrieve_annotation(
    request: Request, annotation_id: int, caller: Caller = Depends(require("annotation:read"))
) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return json_response(annotation_json(session, _get(session, caller, annotation_id)))


@dual_route(router, "/annotations/{annotation_id}/", ["PATCH", "PUT"])
async def update_annotation(
    request: Request, annotation_id: int, caller: Caller = Depends(require("annotation:write"))
) -> Response:
    body = await body_of(request, AnnotationIn)
    with request.app.state.runtime.meta.session() as session, session.begin():
        item = _get(session, caller, annotation_id)
        _apply(session, caller, item, body)
        session.flush()
        return json_response(annotation_json(session, item))


@dual_route(router, "/annotations/{annotation_id}/", ["DELETE"])
def delete_annotation(annotation_id: int, caller: Caller = Depends(require("annotation:write"))) -> Response:
    raise PostHogAPIError(405, "method_not_allowed", 'Method "DELETE" not allowed. To delete, PATCH {"deleted": true}.')
