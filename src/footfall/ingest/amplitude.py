"""Amplitude's HTTP V2 (/2/httpapi), Batch (/batch), Identify and Group Identify bodies.

A request is accepted whole or refused whole: the SDKs drop the events named in a 400 and retry the
rest, so naming every bad event at once (and storing none) is what keeps their retries exact.
Every JSON body carries a numeric `code`: the SDKs read it instead of the HTTP status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from footfall.ingest.event import DEVICE_FIELDS, INVALID_IDS, clip, new_event, new_uuid, too_deep

MAX_EVENTS = 2000
HTTPAPI_LIMIT = 1 << 20
BATCH_LIMIT = 20 << 20
DEFAULT_MIN_ID_LENGTH = 5

# Amplitude derives device_type itself; clients send the other device fields, and the library.
_STRING_FIELDS = (*(field for field in DEVICE_FIELDS if field != "device_type"), "library")
_STRING_FIELD_SET = frozenset(_STRING_FIELDS)
_EXTRA_FIELDS = (
    "idfa",
    "idfv",
    "adid",
    "android_id",
    "android_app_set_id",
    "partner_id",
    "version_name",
    "plan",
    "ingestion_metadata",
    "user_agent",
    "start_version",
    "paying",
    "$skip_user_properties_sync",
)
# Revenue fields travel in event_properties under the names Amplitude's exports use.
_REVENUE_FIELDS = {
    "price": "$price",
    "quantity": "$quantity",
    "revenue": "$revenue",
    "productId": "$productId",
    "revenueType": "$revenueType",
    "currency": "$currency",
}
_NUMERIC = ("price", "quantity", "revenue", "location_lat", "location_lng")
_DICTS = ("event_properties", "user_properties", "groups", "group_properties")
_INT64 = (-(1 << 63), (1 << 63) - 1)  # session_id and event_id are Int64 columns
_MAX_MS = 253402300800000  # 10000-01-01: times are milliseconds before this


class AmplitudeError(Exception):
    def __init__(self, status: int, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"code": status, "error": error, **fields}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise AmplitudeError(400, "Missing request body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AmplitudeError(400, "Invalid JSON request body") from exc


def upload_envelope(body: Any) -> tuple[str, list[Any], int]:
    """(api_key, events, min_id_length) of an HTTP V2 / Batch body, or the error Amplitude gives."""
    if not isinstance(body, dict):
        raise AmplitudeError(400, "Invalid JSON request body")
    api_key = body.get("api_key")
    if not isinstance(api_key, str) or not api_key:
        raise AmplitudeError(400, "Request missing required field", missing_field="api_key")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise AmplitudeError(400, "Request missing required field", missing_field="events")
    if len(events) > MAX_EVENTS:
        raise AmplitudeError(413, "Payload too large")
    options = body.get("options") if isinstance(body.get("options"), dict) else {}
    min_id_length = options.get("min_id_length", DEFAULT_MIN_ID_LENGTH)
    if not _is_int(min_id_length) or min_id_length < 1:
        raise AmplitudeError(400, "Invalid field values on some events", events_with_invalid_fields={})
    return api_key, events, min_id_length


def _ms_from_iso(value: Any) -> int | None:
    """Epoch ms of an ISO string or integer ms; None when unparseable or out of range."""
    ms = None
    if _is_int(value):
        ms = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            ms = int(parsed.timestamp() * 1000)
        except (ValueError, OverflowError):
            return None
    return ms if ms is not None and 0 <= ms < _MAX_MS else None


class _Problems:
    """Indexes of bad events, grouped by field, as Amplitude reports them."""

    def __init__(self) -> None:
        self.missing: dict[str, list[int]] = {}
        self.invalid: dict[str, list[int]] = {}
        self.id_lengths: dict[str, list[int]] = {}
        self._count = 0  # kept by add(): count() runs twice per event

    def add(self, kind: dict[str, list[int]], name: str, index: int) -> None:
        kind.setdefault(name, []).append(index)
        self._count += 1

    def count(self) -> int:
        return self._count

    def raise_if_any(self) -> None:
        if not (self.missing or self.invalid or self.id_lengths):
            return
        fields: dict[str, Any] = {}
        if self.missing:
            fields["events_with_missing_fields"] = self.missing
        if self.invalid:
            fields["events_with_invalid_fields"] = self.invalid
        if self.id_lengths:
            fields["events_with_invalid_id_lengths"] = self.id_lengths
        error = "Request missing required field" if self.missing else "Invalid field values on some events"
        raise AmplitudeError(400, error, **fields)


def normalize_events(
    raw_events: list[Any], min_id_length: int, received_ms: int, client_upload: Any, ip: str
) -> list[dict[str, Any]]:
    """Validate every event and map it to footfall's event model; raise once, naming all bad events."""
    problems = _Problems()
    out: list[dict[str, Any]] = []
    upload_ms = _ms_from_iso(client_upload) or received_ms
    for index, raw in enumerate(raw_events):
        if not isinstance(raw, dict):
            problems.add(problems.invalid, "event", index)
            continue
        event = _normalize_one(raw, index, problems, min_id_length, received_ms, upload_ms, ip)
        if event is not None:
            out.append(event)
    problems.raise_if_any()
    return out


def _id(raw: dict[str, Any], name: str, index: int, problems: _Problems, min_len: int) -> tuple[str, bool]:
    """(the id, or "" when absent or refused; whether it was refused only for being too short)."""
    value = raw.get(name)
    if value is None:
        return "", False
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip().lower() in INVALID_IDS:
        problems.add(problems.invalid, name, index)
        return "", False
    text = str(value)
    if len(text) < min_len:  # Amplitude drops a too-short id; the event fails only if no id is left
        return "", True
    return clip(text), False


def _normalize_one(
    raw: dict[str, Any], index: int, problems: _Problems, min_len: int, received_ms: int, upload_ms: int, ip: str
) -> dict[str, Any] | None:
    start = problems.count()
    event_type = raw.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        problems.add(problems.missing, "event_type", index)
    user_id, user_short = _id(raw, "user_id", index, problems, min_len)
    device_id, device_short = _id(raw, "device_id", index, problems, min_len)
    if raw.get("user_id") is None and raw.get("device_id") is None:
        problems.add(problems.missing, "user_id", index)
        problems.add(problems.missing, "device_id", index)
    elif not (user_id or device_id):
        for name, short in (("user_id", user_short), ("device_id", device_short)):
            if short:
                problems.add(problems.id_lengths, name, index)
    time_value = raw.get("time", received_ms)
    if not _is_int(time_value) or not 0 <= time_value < _MAX_MS:
        problems.add(problems.invalid, "time", index)
    for name in ("session_id", "event_id"):
        if name in raw and raw[name] is not None and not (_is_int(raw[name]) and _INT64[0] <= raw[name] <= _INT64[1]):
            problems.add(problems.invalid, name, index)
    if not raw.keys().isdisjoint(_NUMERIC):  # (these loops run per event; most events have none of the fields)
        for name in _NUMERIC:
            if raw.get(name) is not None and not _is_number(raw[name]):
                problems.add(problems.invalid, name, index)
    for name in _DICTS:
        value = raw.get(name)
        if value is not None and (not isinstance(value, dict) or too_deep(value)):
            problems.add(problems.invalid, name, index)
    for name, value in raw.items():  # any other field (plan, ingestion_metadata, ...) is stored too
        if name not in _DICTS and isinstance(value, dict | list) and too_deep(value):
            problems.add(problems.invalid, name, index)
    if problems.count() != start:
        return None

    properties = dict(raw.get("event_properties") or {})
    if not raw.keys().isdisjoint(_REVENUE_FIELDS):
        for field, name in _REVENUE_FIELDS.items():
            if raw.get(field) is not None:
                properties[name] = raw[field]
    session_id = raw.get("session_id")
    session_id = session_id if _is_int(session_id) else -1
    extra: dict[str, Any] = {}
    if not raw.keys().isdisjoint(_EXTRA_FIELDS):
        extra = {k: raw[k] for k in _EXTRA_FIELDS if raw.get(k) is not None}
    event = new_event(
        uuid=new_uuid(),
        event=clip(event_type),
        timestamp=time_value,
        distinct_id=user_id or device_id,
        properties=properties,
        user_id=user_id,
        device_id=device_id,
        user_properties=raw.get("user_properties") or {},
        session_id=session_id,
        session=f"{device_id or user_id}#{session_id}" if session_id > 0 else "",
        insert_id=clip(raw.get("insert_id")),
        event_id=raw.get("event_id") or 0,
        ip=clip(ip if raw.get("ip") in (None, "$remote") else raw.get("ip")),
        location_lat=raw.get("location_lat"),
        location_lng=raw.get("location_lng"),
        groups=raw.get("groups") or {},
        group_properties=raw.get("group_properties") or {},
        extra=extra,
        client_upload_time=upload_ms,
        received_at=received_ms,
        source="amplitude",
    )
    for name in _STRING_FIELD_SET.intersection(raw):  # the keys exist already, so order does not matter
        if raw[name] is not None:
            event[name] = clip(raw[name])
    return event


def identifications(raw: str | None, group: bool) -> list[dict[str, Any]]:
    """The `identification` form field of /identify and /groupidentify: one object or a list."""
    if raw is None or not raw.strip():
        raise AmplitudeError(400, "Request missing required field", missing_field="identification")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise AmplitudeError(400, "Invalid JSON request body", missing_field="identification") from exc
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(item, dict) for item in items):
        raise AmplitudeError(400, "Invalid JSON request body", missing_field="identification")
    if len(items) > 1024:
        raise AmplitudeError(413, "Payload too large")
    return [_group_identify(item, i) for i, item in enumerate(items)] if group else items


def _group_identify(item: dict[str, Any], index: int) -> dict[str, Any]:
    group_type, group_value = item.get("group_type"), item.get("group_value")
    props = item.get("group_properties") or {}
    if not isinstance(group_type, str) or not group_type or not isinstance(group_value, str | int) or not group_value:
        raise AmplitudeError(400, "Request missing required field", events_with_missing_fields={"group_type": [index]})
    if not isinstance(props, dict) or too_deep(props):
        raise AmplitudeError(
            400, "Invalid field values on some events", events_with_invalid_fields={"group_properties": [index]}
        )
    return item


def group_events(items: list[dict[str, Any]], received_ms: int) -> list[dict[str, Any]]:
    """Group identifies become personless `$groupidentify` events (kept for the record and export)."""
    return [
        new_event(
            uuid=new_uuid(),
            event="$groupidentify",
            timestamp=received_ms,
            groups={clip(item["group_type"]): clip(item["group_value"])},
            group_properties=item.get("group_properties") or {},
            person_profile=False,
            client_upload_time=received_ms,
            received_at=received_ms,
            source="amplitude",
        )
        for item in items
    ]


def identify_events(items: list[dict[str, Any]], received_ms: int, ip: str) -> list[dict[str, Any]]:
    """User identifies are `$identify` events carrying user_properties operations."""
    raws = [{**item, "event_type": "$identify", "time": received_ms} for item in items]
    return normalize_events(raws, DEFAULT_MIN_ID_LENGTH, received_ms, None, ip)


def success(events: int, payload_size: int, received_ms: int) -> dict[str, Any]:
    return {
        "code": 200,
        "events_ingested": events,
        "payload_size_bytes": payload_size,
        "server_upload_time": received_ms,
    }
