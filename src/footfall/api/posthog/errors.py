"""PostHog's error body, `{type, code, detail, attr}` (drf-exceptions-hog), for every PostHog API failure."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

_TYPES = {400: "validation_error", 401: "authentication_error", 403: "authentication_error", 429: "throttled_error"}


class PostHogAPIError(Exception):
    def __init__(
        self, status: int, code: str, detail: str, attr: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.attr = status, code, detail, attr
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        kind = _TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request")
        return {"type": kind, "code": self.code, "detail": self.detail, "attr": self.attr}


def invalid(detail: str, attr: str | None = None) -> PostHogAPIError:
    return PostHogAPIError(400, "invalid_input", detail, attr)


def not_found() -> PostHogAPIError:
    return PostHogAPIError(404, "not_found", "Not found.")


async def handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PostHogAPIError)
    return Response(orjson.dumps(exc.body()), exc.status, media_type="application/json", headers=exc.headers)
