"""Request bodies read with a cap: an oversized body is refused before it is held in memory, whatever it
declares (a missing or false Content-Length is caught while streaming)."""

from __future__ import annotations

from fastapi import Request

# JSON bodies of the APIs (a query, an insight, a dashboard, a chart's results) are kilobytes to a few MB.
API_BODY_LIMIT = 8 << 20


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int = API_BODY_LIMIT) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
