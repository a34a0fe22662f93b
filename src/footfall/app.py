"""The ASGI app: ingestion, APIs, health and metrics around one Runtime."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from footfall import __version__, admin
from footfall.config import Settings
from footfall.ingest.routes import router as ingest_router
from footfall.metrics import Metrics
from footfall.runtime import Runtime

log = logging.getLogger("footfall.http")


def create_app(settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    """The app; it opens (and on shutdown closes) its own Runtime unless one is handed in."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or Runtime(settings)
        app.state.runtime = rt
        app.state.metrics = Metrics(rt)
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
    app.include_router(admin.router)

    @app.middleware("http")
    async def observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("unhandled error", extra={"method": request.method, "path": request.url.path})
            response = Response(orjson.dumps({"error": "internal error"}), 500, media_type="application/json")
        elapsed = time.perf_counter() - start
        route = request.scope.get("route")
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            metrics.requests.labels(getattr(route, "path", "unmatched"), str(response.status_code)).observe(elapsed)
        if response.status_code >= 400 or elapsed > 1:
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.url.path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 1),
                },
            )
        return response

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
