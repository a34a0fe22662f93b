"""PostHog insights: CRUD with a `query` (InsightVizNode), results on the shared engine, soft delete.

An insight is also an Amplitude saved chart (same row). Adding it to `dashboards` creates tiles there;
removing a dashboard from the list removes its tile.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import PathId, body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.runner import run_query, unwrap
from footfall.api.posthog.serialize import insight as insight_json
from footfall.meta import dashboards as boards
from footfall.meta.accounts import ProjectInfo
from footfall.meta.models import DashboardTile, Insight, utcnow
from footfall.query.spec import QueryError

router = APIRouter(tags=["PostHog insights"])


class InsightIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=400)
    description: str | None = None
    query: dict[str, Any] | None = None
    tags: list[str] | None = None
    saved: bool | None = None
    favorited: bool | None = None
    deleted: bool | None = None
    dashboards: list[int] | None = None


def _result(request: Request, project: ProjectInfo, item: Insight, refresh: str) -> dict[str, Any] | None:
    if item.query is None:
        return None
    try:
        return run_query(request.app.state.runtime.engine, request.app.state.query_cache, project, item.query, refresh)
    except QueryError as exc:
        return {"results": None, "error": str(exc)}


def _check_query(query: dict[str, Any] | None) -> None:
    if query is None:
        return
    try:
        unwrap(query)
    except QueryError as exc:
        raise invalid(str(exc), "query") from exc


def _get(session: Any, caller: Caller, insight_id: int, include_deleted: bool = False) -> Insight:
    try:
        return boards.insight(session, caller.project.id, insight_id, include_deleted)
    except boards.NotFound as exc:
        raise not_found() from exc


def _set_dashboards(session: Any, caller: Caller, item: Insight, wanted: list[int]) -> None:
    current = {
        t.dashboard_id: t
        for t in session.scalars(
            select(DashboardTile).where(DashboardTile.insight_id == item.id, DashboardTile.deleted.is_(False))
        )
    }
    for dashboard_id in wanted:
        if dashboard_id not in current:
            try:
                board = boards.dashboard(session, caller.project.id, dashboard_id)
            except boards.NotFound as exc:
                raise invalid(f"dashboard {dashboard_id} does not exist", "dashboards") from exc
            boards.add_insight_tile(session, board, item)
    for dashboard_id, tile in current.items():
        if dashboard_id not in wanted:
            session.delete(tile)


@dual_route(router, "/insights/", ["GET"])
def list_insights(request: Request, caller: Caller = Depends(require("insight:read"))) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    query = select(Insight).where(Insight.project_id == caller.project.id, Insight.deleted.is_(False))
    if q.get("short_id"):
        query = query.where(Insight.short_id == q["short_id"])
    if q.get("saved") in ("true", "1"):
        query = query.where(Insight.saved.is_(True))
    if q.get("search"):
        pattern = f"%{q['search']}%"
        query = query.where(or_(Insight.name.ilike(pattern), Insight.description.ilike(pattern)))
    with request.app.state.runtime.meta.session() as session:
        found = list(session.scalars(query.order_by(Insight.last_modified_at.desc(), Insight.id.desc())))
        refresh = q.get("refresh", "force_cache")
        items = [
            insight_json(session, i, _result(request, caller.project, i, refresh))
            for i in found[offset : offset + limit]
        ]
    return json_response(page(request, items, len(found), limit, offset))


@dual_route(router, "/insights/", ["POST"])
async def create_insight(request: Request, caller: Caller = Depends(require("insight:write"))) -> Response:
    body = await body_of(request, InsightIn)
    _check_query(body.query)

    def create() -> dict[str, Any]:
        with request.app.state.runtime.meta.session() as session, session.begin():
            item = boards.create_insight(
                session,
                caller.project.id,
                caller.user_id,
                body.query,
                name=body.name,
                description=body.description or "",
                tags=body.tags or [],
                saved=body.saved if body.saved is not None else True,
                favorited=bool(body.favorited),
            )
            if body.dashboards:
                _set_dashboards(session, caller, item, body.dashboards)
            return insight_json(session, item, _result(request, caller.project, item, "blocking"))

    return json_response(await run_in_threadpool(create), 201)


@dual_route(router, "/insights/{insight_id}/", ["GET"])
def retrieve_insight(
    request: Request, insight_id: PathId, caller: Caller = Depends(require("insight:read"))
) -> Response:
    with request.app.state.runtime.meta.session() as session:
        item = _get(session, caller, insight_id)
        refresh = request.query_params.get("refresh", "blocking")
        return json_response(insight_json(session, item, _result(request, caller.project, item, refresh)))


@dual_route(router, "/insights/{insight_id}/", ["PATCH", "PUT"])
async def update_insight(
    request: Request, insight_id: PathId, caller: Caller = Depends(require("insight:write"))
) -> Response:
    body = await body_of(request, InsightIn)
    _check_query(body.query)

    def update() -> dict[str, Any]:
        with request.app.state.runtime.meta.session() as session, session.begin():
            item = _get(session, caller, insight_id, include_deleted=body.deleted is not None)
            for field in ("name", "description", "query", "tags", "saved", "favorited"):
                value = getattr(body, field)
                if value is not None:
                    setattr(item, field, value)
            if body.query is not None:
                item.kind = boards.insight_kind(body.query)
            if body.deleted is not None:
                item.deleted = body.deleted
                for tile in session.scalars(select(DashboardTile).where(DashboardTile.insight_id == item.id)):
                    tile.deleted = body.deleted
            if body.dashboards is not None:
                _set_dashboards(session, caller, item, body.dashboards)
            item.last_modified_at, item.last_modified_by_id = utcnow(), caller.user_id
            session.flush()
            return insight_json(session, item, _result(request, caller.project, item, "blocking"))

    return json_response(await run_in_threadpool(update))


@dual_route(router, "/insights/{insight_id}/", ["DELETE"])
def delete_insight(insight_id: PathId, caller: Caller = Depends(require("insight:write"))) -> Response:
    raise PostHogAPIError(405, "method_not_allowed", 'Method "DELETE" not allowed. To delete, PATCH {"deleted": true}.')


def shared_insight(request: Request, session: Any, project: ProjectInfo, insight_id: int | None) -> dict[str, Any]:
    """A shared insight as its public link shows it."""
    try:
        item = boards.insight(session, project.id, insight_id or 0)
    except boards.NotFound as exc:
        raise not_found() from exc
    return insight_json(session, item, _result(request, project, item, "blocking"))
