"""PostHog dashboards: list, create (templates, duplicates), retrieve with tiles, PATCH (soft delete, tiles),
`move_tile`, `stream_tiles` (Server-Sent Events), `create_from_template_json`, `create_unlisted_dashboard`.
DELETE is 405 as in PostHog: deletion is `PATCH {"deleted": true}`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import PathId, body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.runner import run_query, with_dashboard_filters
from footfall.api.posthog.serialize import dashboard_basic, dashboard_full, tile
from footfall.api.posthog.serialize import insight as insight_json
from footfall.meta import dashboards as boards
from footfall.meta.accounts import ProjectInfo
from footfall.meta.models import Dashboard, DashboardText, DashboardTile, Insight
from footfall.query.spec import QueryError

router = APIRouter(tags=["PostHog dashboards"])


class DashboardIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=400)
    description: str | None = None
    pinned: bool | None = None
    tags: list[str] | None = None
    restriction_level: int | None = None
    filters: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None
    breakdown_colors: list[Any] | None = None
    deleted: bool | None = None
    delete_insights: bool = False
    use_template: str | None = None
    use_dashboard: int | None = None
    duplicate_tiles: bool = False
    tiles: list[dict[str, Any]] | None = None


class MoveTileIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tile: dict[str, Any]
    toDashboard: int


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    template: dict[str, Any]


class UnlistedIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tag: str = Field(min_length=1, max_length=200)


TILE_WORKERS = 4  # engine queries release the GIL, so tiles computed side by side use every core


def _results(
    request: Request, project: ProjectInfo, items: list[Insight], refresh: str, filters: dict[str, Any] | None = None
) -> dict[int, dict[str, Any]]:
    """Each insight's results through the shared runner, several at once; a broken query shows as an error
    on its tile, not a 500."""
    engine, cache = request.app.state.runtime.engine, request.app.state.query_cache

    def one(item: Insight) -> dict[str, Any]:
        try:
            return run_query(engine, cache, project, with_dashboard_filters(item.query, filters), refresh)
        except QueryError as exc:
            return {"results": None, "error": str(exc)}

    runnable = [item for item in items if item.query is not None]
    if len(runnable) <= 1:
        return {item.id: one(item) for item in runnable}
    with ThreadPoolExecutor(max_workers=TILE_WORKERS) as pool:
        return dict(zip([item.id for item in runnable], pool.map(one, runnable), strict=True))


def _full(request: Request, project: ProjectInfo, session: Any, board: Dashboard, refresh: str) -> dict[str, Any]:
    insight_ids = [t.insight_id for t in boards.tiles(session, board.id) if t.insight_id]
    items = [i for i in (session.get(Insight, n) for n in insight_ids) if i is not None and not i.deleted]
    return dashboard_full(session, board, _results(request, project, items, refresh, board.filters))


def _get(session: Any, caller: Caller, dashboard_id: int, include_deleted: bool = False) -> Dashboard:
    try:
        return boards.dashboard(session, caller.project.id, dashboard_id, include_deleted)
    except boards.NotFound as exc:
        raise not_found() from exc


@dual_route(router, "/dashboards/", ["GET"])
def list_dashboards(request: Request, caller: Caller = Depends(require("dashboard:read"))) -> Response:
    limit, offset = limit_offset(request)
    meta = request.app.state.runtime.meta
    query = select(Dashboard).where(
        Dashboard.project_id == caller.project.id, Dashboard.deleted.is_(False), Dashboard.creation_mode != "unlisted"
    )
    with meta.session() as session:
        found = [d for d in session.scalars(query.order_by(Dashboard.pinned.desc(), Dashboard.name, Dashboard.id))]
        tags = request.query_params.getlist("tags")
        if tags:
            found = [d for d in found if set(tags) & set(d.tags or [])]
        items = [dashboard_basic(session, d) for d in found[offset : offset + limit]]
    return json_response(page(request, items, len(found), limit, offset))


@dual_route(router, "/dashboards/", ["POST"])
async def create_dashboard(request: Request, caller: Caller = Depends(require("dashboard:write"))) -> Response:
    body = await body_of(request, DashboardIn)
    return await run_in_threadpool(_create, request, caller, body)


def _create(request: Request, caller: Caller, body: DashboardIn) -> Response:
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        if body.use_template:
            template = boards.TEMPLATES.get(body.use_template)
            if template is None:
                raise invalid(f"unknown template: {body.use_template}", "use_template")
            board = boards.from_template(session, caller.project.id, caller.user_id, template)
            if body.name:
                board.name = body.name
        else:
            board = boards.create_dashboard(
                session,
                caller.project.id,
                caller.user_id,
                body.name or "New dashboard",
                description=body.description or "",
                pinned=bool(body.pinned),
                tags=body.tags or [],
                restriction_level=body.restriction_level or 21,
                filters=body.filters or {},
                creation_mode="duplicate" if body.use_dashboard else "default",
            )
            if body.use_dashboard:
                source = _get(session, caller, body.use_dashboard)
                boards.duplicate(session, source, board, body.duplicate_tiles, caller.user_id)
        if body.tiles:
            _apply_tiles(session, caller, board, body.tiles)
        data = _full(request, caller.project, session, board, "force_cache")
    return json_response(data, 201)


@dual_route(router, "/dashboards/{dashboard_id}/", ["GET"])
def retrieve_dashboard(
    request: Request, dashboard_id: PathId, caller: Caller = Depends(require("dashboard:read"))
) -> Response:
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        board = _get(session, caller, dashboard_id)
        boards.touch(board)
        data = _full(request, caller.project, session, board, request.query_params.get("refresh", "blocking"))
    return json_response(data)


@dual_route(router, "/dashboards/{dashboard_id}/", ["PATCH", "PUT"])
async def update_dashboard(
    request: Request, dashboard_id: PathId, caller: Caller = Depends(require("dashboard:write"))
) -> Response:
    body = await body_of(request, DashboardIn)
    return await run_in_threadpool(_update, request, caller, dashboard_id, body)


def _update(request: Request, caller: Caller, dashboard_id: int, body: DashboardIn) -> Response:
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        board = _get(session, caller, dashboard_id, include_deleted=body.deleted is not None)
        for field in (
            "name",
            "description",
            "pinned",
            "tags",
            "restriction_level",
            "filters",
            "variables",
            "breakdown_colors",
        ):
            value = getattr(body, field)
            if value is not None:
                setattr(board, field, value)
        if body.deleted is not None and body.deleted != board.deleted:
            boards.set_deleted(session, board, body.deleted, body.delete_insights)
        if body.tiles:
            _apply_tiles(session, caller, board, body.tiles)
        data = _full(request, caller.project, session, board, "force_cache")
    return json_response(data)


def _apply_tiles(session: Any, caller: Caller, board: Dashboard, specs: list[dict[str, Any]]) -> None:
    """PATCH tiles: display fields of existing tiles; text tiles are created or edited (PostHog's rules)."""
    for spec in specs:
        text = spec.get("text") if isinstance(spec.get("text"), dict) else None
        if spec.get("id") is None:
            if text is None:
                raise invalid("only text tiles can be added through tiles; add insights with their dashboards", "tiles")
            boards.add_text_tile(
                session, board, str(text.get("body") or ""), caller.user_id, spec.get("layouts"), spec.get("color")
            )
            continue
        found = session.get(DashboardTile, spec["id"]) if isinstance(spec["id"], int) else None
        if found is None or found.dashboard_id != board.id:
            raise invalid(f"tile {spec['id']} is not on this dashboard", "tiles")
        for field in ("color", "layouts", "show_description", "transparent_background", "deleted", "filters_overrides"):
            if field in spec:
                setattr(found, field, spec[field])
        if text is not None and found.text_id:
            stored = session.get(DashboardText, found.text_id)
            if stored is not None:
                stored.body = str(text.get("body") or "")[:4000]


@dual_route(router, "/dashboards/{dashboard_id}/", ["DELETE"])
def delete_dashboard(dashboard_id: PathId, caller: Caller = Depends(require("dashboard:write"))) -> Response:
    raise PostHogAPIError(405, "method_not_allowed", 'Method "DELETE" not allowed. To delete, PATCH {"deleted": true}.')


@dual_route(router, "/dashboards/{dashboard_id}/move_tile/", ["PATCH"])
async def move_tile(
    request: Request, dashboard_id: PathId, caller: Caller = Depends(require("dashboard:write"))
) -> Response:
    body = await body_of(request, MoveTileIn)
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        source = _get(session, caller, dashboard_id)
        target = _get(session, caller, body.toDashboard)
        found = session.get(DashboardTile, body.tile.get("id")) if isinstance(body.tile.get("id"), int) else None
        if found is None or found.dashboard_id != source.id:
            raise invalid("tile is not on this dashboard", "tile")
        boards.move_tile(session, found, target)
        data = _full(request, caller.project, session, source, "force_cache")
    return json_response(data)


@dual_route(router, "/dashboards/{dashboard_id}/stream_tiles/", ["GET"])
def stream_tiles(
    request: Request, dashboard_id: PathId, caller: Caller = Depends(require("dashboard:read"))
) -> Response:
    """Server-Sent Events: the dashboard's metadata first, then each tile as its insight is computed."""
    meta = request.app.state.runtime.meta
    refresh = request.query_params.get("refresh", "blocking")
    with meta.session() as session:
        board = _get(session, caller, dashboard_id)
        header = dashboard_basic(session, board)
        tile_ids = [t.id for t in boards.tiles(session, board.id)]
        filters = dict(board.filters or {})

    def message(kind: str, data: Any) -> bytes:
        return f"event: {kind}\ndata: ".encode() + orjson.dumps({"type": kind, **data}) + b"\n\n"

    def tile_message(tile_id: int) -> bytes:
        with meta.session() as session:
            item = session.get(DashboardTile, tile_id)
            found = session.get(Insight, item.insight_id) if item and item.insight_id else None
            result = _results(request, caller.project, [found], refresh, filters).get(found.id) if found else None
            return message(
                "tile", {"tile": tile(session, item, insight_json(session, found, result) if found else None)}
            )

    async def events() -> AsyncIterator[bytes]:
        yield message("metadata", {"dashboard": header, "tile_count": len(tile_ids)})
        for tile_id in tile_ids:
            yield await run_in_threadpool(tile_message, tile_id)
        yield message("complete", {"dashboard_id": dashboard_id})

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@dual_route(router, "/dashboards/create_from_template_json/", ["POST"])
async def create_from_template_json(request: Request, caller: Caller = Depends(require("dashboard:write"))) -> Response:
    body = await body_of(request, TemplateIn)
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        try:
            board = boards.from_template(session, caller.project.id, caller.user_id, body.template)
        except ValueError as exc:
            raise invalid(str(exc), "template") from exc
        data = _full(request, caller.project, session, board, "force_cache")
    return json_response(data)


@dual_route(router, "/dashboards/create_unlisted_dashboard/", ["POST"])
async def create_unlisted(request: Request, caller: Caller = Depends(require("dashboard:write"))) -> Response:
    body = await body_of(request, UnlistedIn)
    meta = request.app.state.runtime.meta
    with meta.session() as session, session.begin():
        exists = session.scalar(
            select(func.count())
            .select_from(Dashboard)
            .where(
                Dashboard.project_id == caller.project.id,
                Dashboard.unlisted_tag == body.tag,
                Dashboard.deleted.is_(False),
            )
        )
        if exists:
            raise PostHogAPIError(409, "conflict", f"an unlisted dashboard with tag {body.tag!r} exists already")
        board = boards.create_dashboard(
            session,
            caller.project.id,
            caller.user_id,
            body.tag,
            creation_mode="unlisted",
            unlisted_tag=body.tag,
            tags=[body.tag],
        )
        data = _full(request, caller.project, session, board, "force_cache")
    return json_response(data)


def shared_dashboard(request: Request, session: Any, project: ProjectInfo, dashboard_id: int) -> dict[str, Any]:
    """A shared dashboard as its public link shows it (cached results, computed when missing)."""
    try:
        board = boards.dashboard(session, project.id, dashboard_id)
    except boards.NotFound as exc:
        raise not_found() from exc
    return _full(request, project, session, board, "blocking")
