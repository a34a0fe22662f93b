"""Routing and listing conventions shared by PostHog endpoints: dual prefixes and limit/offset pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ValidationError

from footfall.bodies import API_BODY_LIMIT, TooLarge, read_body

M = TypeVar("M", bound=BaseModel)

PREFIXES = ("/api/projects/{project_id}", "/api/environments/{project_id}")
PAGE_SIZE = 100


# A row id in a URL: a number no row can have (or the database could not bind) is a 400 naming it.
PathId = Annotated[int, Path(ge=1, lt=2**62)]

def dual_route(router: APIRouter, path: str, methods: list[str], **kwargs: Any) -> Callable[[Any], Any]:
    """Register an endpoint under /api/projects/:id and /api/environments/:id, with and without a final '/'."""
    path = path.rstrip("/")

    def register(func: Any) -> Any:
        for prefix in PREFIXES:
            for variant in (path + "/", path):
                documented = prefix == PREFIXES[0] and variant.endswith("/")
                router.add_api_route(prefix + variant, func, methods=methods, include_in_schema=documented, **kwargs)
        return func

    return register


def page(request: Request, items: list[Any], count: int, limit: int, offset: int) -> dict[str, Any]:
    """DRF's LimitOffsetPagination body."""

    def link(new_offset: int) -> str:
        return str(request.url.include_query_params(limit=limit, offset=new_offset))

    return {
        "count": count,
        "next": link(offset + limit) if offset + limit < count else None,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "results": items,
    }


def limit_offset(request: Request) -> tuple[int, int]:
    from footfall.api.posthog.errors import invalid

    try:
        limit = int(request.query_params.get("limit", PAGE_SIZE))
        offset = int(request.query_params.get("offset", 0))
    except ValueError as exc:
        raise invalid("limit and offset must be whole numbers") from exc
    if not 1 <= limit <= 1000 or offset < 0:
        raise invalid("limit must be 1 to 1000 and offset not negative")
    return limit, offset


async def body_of(request: Request, model: type[M]) -> M:
    """The JSON body validated by a pydantic model; problems become PostHog 400s naming the field."""
    from footfall.api.posthog.errors import invalid

    raw = await capped_body(request)
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise invalid("request body must be JSON") from exc
    return validated(model, data)


async def capped_body(request: Request) -> bytes:
    """The raw body, or PostHog's 413 when it is larger than any body this API takes."""
    from footfall.api.posthog.errors import PostHogAPIError

    try:
        return await read_body(request)
    except TooLarge as exc:
        raise PostHogAPIError(413, "request_too_large", f"request body over {API_BODY_LIMIT >> 20} MB") from exc


def validated(model: type[M], data: Any) -> M:
    """`data` (a JSON body, form fields) validated by a pydantic model; problems become 400s naming the field."""
    from footfall.api.posthog.errors import invalid

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise invalid(str(first.get("msg")), "__".join(str(part) for part in first.get("loc", ())) or None) from exc


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")
