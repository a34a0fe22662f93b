"""The ASGI app: ingestion, APIs, health and metrics around one Runtime."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from footfall import __version__, admin
from footfall.api.amplitude import annotations as amplitude_annotations
from footfall.api.amplitude import charts as amplitude_charts
from footfall.api.amplitude import cohorts as amplitude_cohorts
from footfall.api.amplitude import composition as amplitude_composition
from footfall.api.amplitude import custom_events as amplitude_custom_events
from footfall.api.amplitude import events_list as amplitude_events_list
from footfall.api.amplitude import export as amplitude_export
from footfall.api.amplitude import funnels as amplitude_funnels
from footfall.api.amplitude import realtime as amplitude_realtime
from footfall.api.amplitude import retention as amplitude_retention
from footfall.api.amplitude import revenue as amplitude_revenue
from footfall.api.amplitude import segmentation as amplitude_segmentation
from footfall.api.amplitude import sessions as amplitude_sessions
from footfall.api.amplitude import useractivity as amplitude_useractivity
from footfall.api.amplitude import users as amplitude_users
from footfall.api.amplitude import usersearch as amplitude_usersearch
from footfall.api.posthog import annotations as posthog_annotations
from footfall.api.posthog import cohorts as posthog_cohorts
from footfall.api.posthog import dashboards as posthog_dashboards
from footfall.api.posthog import definitions as posthog_definitions
from footfall.api.posthog import errors as posthog_errors
from footfall.api.posthog import exports as posthog_exports
from footfall.api.posthog import file_system as posthog_file_system
from footfall.api.posthog import insights as posthog_insights
from footfall.api.posthog import people_events as posthog_people_events
from footfall.api.posthog import projects as posthog_projects
from footfall.api.posthog import query as posthog_query
from footfall.api.posthog import sharing as posthog_sharing
from footfall.api.posthog.errors import PostHogAPIError
from footfall.config import Settings
from footfall.ingest.routes import router as ingest_router
from footfall.metrics import Metrics
from footfall.query.cache import ResultCache
from footfall.runtime import Runtime
from footfall.ui import pages as ui_pages
from footfall.ui import settings as ui_settings

log = logging.getLogger("footfall.http")


class Observe:
    """Latency metrics, a log line for errors and slow requests, and a JSON 500 for unhandled errors.

    Plain ASGI on purpose: `@app.middleware("http")` (BaseHTTPMiddleware) runs each request in an extra
    task and re-streams the response, a large share of an ingest request's cost.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status, elapsed, started = 500, 0.0, False

        async def observed_send(message: Message) -> None:
            nonlocal status, elapsed, started
            if message["type"] == "http.response.start":
                # Timed to the response's start, as a streamed export's body may take much longer.
                status, elapsed, started = message["status"], time.perf_counter() - start, True
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            log.exception("unhandled error", extra={"method": scope["method"], "path": scope["path"]})
            if started:  # nothing else can be sent
                raise
            response = Response(orjson.dumps({"error": "internal error"}), 500, media_type="application/json")
            await response(scope, receive, send)
            status, elapsed = 500, time.perf_counter() - start
        metrics = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            route = scope.get("route")
            metrics.requests.labels(getattr(route, "path", "unmatched"), str(status)).observe(elapsed)
        if status >= 400 or elapsed > 1:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The app; it opens (and on shutdown closes) its own Runtime unless one is handed in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or Runtime(settings)
        app.state.runtime = rt
        app.state.metrics = Metrics(rt)
        app.state.query_cache = ResultCache()
        rt.start()
        try:
            yield
        finally:
            if owned:
                rt.close()

    app = FastAPI(
        title="footfall",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.include_router(ingest_router)
    app.include_router(ui_pages.router)  # before the API's /shared/{token}, which it answers for browsers
    app.include_router(ui_settings.router)
    app.mount("/static", StaticFiles(directory=ui_pages.HERE / "static"), name="static")
    app.include_router(admin.router)
    app.include_router(posthog_query.router)
    app.include_router(posthog_dashboards.router)
    app.include_router(posthog_insights.router)
    app.include_router(posthog_sharing.router)
    app.include_router(posthog_exports.router)
    app.include_router(posthog_file_system.router)
    app.include_router(posthog_people_events.router)
    app.include_router(posthog_cohorts.router)
    app.include_router(posthog_annotations.router)
    app.include_router(posthog_definitions.router)
    app.include_router(posthog_projects.router)
    app.add_exception_handler(PostHogAPIError, posthog_errors.handle)
    app.include_router(amplitude_export.router)
    app.include_router(amplitude_segmentation.router)
    app.include_router(amplitude_funnels.router)
    app.include_router(amplitude_retention.router)
    app.include_router(amplitude_users.router)
    app.include_router(amplitude_sessions.router)
    app.include_router(amplitude_composition.router)
    app.include_router(amplitude_events_list.router)
    app.include_router(amplitude_useractivity.router)
    app.include_router(amplitude_usersearch.router)
    app.include_router(amplitude_realtime.router)
    app.include_router(amplitude_revenue.router)
    app.include_router(amplitude_cohorts.router)
    app.include_router(amplitude_annotations.router)
    app.include_router(amplitude_charts.router)
    app.include_router(amplitude_custom_events.router)

    app.add_middleware(Observe)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return Response(
            orjson.dumps({"detail": exc.detail}),
            exc.status_code,
            media_type="application/json",
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        if request.url.path.startswith(("/api/projects/", "/api/environments/")):  # PostHog's error body
            attr = "__".join(str(part) for part in first.get("loc", ())[1:]) or None
            return await posthog_errors.handle(
                request, PostHogAPIError(400, "invalid_input", str(first.get("msg", "invalid request")), attr)
            )
        return Response(
            orjson.dumps({"detail": "invalid request", "errors": exc.errors()}, default=str),
            400,
            media_type="application/json",
        )

    @app.get("/_health")
    async def health(request: Request) -> Response:
        rt: Runtime = request.app.state.runtime
        flusher = rt.flusher
        body = {
            "status": "ok" if flusher.last_error is None else "degraded",
            "version": __version__,
            "ingestion_lag_bytes": flusher.lag_bytes,
            "ingestion_lag_seconds": round(time.time() - flusher.last_flush_at, 3)
            if flusher.lag_bytes and flusher.last_flush_at
            else 0.0,
            "wal_bytes": rt.wal.size_bytes(),
            "last_flush_at": flusher.last_flush_at,
            "events_flushed": flusher.events_flushed,
            "duplicates_dropped": flusher.duplicates_dropped,
            "flusher_error": flusher.last_error,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/metrics")
    async def metrics(request: Request) -> Response:
        return Response(request.app.state.metrics.render(), media_type="text/plain; version=0.0.4")

    return app
