"""The one normalised event every flavour parses into, as it travels through the WAL.

Events are plain dicts (they are serialised to the log on every request, so no per-event objects).
`EVENT_DEFAULTS` names every field; parsers fill what their flavour carries.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

# Field -> default. Times are integer milliseconds since the epoch, UTC.
EVENT_DEFAULTS: dict[str, Any] = {
    "uuid": "",
    "client_uuid": False,  # True when the client sent the uuid (then it is a dedupe key)
    "event": "",
    "timestamp": 0,
    "distinct_id": "",
    "properties": {},
    # Identity inputs (not all become columns): Amplitude ids, PostHog person operations.
    "user_id": "",
    "device_id": "",
    "anon_distinct_id": "",
    "alias": "",
    "set": {},
    "set_once": {},
    "unset": [],
    "user_properties": {},  # Amplitude user_properties (plain keys or $set/$add/... operations)
    "person_profile": True,  # False for PostHog's $process_person_profile = false
    # Session and dedupe.
    "session_id": -1,
    "session": "",
    "insert_id": "",
    "event_id": 0,
    # Device and place, Amplitude's first-class fields (PostHog's $os etc. are mapped onto them).
    "app_version": "",
    "platform": "",
    "os_name": "",
    "os_version": "",
    "device_brand": "",
    "device_manufacturer": "",
    "device_model": "",
    "device_type": "",
    "carrier": "",
    "country": "",
    "region": "",
    "city": "",
    "dma": "",
    "language": "",
    "ip": "",
    "location_lat": None,
    "location_lng": None,
    "library": "",
    "groups": {},
    "group_properties": {},
    "extra": {},  # rarer Amplitude fields kept for export: idfa, adid, plan, partner_id, ...
    "client_upload_time": 0,
    "received_at": 0,
    "source": "",
    "imported": False,  # migrated in by `footfall import`: deduplicated by uuid, permanently
}

# Device and place: first-class `events` columns, named as Amplitude names them (PostHog's $os etc. are mapped
# onto them). The insert order, the filterable columns and Amplitude's input fields all derive from this.
DEVICE_FIELDS = (
    "app_version",
    "platform",
    "os_name",
    "os_version",
    "device_brand",
    "device_manufacturer",
    "device_model",
    "device_type",
    "carrier",
    "country",
    "region",
    "city",
    "dma",
    "language",
)

# PostHog's person UUIDs are uuid5 of "<team>:<distinct_id>" in this namespace; footfall does the same so
# a person's id is deterministic (a replayed log batch recreates exactly the same persons).
PERSON_NAMESPACE = uuid.UUID("932979b4-65c3-4424-8467-0b66ec27bc22")


def person_uuid(project_id: int, distinct_id: str) -> str:
    """str(uuid.uuid5(PERSON_NAMESPACE, f"{project_id}:{distinct_id}")), without the UUID object (a third
    of the cost; the flusher computes one for every new person)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{project_id}:{distinct_id}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = PERSON_NAMESPACE.bytes


def random_uuids(count: int) -> list[str]:
    """`count` random (version 4) UUID strings from one os.urandom call."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # RFC 4122 variant
    h = raw.hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-{h[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


_uuid_pool: list[str] = []
os.register_at_fork(after_in_child=_uuid_pool.clear)  # a forked child must not hand out the parent's ids


def new_uuid() -> str:
    """A random event uuid. uuid.uuid4() makes a syscall per id; this draws from a pool filled 256 at a time."""
    try:
        return _uuid_pool.pop()
    except IndexError:
        _uuid_pool.extend(random_uuids(256))
        return _uuid_pool.pop()


def new_event(**fields: Any) -> dict[str, Any]:
    event = dict(EVENT_DEFAULTS)
    event.update(fields)
    return event


# Values Amplitude refuses as user_id / device_id (reference: HTTP V2 "invalid IDs").
INVALID_IDS = frozenset(
    {
        "anonymous",
        "nil",
        "none",
        "null",
        "n/a",
        "na",
        "undefined",
        "unknown",
        "",
        "00000000-0000-0000-0000-000000000000",
        "{}",
        "lmy47d",
        "0",
        "-1",
    }
)

MAX_STRING = 1024  # Amplitude truncates longer strings; PostHog keeps distinct_ids to 200.
MAX_DEPTH = 40


def clip(value: Any, limit: int = MAX_STRING) -> str:
    """A string field as stored: None becomes "", numbers are stringified, long strings truncated."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text[:limit]


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True when nested dicts/lists exceed `limit` levels (checked without recursion).

    Runs on every event's properties, so only containers are stacked: a flat object costs one pass.
    """
    if not isinstance(value, dict | list):
        return False
    if limit < 1:
        return True
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, _CONTAINERS):
                if depth >= limit:  # the child sits at depth + 1
                    return True
                stack.append((child, depth + 1))
    return False


_CONTAINERS = (dict, list)
