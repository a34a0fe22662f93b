"""PostHog exports: PNG, PDF and CSV of a dashboard or an insight, rendered in the background.

`POST .../exports/` creates the asset and waits briefly for the render (as PostHog does, up to a few
seconds); `GET .../exports/:id/content/` answers 409 with `Retry-After: 5` until the file exists. Charts are
the Vega-Lite specs the web UI draws, rendered by vl-convert; CSV holds the numbers the API returns.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import PathId, body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.runner import run_query, with_dashboard_filters
from footfall.api.posthog.serialize import iso
from footfall.meta import dashboards as boards
from footfall.meta.accounts import ProjectInfo
from footfall.meta.db import MetaDB
from footfall.meta.models import Dashboard, DashboardText, ExportedAsset, Insight, utcnow
from footfall.query.cache import ResultCache
from footfall.query.spec import QueryError
from footfall.render import charts, tables

router = APIRouter(tags=["PostHog exports"])

FORMATS = {"image/png": "png", "application/pdf": "pdf", "text/csv": "csv"}
EXPIRY = {"text/csv": dt.timedelta(days=7)}
DEFAULT_EXPIRY = dt.timedelta(days=182)
WAIT_SECONDS = 10.0


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    export_format: str
    dashboard: int | None = None
    insight: int | None = None
    export_context: dict[str, Any] | None = None
    expires_after: dt.datetime | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "export"


def _title(session: Any, asset: ExportedAsset) -> str:
    if asset.dashboard_id:
        board = session.get(Dashboard, asset.dashboard_id)
        return board.name if board else "dashboard"
    item = session.get(Insight, asset.insight_id)
    return (item.name or item.derived_name or "insight") if item else "insight"


def describe(session: Any, asset: ExportedAsset) -> dict[str, Any]:
    ext = FORMATS.get(asset.export_format, "bin")
    stamp = asset.created_at.strftime("%Y-%m-%d-%H%M%S")
    return {
        "id": asset.id,
        "dashboard": asset.dashboard_id,
        "insight": asset.insight_id,
        "export_format": asset.export_format,
        "created_at": iso(asset.created_at),
        "has_content": bool(asset.content_path),
        "export_context": asset.export_context or {},
        "filename": f"export-{_slug(_title(session, asset))}-{stamp}.{ext}",
        "expires_after": iso(asset.expires_after),
        "exception": asset.error,
    }


class Renderer:
    """Renders assets off the request path; one thread per asset (exports are rare and bounded in size)."""

    def __init__(self, meta: MetaDB, engine: Any, cache: ResultCache, directory: Path) -> None:
        self.meta, self.engine, self.cache, self.directory = meta, engine, cache, directory
        directory.mkdir(parents=True, exist_ok=True)

    def start(self, asset_id: int, project: ProjectInfo) -> threading.Thread:
        thread = threading.Thread(target=self.render, args=(asset_id, project), name=f"export-{asset_id}", daemon=True)
        thread.start()
        return thread

    def _insight(
        self, item: Insight, project: ProjectInfo, width: int, height: int, filters: dict[str, Any] | None = None
    ) -> tuple[dict, list]:
        kind = boards.insight_kind(item.query)
        title = item.name or item.derived_name or kind
        query = with_dashboard_filters(item.query, filters)
        try:
            results = run_query(self.engine, self.cache, project, query, "blocking")["results"]
        except QueryError as exc:
            return charts.text(f"{title}: {exc}", width, 40), [["Error", str(exc)]]
        source = (item.query or {}).get("source") or item.query or {}
        display = (source.get("trendsFilter") or {}).get("display") or "ActionsLineGraph"
        return charts.for_insight(kind, results, title, display, width, height), tables.rows(kind, results)

    def content(self, session: Any, asset: ExportedAsset, project: ProjectInfo) -> bytes:
        import vl_convert

        if asset.dashboard_id:
            board = session.get(Dashboard, asset.dashboard_id)
            specs, sections = [], []
            for tile in boards.tiles(session, board.id):
                if tile.insight_id:
                    item = session.get(Insight, tile.insight_id)
                    if item is None or item.deleted:
                        continue
                    spec, table = self._insight(item, project, 480, 220, board.filters)
                    specs.append(spec)
                    sections.append((item.name or item.derived_name or "Insight", table))
                elif tile.text_id:
                    text = session.get(DashboardText, tile.text_id)
                    specs.append(charts.text(text.body if text else "", 480))
            spec = charts.dashboard(specs, board.name)
        else:
            item = session.get(Insight, asset.insight_id)
            spec, table = self._insight(item, project, charts.WIDTH, charts.HEIGHT)
            sections = [(item.name or "Insight", table)]
        if asset.export_format == "text/csv":
            return tables.to_csv(sections)
        if asset.export_format == "application/pdf":
            return vl_convert.vegalite_to_pdf(spec)
        return vl_convert.vegalite_to_png(spec, scale=2)

    def render(self, asset_id: int, project: ProjectInfo) -> None:
        with self.meta.session() as session, session.begin():
            asset = session.get(ExportedAsset, asset_id)
            if asset is None:
                return
            try:
                data = self.content(session, asset, project)
            except Exception as exc:  # stored on the asset and shown by the API; never kills the server
                asset.error = f"{type(exc).__name__}: {exc}"
                return
            path = self.directory / f"{asset.id}.{FORMATS[asset.export_format]}"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
            asset.content_path = path.name


def renderer(request: Request) -> Renderer:
    state = request.app.state
    if not hasattr(state, "export_renderer"):
        runtime = state.runtime
        state.export_renderer = Renderer(
            runtime.meta, runtime.engine, state.query_cache, runtime.settings.data_dir / "exports"
        )
    return state.export_renderer


def _get(session: Any, caller: Caller, asset_id: int) -> ExportedAsset:
    asset = session.get(ExportedAsset, asset_id)
    if asset is None or asset.project_id != caller.project.id:
        raise not_found()
    return asset


@dual_route(router, "/exports/", ["GET"])
def list_exports(request: Request, caller: Caller = Depends(require("export:read"))) -> Response:
    limit, offset = limit_offset(request)
    with request.app.state.runtime.meta.session() as session:
        where = ExportedAsset.project_id == caller.project.id
        count = session.scalar(select(func.count()).select_from(ExportedAsset).where(where)) or 0
        found = session.scalars(
            select(ExportedAsset).where(where).order_by(ExportedAsset.id.desc()).offset(offset).limit(limit)
        )
        return json_response(page(request, [describe(session, a) for a in found], count, limit, offset))


@dual_route(router, "/exports/", ["POST"])
async def create_export(request: Request, caller: Caller = Depends(require("export:write"))) -> Response:
    body = await body_of(request, ExportIn)
    if body.export_format not in FORMATS:
        raise invalid(f"export_format must be one of {', '.join(FORMATS)}", "export_format")
    if bool(body.dashboard) == bool(body.insight):
        raise invalid("export exactly one dashboard or one insight", "dashboard")
    with request.app.state.runtime.meta.session() as session, session.begin():
        try:
            if body.dashboard:
                boards.dashboard(session, caller.project.id, body.dashboard)
            else:
                boards.insight(session, caller.project.id, body.insight or 0)
        except boards.NotFound as exc:
            raise invalid(
                "no such dashboard or insight in this project", "dashboard" if body.dashboard else "insight"
            ) from exc
        asset = ExportedAsset(
            project_id=caller.project.id,
            dashboard_id=body.dashboard,
            insight_id=body.insight,
            export_format=body.export_format,
            export_context=body.export_context or {},
            created_by_id=caller.user_id,
            expires_after=body.expires_after or utcnow() + EXPIRY.get(body.export_format, DEFAULT_EXPIRY),
        )
        session.add(asset)
        session.flush()
        asset_id = asset.id
    thread = renderer(request).start(asset_id, caller.project)
    await run_in_threadpool(thread.join, WAIT_SECONDS)
    with request.app.state.runtime.meta.session() as session:
        return json_response(describe(session, _get(session, caller, asset_id)), 201)


@dual_route(router, "/exports/{asset_id}/", ["GET"])
def retrieve_export(request: Request, asset_id: PathId, caller: Caller = Depends(require("export:read"))) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return json_response(describe(session, _get(session, caller, asset_id)))


@dual_route(router, "/exports/{asset_id}/content/", ["GET"])
def export_content(request: Request, asset_id: PathId, caller: Caller = Depends(require("export:read"))) -> Response:
    with request.app.state.runtime.meta.session() as session:
        asset = _get(session, caller, asset_id)
        info = describe(session, asset)
        if asset.error:
            raise PostHogAPIError(400, "export_failed", f"the export could not be rendered: {asset.error}")
        if asset.expires_after and asset.expires_after.replace(tzinfo=dt.UTC) < utcnow():
            raise PostHogAPIError(404, "not_found", "This export has expired.")
        if not asset.content_path:
            raise PostHogAPIError(409, "not_ready", "The export is still being rendered.", headers={"Retry-After": "5"})
        try:
            data = (renderer(request).directory / asset.content_path).read_bytes()
        except FileNotFoundError as exc:  # the data dir's exports folder was cleaned by hand
            raise PostHogAPIError(404, "not_found", "This export's file no longer exists; export again.") from exc
    disposition = "attachment" if request.query_params.get("download") in ("true", "1") else "inline"
    return Response(
        data,
        media_type=asset.export_format,
        headers={"Content-Disposition": f'{disposition}; filename="{info["filename"]}"'},
    )
