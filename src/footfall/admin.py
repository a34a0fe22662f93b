"""The local admin channel: CLI commands run inside the server that owns the data dir.

`serve` writes `admin.json` (mode 0600) into the data dir with its address and a random token; a CLI
command that finds the data dir locked reads it and posts the operation here. The response streams
NDJSON progress lines and ends with the result, so the CLI can draw its progress bar.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from footfall.ops import OPS

router = APIRouter(include_in_schema=False)
ADMIN_FILE = "admin.json"


def write_admin_file(data_dir: Path, url: str, token: str) -> Path:
    path = data_dir / ADMIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token, "pid": os.getpid()}, f)
    return path


@router.post("/_admin/run")
async def run(request: Request) -> Response:
    token = getattr(request.app.state, "admin_token", None)
    given = request.headers.get("x-footfall-admin", "")
    if not token or not hmac.compare_digest(token, given):
        return Response(orjson.dumps({"detail": "admin token required"}), 403, media_type="application/json")
    try:
        body = orjson.loads(await request.body())
        op = OPS[body["op"]]
        args = dict(body.get("args") or {})
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return Response(orjson.dumps({"detail": "unknown operation"}), 400, media_type="application/json")
    runtime = request.app.state.runtime
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def emit(line: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, orjson.dumps(line) + b"\n")

    def work() -> None:
        try:
            result = op(runtime, lambda done, total: emit({"progress": [done, total]}), **args)
            emit({"result": result})
        except Exception as exc:  # reported to the CLI, which exits non-zero
            emit({"error": str(exc)})
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=work, name=f"admin-{body['op']}", daemon=True).start()

    async def lines() -> Any:
        while (line := await queue.get()) is not None:
            yield line

    return StreamingResponse(lines(), media_type="application/x-ndjson")


class NoServer(RuntimeError):
    """No server answers for the data dir (another CLI command holds it, or a server is starting or died)."""


def remote(data_dir: Path, op: str, args: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Run `op` in the server owning data_dir; yields its progress and result lines.

    Raises NoServer before anything ran when no server can be reached, so the caller may retry.
    """
    path = data_dir / ADMIN_FILE
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:  # absent, or being written by a starting server
        raise NoServer(f"the data dir {data_dir} is locked by another process that is not a footfall server") from exc
    with httpx.Client(timeout=httpx.Timeout(None, connect=5)) as client:
        request = client.build_request(
            "POST",
            info["url"].rstrip("/") + "/_admin/run",
            headers={"x-footfall-admin": info["token"]},
            content=orjson.dumps({"op": op, "args": args}),
        )
        try:
            r = client.send(request, stream=True)
        except httpx.ConnectError as exc:  # a stale admin.json (the server was killed) or one not listening yet
            raise NoServer(f"the server at {info['url']} owning {data_dir} does not answer") from exc
        try:
            if r.status_code != 200:
                raise RuntimeError(f"the server at {info['url']} refused the command ({r.status_code})")
            for line in r.iter_lines():
                if line:
                    yield orjson.loads(line)
        finally:
            r.close()
