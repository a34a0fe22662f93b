"""`POST /api/projects/:id/query/`: run a TrendsQuery, FunnelsQuery, …, an EventsQuery, or an ActorsQuery /
InsightActorsQuery (who is behind a number) directly (scope `query:read`)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import capped_body, dual_route
from footfall.api.posthog.errors import PostHogAPIError, invalid
from footfall.api.posthog.runner import run_query
from footfall.api.posthog.tables import run_table, table_query
from footfall.query.spec import QueryError

router = APIRouter(tags=["PostHog query"])


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await capped_body(request))
    except orjson.JSONDecodeError as exc:
        raise invalid("request body must be JSON") from exc
    if not isinstance(body, dict):
        raise invalid("request body must be a JSON object")
    return body


@dual_route(router, "/query/", ["POST"])
async def query(request: Request, caller: Caller = Depends(require("query:read"))) -> Response:
    body = await _json_body(request)
    if "query" not in body:
        raise invalid("query is required", "query")
    runtime = request.app.state.runtime
    table = table_query(body["query"])
    try:
        if table is not None:  # events and persons are read fresh: never cached
            envelope = await run_in_threadpool(run_table, runtime.engine, caller.project, table)
        else:
            envelope = await run_in_threadpool(
                run_query,
                runtime.engine,
                request.app.state.query_cache,
                caller.project,
                body["query"],
                body.get("refresh", "blocking"),
            )
    except QueryError as exc:
        raise PostHogAPIError(400, "invalid_input", str(exc), "query") from exc
    return Response(orjson.dumps(envelope), media_type="application/json")
