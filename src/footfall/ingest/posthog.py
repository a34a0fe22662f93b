"""PostHog capture bodies (/e/, /i/v0/e/, /capture/, /batch/, /track/, /engage/), as the SDKs send them.

Shapes: a list of events (older posthog-js), `{"api_key"|"token", "batch": [...], "sent_at"}` (posthog-python,
current posthog-js), or one event (/capture). Rules follow PostHog's capture service: token lookup order,
distinct_id coercion and length, uuid validation, and the plugin server's clock-skew correction.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import orjson

from footfall.ingest.event import MAX_DEPTH, clip, new_event, new_uuid, too_deep

EVENT_LIMIT = 2 << 20
_MAX_MS = 253402300800000  # 10000-01-01
BATCH_LIMIT = 20 << 20
MAX_DISTINCT_ID = 200


class PostHogError(Exception):
    def __init__(self, status: int, code: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.body = {
            "type": "validation_error" if status < 500 else "server_error",
            "code": code,
            "detail": error,
            "status": status,
            "error": error,
        }


def _bad(message: str, code: str = "invalid_payload") -> PostHogError:
    return PostHogError(400, code, message)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise _bad("empty request body", "empty_payload")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"invalid JSON: {exc}") from exc


def envelope(body: Any, form_token: str | None) -> tuple[str, list[dict[str, Any]], Any, bool]:
    """(token, raw events, batch-level sent_at, historical_migration) of a capture body."""
    if isinstance(body, list):
        events, token, sent_at, historical = body, None, None, False
    elif isinstance(body, dict) and "batch" in body:
        events = body["batch"]
        if not isinstance(events, list):
            raise _bad("batch must be a list")
        token = body.get("api_key") or body.get("token")
        sent_at, historical = body.get("sent_at"), bool(body.get("historical_migration"))
    elif isinstance(body, dict):
        events, token, sent_at, historical = [body], None, None, False
    else:
        raise _bad("body must be an event, a list of events or a batch")
    if not events:
        raise _bad("no events in the request", "empty_batch")
    if not all(isinstance(e, dict) for e in events):
        raise _bad("every event must be a JSON object")
    if token is None:
        tokens = {t for t in (_event_token(e) for e in events) if t is not None}
        if len(tokens) > 1:
            raise PostHogError(400, "unroutable_events", "events in one request carry different tokens")
        token = next(iter(tokens), None) or form_token
    if not isinstance(token, str) or not token:
        raise PostHogError(401, "ingest_key_required", "API key is required: send api_key, token or $token")
    if token.startswith("phx_"):
        raise PostHogError(401, "personal_api_key", "a personal API key cannot capture events; use the project token")
    return token, events, sent_at, historical


def _event_token(event: dict[str, Any]) -> str | None:
    props = event.get("properties") if isinstance(event.get("properties"), dict) else {}
    for value in (event.get("token"), event.get("$token"), event.get("api_key"), props.get("token")):
        if isinstance(value, str) and value:
            return value
    return None


def _distinct_id(event: dict[str, Any], props: dict[str, Any]) -> str:
    for value in (event.get("distinct_id"), event.get("$distinct_id"), props.get("distinct_id")):
        if value is None:
            continue
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = str(value)
        else:
            text = orjson.dumps(value).decode()
        if text:
            return text[:MAX_DISTINCT_ID]
    raise _bad("event has no distinct_id", "missing_distinct_id")


def _parse_time(value: Any) -> int | None:
    """ISO 8601 (or epoch ms, or epoch seconds) to ms; None when unparseable or outside years 1970-9999."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            ms = int(value) if value > 10**11 else int(value * 1000)
        elif isinstance(value, str) and value:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            ms = int(parsed.timestamp() * 1000)
        else:
            return None
    except (OverflowError, ValueError):
        return None
    return ms if 0 <= ms < _MAX_MS else None


def _timestamp(
    event: dict[str, Any],
    batch_sent_at: Any,
    received_ms: int,
    query_sent_ms: int | None,
    batch_sent_ms: int | None = None,
) -> int:
    """The plugin server's rule: now + (timestamp - sent_at); else timestamp; else now - offset; else now.

    `batch_sent_ms` is `batch_sent_at` already parsed (once per request rather than per event).
    """
    raw_ts = event.get("timestamp")
    ts = _parse_time(raw_ts) if raw_ts is not None else None
    if raw_ts is not None and ts is None:
        raise _bad(f"invalid timestamp: {str(raw_ts)[:64]}", "invalid_timestamp")
    props = event.get("properties") if isinstance(event.get("properties"), dict) else {}
    own_sent_at = event.get("sent_at")
    if own_sent_at or batch_sent_ms is None:
        sent_at = _parse_time(own_sent_at or batch_sent_at) or query_sent_ms
    else:
        sent_at = batch_sent_ms or query_sent_ms
    if ts is not None:
        if sent_at is not None and not props.get("$ignore_sent_at"):
            ts = received_ms + (ts - sent_at)
    elif isinstance(event.get("offset"), int | float) and not isinstance(event.get("offset"), bool):
        ts = received_ms - int(event["offset"])
    else:
        ts = received_ms
    if not 0 <= ts < 253402300800000:
        raise _bad("timestamp out of range", "invalid_timestamp")
    return ts


_PLATFORMS = {"web": "Web", "posthog-ios": "iOS", "posthog-android": "Android"}
# Properties that are also first-class (string) fields of the event.
_PROPERTY_FIELDS = {
    "$device_id": "device_id",
    "$session_id": "session",
    "$app_version": "app_version",
    "$os": "os_name",
    "$os_version": "os_version",
    "$device_manufacturer": "device_manufacturer",
    "$device_model": "device_model",
    "$device_type": "device_type",
    "$geoip_country_name": "country",
    "$geoip_subdivision_1_name": "region",
    "$geoip_city_name": "city",
    "$browser_language": "language",
}
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize(
    raw: dict[str, Any],
    batch_sent_at: Any,
    received_ms: int,
    query_sent_ms: int | None,
    ip: str,
    historical: bool,
    batch_sent_ms: int | None = None,
) -> dict[str, Any]:
    if batch_sent_ms is None:
        batch_sent_ms = _parse_time(batch_sent_at)
    name = raw.get("event")
    if not isinstance(name, str) or not name:
        raise _bad("event has no name", "missing_event_name")
    props = raw.get("properties") if raw.get("properties") is not None else {}
    if not isinstance(props, dict):
        raise _bad("properties must be an object")
    # One pass over the whole event: properties (one level down) get MAX_DEPTH levels, and so do the other
    # stored fields (top-level $set, a container distinct_id), which would otherwise fail serialisation.
    if too_deep(raw, MAX_DEPTH + 1):
        raise _bad("properties are nested too deeply")
    distinct_id = _distinct_id(raw, props)
    event_uuid = raw.get("uuid")
    if event_uuid in (None, ""):
        event_uuid, client_uuid = new_uuid(), False
    elif isinstance(event_uuid, str) and _CANONICAL_UUID.fullmatch(event_uuid):
        client_uuid = True  # already what str(uuid.UUID(...)) gives, which costs a few µs per event
    else:
        try:
            event_uuid, client_uuid = str(uuid.UUID(str(event_uuid))), True
        except ValueError as exc:
            raise _bad("invalid uuid", "invalid_uuid") from exc
    props = dict(props)
    for key in ("token", "distinct_id"):
        props.pop(key, None)
    set_ = raw.get("$set") if isinstance(raw.get("$set"), dict) else props.get("$set")
    set_once = raw.get("$set_once") if isinstance(raw.get("$set_once"), dict) else props.get("$set_once")
    unset = props.get("$unset")
    if name == "$groupidentify":
        groups = {clip(props.get("$group_type")): clip(props.get("$group_key"))} if props.get("$group_type") else {}
        group_props = {"$set": props.get("$group_set")} if isinstance(props.get("$group_set"), dict) else {}
    else:
        groups = props.get("$groups") if isinstance(props.get("$groups"), dict) else {}
        group_props = {}
    lib = clip(props.get("$lib"))
    event = new_event(
        uuid=event_uuid,
        client_uuid=client_uuid,
        event=clip(name, 400),
        timestamp=_timestamp(raw, batch_sent_at, received_ms, query_sent_ms, batch_sent_ms),
        distinct_id=distinct_id,
        properties=props,
        anon_distinct_id=clip(props.get("$anon_distinct_id"), MAX_DISTINCT_ID) if name == "$identify" else "",
        alias=clip(props.get("alias"), MAX_DISTINCT_ID) if name == "$create_alias" else "",
        set=set_ if isinstance(set_, dict) else {},
        set_once=set_once if isinstance(set_once, dict) else {},
        unset=[clip(k) for k in unset] if isinstance(unset, list) else [],
        person_profile=props.get("$process_person_profile") is not False,
        platform=_PLATFORMS.get(lib, clip(props.get("$os")) if lib.startswith("posthog-react-native") else ""),
        ip=clip(props.get("$ip") or ip),
        library=lib,
        groups=groups,
        group_properties=group_props,
        extra={"historical_migration": True} if historical else {},
        client_upload_time=batch_sent_ms or query_sent_ms or received_ms,
        received_at=received_ms,
        source="posthog",
    )
    for key in _PROPERTY_FIELDS.keys() & props.keys():  # only those present: most events carry few
        event[_PROPERTY_FIELDS[key]] = clip(props[key])
    return event


def normalize_all(
    events: list[dict[str, Any]],
    batch_sent_at: Any,
    received_ms: int,
    query_sent_ms: int | None,
    ip: str,
    historical: bool,
) -> list[dict[str, Any]]:
    sent_ms = _parse_time(batch_sent_at)
    return [normalize(e, batch_sent_at, received_ms, query_sent_ms, ip, historical, sent_ms) for e in events]


def engage_to_identify(event: dict[str, Any]) -> dict[str, Any]:
    """Legacy /engage payloads have no event name: they are `$identify` with `$set` operations."""
    if "event" in event:
        return event
    return {**event, "event": "$identify"}
