"""HTTP endpoints of both ingestion flavours, and the flags and SDK config PostHog's SDKs ask for alongside.

A 200 to a capture means the batch is fsynced in the write-ahead log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.formparsers import MultiPartException, MultiPartParser

from footfall.bodies import TooLarge, read_body
from footfall.ingest import amplitude, flags, posthog
from footfall.ingest.decode import BodyError, maybe_gunzip, posthog_payload
from footfall.runtime import Runtime

router = APIRouter()


def _cors(request: Request, response: Response) -> Response:
    """Capture endpoints are called from any site: mirror the origin and requested headers."""
    origin = request.headers.get("origin")
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Vary"] = "Origin"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    requested = request.headers.get("access-control-request-headers")
    response.headers["Access-Control-Allow-Headers"] = requested or "Content-Type, Content-Encoding"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def _json(request: Request, status: int, body: Any) -> Response:
    return _cors(request, Response(orjson.dumps(body), status_code=status, media_type="application/json"))


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


# The longest a request is held while the flusher catches up.
MAX_HOLD_SECONDS = 2.0


async def _store(request: Request, project_id: int, events: list[dict[str, Any]], flavour: str) -> None:
    runtime = _runtime(request)
    # Backpressure: acknowledging faster than events can be stored only grows the log and the lag (and the
    # flusher shares the GIL with this loop, so it gets less time the busier the loop is). While it is far
    # behind, hold the request a bounded time: the SDKs wait for the response, so they slow down with it.
    held_until = time.monotonic() + MAX_HOLD_SECONDS
    while runtime.flusher.behind and time.monotonic() < held_until:
        await asyncio.sleep(0.01)
    record = {"project_id": project_id, "events": events}
    await runtime.wal.append(orjson.dumps(record), decoded=record)  # the flusher takes it without parsing
    request.app.state.metrics.ingested(flavour, len(events))


# -- Amplitude -------------------------------------------------------------------------------------
async def _amplitude_upload(request: Request, body: Any, size: int, received: int) -> Response:
    try:
        api_key, raw_events, min_id_length = amplitude.upload_envelope(body)
        project = _runtime(request).projects.by_api_key(api_key)
        if project is None:
            raise amplitude.AmplitudeError(400, f"Invalid API key: {api_key}")
        events = amplitude.normalize_events(
            raw_events, min_id_length, received, body.get("client_upload_time"), _client_ip(request)
        )
    except amplitude.AmplitudeError as exc:
        return _json(request, exc.status, exc.body)
    await _store(request, project.id, events, "amplitude")
    return _json(request, 200, amplitude.success(len(events), size, received))


async def _amplitude_body(request: Request, limit: int) -> tuple[Any, int] | Response:
    try:
        raw = await read_body(request, limit)
        size = len(raw)
        raw = maybe_gunzip(raw, limit, declared=request.headers.get("content-encoding", "").lower() == "gzip")
        return amplitude.parse_json(raw), size
    except TooLarge:
        return _json(request, 413, {"code": 413, "error": "Payload too large"})
    except BodyError as exc:
        status = 413 if exc.too_large else 400
        return _json(request, status, {"code": status, "error": "Payload too large" if exc.too_large else str(exc)})
    except amplitude.AmplitudeError as exc:
        return _json(request, exc.status, exc.body)


@router.options("/2/httpapi")
@router.options("/2/httpapi/")
async def amplitude_preflight(request: Request) -> Response:
    """The browser SDK posts JSON to a custom serverUrl from the page's origin, so it preflights."""
    return _cors(request, Response(status_code=204))


@router.post("/2/httpapi")
@router.post("/2/httpapi/")
async def amplitude_httpapi(request: Request) -> Response:
    received = _now_ms()
    parsed = await _amplitude_body(request, amplitude.HTTPAPI_LIMIT)
    if isinstance(parsed, Response):
        return parsed
    return await _amplitude_upload(request, parsed[0], parsed[1], received)


async def _form_fields(request: Request) -> dict[str, str]:
    fields = {k: v for k, v in request.query_params.items()}
    if request.method == "POST":
        raw = await read_body(request, amplitude.HTTPAPI_LIMIT)
        content_type = request.headers.get("content-type", "")
        if raw and "multipart/form-data" in content_type:
            fields.update(await _multipart(request, raw))
        elif raw:
            from urllib.parse import parse_qsl

            fields.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


async def _multipart(request: Request, raw: bytes) -> dict[str, str]:
    """The text fields of a multipart body that was already read (under the size limit)."""

    async def replay() -> AsyncIterator[bytes]:
        yield raw

    form = await MultiPartParser(request.headers, replay()).parse()
    try:
        return {k: v for k, v in form.items() if isinstance(v, str)}
    finally:
        await form.close()


async def _identify(request: Request, group: bool) -> Response:
    received = _now_ms()
    try:
        fields = await _form_fields(request)
    except TooLarge:
        return _json(request, 413, {"code": 413, "error": "Payload too large"})
    except MultiPartException as exc:
        return _json(request, 400, {"code": 400, "error": f"Invalid form body: {exc.message}"})
    api_key = fields.get("api_key", "")
    try:
        if not api_key:
            raise amplitude.AmplitudeError(400, "Request missing required field", missing_field="api_key")
        items = amplitude.identifications(fields.get("identification"), group)
        project = _runtime(request).projects.by_api_key(api_key)
        if project is None:
            raise amplitude.AmplitudeError(400, f"Invalid API key: {api_key}")
        events = (
            amplitude.group_events(items, received)
            if group
            else amplitude.identify_events(items, received, _client_ip(request))
        )
    except amplitude.AmplitudeError as exc:
        return _json(request, exc.status, exc.body)
    await _store(request, project.id, events, "amplitude")
    return _cors(request, Response("success", media_type="text/plain"))


@router.api_route("/identify", methods=["GET", "POST"])
async def amplitude_identify(request: Request) -> Response:
    return await _identify(request, group=False)


@router.api_route("/groupidentify", methods=["GET", "POST"])
async def amplitude_groupidentify(request: Request) -> Response:
    return await _identify(request, group=True)


# -- PostHog ----------------------------------------------------------------------------------------
def _query_sent_ms(request: Request) -> int | None:
    value = request.query_params.get("_", "")
    # PostHog ignores values that are not milliseconds of a recent year (seconds would look like 1970).
    if not (value.isascii() and value.isdigit() and len(value) <= 15):
        return None
    return int(value) if int(value) > 1_609_459_200_000 else None


async def _posthog_body(request: Request, limit: int) -> Any:
    """The parsed JSON of a capture request; raises PostHogError (or TooLarge)."""
    try:
        raw = await read_body(request, limit)
        payload = posthog_payload(
            raw,
            request.headers.get("content-type", ""),
            request.query_params.get("compression", ""),
            request.query_params.get("data"),
            limit,
            request.headers.get("content-encoding", "").lower() == "gzip",
        )
    except TooLarge as exc:
        raise posthog.PostHogError(413, "payload_too_large", "request body is too large") from exc
    except BodyError as exc:
        if exc.too_large:
            raise posthog.PostHogError(413, "payload_too_large", str(exc)) from exc
        raise posthog.PostHogError(400, "invalid_payload", str(exc)) from exc
    return posthog.parse_json(payload)


async def _posthog_accept(request: Request, body: Any, received: int, engage: bool = False) -> Response:
    try:
        token, raw_events, sent_at, historical = posthog.envelope(body, _form_token(request))
        if engage:
            raw_events = [posthog.engage_to_identify(e) for e in raw_events]
        project = _runtime(request).projects.by_api_key(token)
        if project is None:
            raise posthog.PostHogError(403, "ingest_key_unknown", "project API key is invalid")
        events = posthog.normalize_all(
            raw_events, sent_at, received, _query_sent_ms(request), _client_ip(request), historical
        )
    except posthog.PostHogError as exc:
        return _json(request, exc.status, exc.body)
    await _store(request, project.id, events, "posthog")
    return _json(request, 200, {"status": 1})


def _form_token(request: Request) -> str | None:
    return request.query_params.get("api_key") or request.query_params.get("token")


_EVENT_PATHS = ["/e", "/i/v0/e", "/capture", "/track", "/engage"]


async def posthog_event(request: Request) -> Response:
    received = _now_ms()
    if request.method == "OPTIONS":
        return _cors(request, Response(status_code=204))
    try:
        body = await _posthog_body(request, posthog.EVENT_LIMIT)
    except posthog.PostHogError as exc:
        return _json(request, exc.status, exc.body)
    return await _posthog_accept(request, body, received, engage=request.url.path.rstrip("/").endswith("engage"))


for _path in _EVENT_PATHS:
    router.add_api_route(_path, posthog_event, methods=["GET", "POST", "OPTIONS"], include_in_schema=False)
    router.add_api_route(_path + "/", posthog_event, methods=["GET", "POST", "OPTIONS"], include_in_schema=False)


@router.api_route("/batch", methods=["GET", "POST", "OPTIONS"])
@router.api_route("/batch/", methods=["GET", "POST", "OPTIONS"])
async def shared_batch(request: Request) -> Response:
    """PostHog's /batch/ and Amplitude's /batch share a path; Amplitude bodies have `events`, not `batch`.

    Until the body is known, errors carry Amplitude's numeric `code` (its SDKs read it; PostHog's read
    only the status).
    """
    received = _now_ms()
    if request.method == "OPTIONS":
        return _cors(request, Response(status_code=204))
    try:
        body = await _posthog_body(request, posthog.BATCH_LIMIT)
    except posthog.PostHogError as exc:
        return _json(request, exc.status, {"code": exc.status, "error": _amplitude_message(exc)})
    if isinstance(body, dict) and "events" in body and "batch" not in body:
        size = int(request.headers.get("content-length") or 0)
        return await _amplitude_upload(request, body, size, received)
    return await _posthog_accept(request, body, received)


def _amplitude_message(exc: posthog.PostHogError) -> str:
    """Amplitude's wording for a body that could not be read (its SDKs log it; PostHog's read the status)."""
    if exc.status == 413:
        return "Payload too large"
    if exc.body["code"] == "empty_payload":
        return "Missing request body"
    if str(exc).startswith("invalid JSON"):
        return "Invalid JSON request body"
    return str(exc)


# -- PostHog flags and the SDK's remote config: footfall has none to give (footfall.ingest.flags) -----------
async def posthog_flags(request: Request) -> Response:
    if request.method == "OPTIONS":
        return _cors(request, Response(status_code=204, headers={"Allow": "GET, POST, OPTIONS"}))
    if request.method == "GET":
        return _json(request, 200, flags.minimal_response(request.query_params.get("v")))
    try:
        token, _ = flags.token_and_distinct_id(await _posthog_body(request, posthog.EVENT_LIMIT))
        if _runtime(request).projects.by_api_key(token) is None:
            raise posthog.PostHogError(401, "ingest_key_unknown", "project API key is invalid")
    except posthog.PostHogError as exc:
        return _json(request, exc.status, exc.body)
    decide = request.url.path.rstrip("/").endswith("decide")
    return _json(request, 200, flags.flags_response(token, dict(request.query_params), decide))


for _path in ("/flags", "/decide"):
    for _route in (_path, _path + "/"):
        router.add_api_route(_route, posthog_flags, methods=["GET", "POST", "OPTIONS"], include_in_schema=False)


def _unknown_token(request: Request) -> Response:
    return _json(request, 404, posthog.PostHogError(404, "not_found", "no project has this API key").body)


@router.get("/array/{token}/config", include_in_schema=False)
async def posthog_remote_config(request: Request, token: str) -> Response:
    if _runtime(request).projects.by_api_key(token) is None:
        return _unknown_token(request)
    return _json(request, 200, flags.remote_config(token))


@router.get("/array/{token}/config.js", include_in_schema=False)
async def posthog_remote_config_js(request: Request, token: str) -> Response:
    if _runtime(request).projects.by_api_key(token) is None:
        return _unknown_token(request)
    return _cors(request, Response(flags.remote_config_js(token), media_type="text/javascript"))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
