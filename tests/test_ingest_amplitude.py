"""Amplitude ingestion, every path of reference §3.1-3.4: HTTP V2, Batch, Identify, Group Identify.

Each refusal case asserts the exact status and JSON body and that nothing of the request was stored
(Amplitude's SDKs drop the events named in a 400 and retry the rest, so a request is all or nothing).
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from footfall.ingest.event import INVALID_IDS, person_uuid
from footfall.ingest.flusher import dedupe_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.ingest_checks import (
    group_properties,
    nothing_stored,
    person_count,
    person_of,
    stored,
    stored_since,
)

UPLOAD_PATHS = ["/2/httpapi", "/batch"]
T0 = 1_700_000_000_000


def ev(**fields: Any) -> dict[str, Any]:
    """A valid event; keyword arguments override or (with None) remove fields."""
    event = {"device_id": "device-1", "event_type": "Opened", "time": T0}
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def nested(levels: int) -> dict[str, Any]:
    """A property object `levels` objects deep."""
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def deep_json(levels: int) -> bytes:
    """JSON text of an object `levels` deep: beyond what orjson will serialise (255), below its parse limit."""
    return b'{"k":' * (levels - 1) + b'{"leaf":1}' + b"}" * (levels - 1)


def with_raw(body: dict[str, Any], raw: bytes) -> bytes:
    """`body` serialised, with the string "RAW" replaced by the JSON text `raw`."""
    return orjson.dumps(body).replace(b'"RAW"', raw)


def post(client: TestClient, path: str, body: Any, **kwargs: Any) -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return client.post(path, content=content, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def shared(runtime: Runtime) -> dict[str, Any]:
    """One project for the tests that need no state of their own (projects are slow to make: argon2)."""
    return new_project(runtime)


def body_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert isinstance(body["code"], int) and not isinstance(body["code"], bool), body
    assert body["code"] == response.status_code, body
    return body


# -- success ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", UPLOAD_PATHS)
def test_success_body(client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str) -> None:
    content = orjson.dumps(
        {"api_key": shared["api_key"], "events": [ev(), ev(event_type="Paid"), ev(user_id="user-1")]}
    )
    start, before = runtime.wal.end, time.time_ns() // 1_000_000
    r = client.post(path, content=content, headers={"Content-Type": "application/json"})
    after = time.time_ns() // 1_000_000
    body = body_of(r)
    assert r.status_code == 200
    assert set(body) == {"code", "events_ingested", "payload_size_bytes", "server_upload_time"}
    assert body["events_ingested"] == 3
    assert body["payload_size_bytes"] == len(content)
    assert before <= body["server_upload_time"] <= after
    flush(runtime)
    assert stored_since(runtime, shared, start, "event, user_id") == [
        ["Opened", ""],
        ["Paid", ""],
        ["Opened", "user-1"],
    ]


def test_accepted_event_is_stored_as_sent(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    event = {
        "user_id": 12345,  # numbers are ids too, as strings
        "device_id": "device-abc",
        "event_type": "Bought",
        "time": T0 + 123,
        "event_properties": {"color": "red", "deep": nested(39)},
        "user_properties": {"plan": "pro"},
        "revenue": 9.5,
        "price": 3,
        "quantity": 2,
        "productId": "sku-1",
        "platform": "iOS",
        "os_name": "ios",
        "country": "France",
        "session_id": T0,
        "insert_id": "ins-as-sent",
        "event_id": 7,
        "location_lat": 48.85,
        "ip": "10.1.2.3",
        "plan": {"branch": "main", "version": "3"},
        "language": "x" * 2000,
    }
    start = runtime.wal.end
    r = post(client, "/2/httpapi", {"api_key": shared["api_key"], "events": [event]})
    assert r.status_code == 200, r.text
    flush(runtime)
    [row] = stored_since(
        runtime,
        shared,
        start,
        "event, toUnixTimestamp64Milli(timestamp), distinct_id, user_id, device_id, properties, platform, os_name,"
        " country, session_id, session, insert_id, event_id, location_lat, ip, extra, length(language), source",
    )
    properties = orjson.loads(row[5])
    assert row[:5] == ["Bought", T0 + 123, "12345", "12345", "device-abc"]
    assert properties == {
        "color": "red",
        "deep": nested(39),
        "$revenue": 9.5,
        "$price": 3,
        "$quantity": 2,
        "$productId": "sku-1",
    }
    assert row[6:15] == ["iOS", "ios", "France", T0, f"device-abc#{T0}", "ins-as-sent", 7, 48.85, "10.1.2.3"]
    assert orjson.loads(row[15]) == {"plan": {"branch": "main", "version": "3"}}
    assert row[16:] == [1024, "amplitude"]  # strings are cut at 1024 characters


def test_time_defaults_to_upload_time(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    start, before = runtime.wal.end, time.time_ns() // 1_000_000
    r = post(client, "/2/httpapi", {"api_key": shared["api_key"], "events": [ev(time=None)]})
    after = time.time_ns() // 1_000_000
    assert r.status_code == 200
    flush(runtime)
    [[ts]] = stored_since(runtime, shared, start, "toUnixTimestamp64Milli(timestamp)")
    assert before <= ts <= after


# -- refusals: (id, body made from the project's key, exact response body) -----------------------------
Body = Callable[[str], Any]
_MISSING = "Request missing required field"
_INVALID = "Invalid field values on some events"


def _invalid(field: str, *indexes: int) -> dict[str, Any]:
    return {"code": 400, "error": _INVALID, "events_with_invalid_fields": {field: list(indexes)}}


def _one(event: dict[str, Any]) -> Body:
    return lambda key: {"api_key": key, "events": [ev(), event]}  # the bad event is index 1


REFUSALS: list[tuple[str, Body, dict[str, Any]]] = [
    ("empty body", lambda key: b"", {"code": 400, "error": "Missing request body"}),
    ("blank body", lambda key: b"  \n", {"code": 400, "error": "Missing request body"}),
    ("invalid json", lambda key: b'{"api_key": ', {"code": 400, "error": "Invalid JSON request body"}),
    ("json array", lambda key: [ev()], {"code": 400, "error": "Invalid JSON request body"}),
    ("json string", lambda key: "events", {"code": 400, "error": "Invalid JSON request body"}),
    ("no api_key", lambda key: {"events": [ev()]}, {"code": 400, "error": _MISSING, "missing_field": "api_key"}),
    (
        "empty api_key",
        lambda key: {"api_key": "", "events": [ev()]},
        {"code": 400, "error": _MISSING, "missing_field": "api_key"},
    ),
    (
        "numeric api_key",
        lambda key: {"api_key": 7, "events": [ev()]},
        {"code": 400, "error": _MISSING, "missing_field": "api_key"},
    ),
    ("no events", lambda key: {"api_key": key}, {"code": 400, "error": _MISSING, "missing_field": "events"}),
    (
        "empty events",
        lambda key: {"api_key": key, "events": []},
        {"code": 400, "error": _MISSING, "missing_field": "events"},
    ),
    (
        "events object",
        lambda key: {"api_key": key, "events": ev()},
        {"code": 400, "error": _MISSING, "missing_field": "events"},
    ),
    (
        "unknown key",
        lambda key: {"api_key": "no-such-key", "events": [ev()]},
        {"code": 400, "error": "Invalid API key: no-such-key"},
    ),
    (
        "no event_type",
        _one(ev(event_type=None)),
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"event_type": [1]}},
    ),
    (
        "empty event_type",
        _one(ev(event_type="")),
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"event_type": [1]}},
    ),
    (
        "numeric event_type",
        _one(ev(event_type=5)),
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"event_type": [1]}},
    ),
    (
        "no ids",
        _one(ev(device_id=None)),
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"user_id": [1], "device_id": [1]}},
    ),
    ("event not an object", _one("Opened"), _invalid("event", 1)),  # type: ignore[arg-type]
    ("time as ISO string", _one(ev(time="2023-11-14T22:13:20Z")), _invalid("time", 1)),
    ("time in float ms", _one(ev(time=1.7e12)), _invalid("time", 1)),
    ("time as numeric string", _one(ev(time=str(T0))), _invalid("time", 1)),
    ("negative time", _one(ev(time=-1)), _invalid("time", 1)),
    ("time after year 9999", _one(ev(time=253402300800000)), _invalid("time", 1)),
    ("null time", _one(ev(time=None) | {"time": None}), _invalid("time", 1)),
    ("revenue as text", _one(ev(revenue="9.99")), _invalid("revenue", 1)),
    ("price as text", _one(ev(price="cheap")), _invalid("price", 1)),
    ("quantity boolean", _one(ev(quantity=True)), _invalid("quantity", 1)),
    ("location_lat as text", _one(ev(location_lat="48.8")), _invalid("location_lat", 1)),
    ("session_id as text", _one(ev(session_id="abc")), _invalid("session_id", 1)),
    ("event_id beyond Int64", _one(ev(event_id=2**63)), _invalid("event_id", 1)),
    ("session_id beyond Int64", _one(ev(session_id=2**64 - 1)), _invalid("session_id", 1)),
    ("event_properties 41 levels", _one(ev(event_properties=nested(41))), _invalid("event_properties", 1)),
    ("user_properties 41 levels", _one(ev(user_properties=nested(41))), _invalid("user_properties", 1)),
    ("event_properties a list", _one(ev(event_properties=[1, 2])), _invalid("event_properties", 1)),
    ("groups a string", _one(ev(groups="org")), _invalid("groups", 1)),
    (
        "plan 300 levels",
        lambda key: with_raw({"api_key": key, "events": [ev(), ev(plan="RAW")]}, deep_json(300)),
        _invalid("plan", 1),
    ),
    (
        "language 900 levels",
        lambda key: with_raw({"api_key": key, "events": [ev(language="RAW")]}, deep_json(900)),
        _invalid("language", 0),
    ),
    (
        "insert_id 900 levels",
        lambda key: with_raw({"api_key": key, "events": [ev(insert_id="RAW")]}, deep_json(900)),
        _invalid("insert_id", 0),
    ),
    ("user_id a float", _one(ev(user_id=1.5)), _invalid("user_id", 1)),
    ("user_id an object", _one(ev(user_id={"id": "abcdef"})), _invalid("user_id", 1)),
    ("device_id boolean", _one(ev(device_id=True)), _invalid("device_id", 1)),
    (
        "user_id too short, no device",
        _one(ev(device_id=None, user_id="abc")),
        {"code": 400, "error": _INVALID, "events_with_invalid_id_lengths": {"user_id": [1]}},
    ),
    (
        "both ids too short",
        _one(ev(device_id="dev", user_id="usr")),
        {"code": 400, "error": _INVALID, "events_with_invalid_id_lengths": {"user_id": [1], "device_id": [1]}},
    ),
    (
        "min_id_length raised",
        lambda key: {"api_key": key, "events": [ev(device_id="device-12")], "options": {"min_id_length": 10}},
        {"code": 400, "error": _INVALID, "events_with_invalid_id_lengths": {"device_id": [0]}},
    ),
    (
        "min_id_length not a number",
        lambda key: {"api_key": key, "events": [ev()], "options": {"min_id_length": "5"}},
        {"code": 400, "error": _INVALID, "events_with_invalid_fields": {}},
    ),
    (
        "min_id_length zero",
        lambda key: {"api_key": key, "events": [ev()], "options": {"min_id_length": 0}},
        {"code": 400, "error": _INVALID, "events_with_invalid_fields": {}},
    ),
    (
        "every bad event named at once",
        lambda key: {
            "api_key": key,
            "events": [
                ev(),
                ev(event_type=None),
                ev(time="now", revenue="x"),
                ev(device_id="null"),
                ev(device_id=None, user_id="ab"),
                ev(event_type=None, time=1.5),
                ev(),
            ],
        },
        {
            "code": 400,
            "error": _MISSING,
            "events_with_missing_fields": {"event_type": [1, 5]},
            "events_with_invalid_fields": {"time": [2, 5], "revenue": [2], "device_id": [3]},
            "events_with_invalid_id_lengths": {"user_id": [4]},
        },
    ),
]


# /batch is shared with PostHog: a body without `events` is read as PostHog's (tested there).
_HTTPAPI_ONLY = {"json array", "json string", "no events"}


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        pytest.param(path, b, e, id=f"{path}-{i}")
        for path in UPLOAD_PATHS
        for i, b, e in REFUSALS
        if path == "/2/httpapi" or i not in _HTTPAPI_ONLY
    ],
)
def test_refused_request_stores_nothing(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, body: Body, expected: dict[str, Any]
) -> None:
    with nothing_stored(runtime, shared):
        r = post(client, path, body(shared["api_key"]))
    assert r.status_code == expected["code"]
    assert body_of(r) == expected


@pytest.mark.parametrize("invalid_id", [*sorted(INVALID_IDS), "NULL", "None", " undefined ", 0, -1])
@pytest.mark.parametrize("field", ["user_id", "device_id"])
def test_invalid_ids_are_refused(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], field: str, invalid_id: Any
) -> None:
    event = ev(user_id="user-ok-1", device_id="device-ok-1") | {field: invalid_id}
    with nothing_stored(runtime, shared):
        r = post(client, "/2/httpapi", {"api_key": shared["api_key"], "events": [event]})
    assert body_of(r) == _invalid(field, 0)


# -- id lengths: a too-short id is dropped; the event is kept while another id is left ----------------
@pytest.mark.parametrize(
    ("event", "options", "stored_ids"),
    [
        (ev(user_id="abc", device_id="device-1"), None, ["device-1", "", "device-1"]),
        (ev(user_id="user-1", device_id="dev"), None, ["user-1", "user-1", ""]),
        (ev(user_id="abc", device_id=None), {"min_id_length": 3}, ["abc", "abc", ""]),
        (ev(user_id="a", device_id="b"), {"min_id_length": 1}, ["a", "a", "b"]),
        (ev(user_id="user-1", device_id="device-1"), {"min_id_length": 7}, ["device-1", "", "device-1"]),
        (ev(user_id="abcde", device_id=None), {}, ["abcde", "abcde", ""]),  # 5 characters is enough
    ],
)
def test_short_ids(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    event: dict[str, Any],
    options: dict[str, Any] | None,
    stored_ids: list[str],
) -> None:
    body: dict[str, Any] = {"api_key": shared["api_key"], "events": [event]}
    if options is not None:
        body["options"] = options
    start = runtime.wal.end
    r = post(client, "/2/httpapi", body)
    assert body_of(r)["events_ingested"] == 1
    flush(runtime)
    assert stored_since(runtime, shared, start, "distinct_id, user_id, device_id") == [stored_ids]


# -- limits --------------------------------------------------------------------------------------------
def _sized(key: str, size: int) -> bytes:
    body = orjson.dumps({"api_key": key, "events": [ev(event_properties={"pad": ""})]})
    return body.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(body)) + b'"')


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/2/httpapi", (1 << 20) - 100, 200),
        ("/2/httpapi", (1 << 20) + 1, 413),
        ("/batch", (1 << 20) + 1, 200),
        ("/batch", (20 << 20) + 1, 413),
    ],
)
def test_body_size_limits(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, size: int, status: int
) -> None:
    content = _sized(shared["api_key"], size)
    assert len(content) == size
    if status == 413:
        with nothing_stored(runtime, shared):
            r = post(client, path, content)
        assert r.status_code == 413 and body_of(r) == {"code": 413, "error": "Payload too large"}
        return
    start = runtime.wal.end
    assert body_of(post(client, path, content))["events_ingested"] == 1
    flush(runtime)
    [[length]] = stored_since(runtime, shared, start, "length(properties)")
    assert size - 200 < length < size


def test_size_limit_without_content_length(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    content = _sized(shared["api_key"], (1 << 20) + 10)

    def chunks() -> Iterator[bytes]:  # chunked transfer: the limit is enforced while reading
        for start in range(0, len(content), 64 << 10):
            yield content[start : start + (64 << 10)]

    with nothing_stored(runtime, shared):
        r = client.post("/2/httpapi", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and body_of(r) == {"code": 413, "error": "Payload too large"}


@pytest.mark.parametrize(
    ("path", "count", "status"), [("/2/httpapi", 2000, 200), ("/2/httpapi", 2001, 413), ("/batch", 2001, 413)]
)
def test_event_count_limit(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, count: int, status: int
) -> None:
    events = [ev(device_id=f"device-{i}", time=T0 + i) for i in range(count)]
    if status == 413:
        with nothing_stored(runtime, shared):
            r = post(client, path, {"api_key": shared["api_key"], "events": events})
        assert r.status_code == 413 and body_of(r) == {"code": 413, "error": "Payload too large"}
        return
    start = runtime.wal.end
    assert body_of(post(client, path, {"api_key": shared["api_key"], "events": events}))["events_ingested"] == count
    flush(runtime)
    assert len(stored_since(runtime, shared, start, "event")) == count


# -- gzip -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", UPLOAD_PATHS)
@pytest.mark.parametrize("declared", [True, False], ids=["content-encoding", "sniffed"])
def test_gzip_bodies(client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, declared: bool) -> None:
    content = gzip.compress(orjson.dumps({"api_key": shared["api_key"], "events": [ev(), ev(event_type="Ünïcode ✓")]}))
    headers = {"Content-Encoding": "gzip"} if declared else {}
    start = runtime.wal.end
    r = post(client, path, content, headers=headers)
    assert r.status_code == 200 and body_of(r)["events_ingested"] == 2
    assert body_of(r)["payload_size_bytes"] == len(content)  # the bytes on the wire
    flush(runtime)
    assert stored_since(runtime, shared, start, "event") == [["Opened"], ["Ünïcode ✓"]]


@pytest.mark.parametrize(
    ("path", "make", "status", "error"),
    [
        ("/2/httpapi", lambda body: body, 400, "invalid gzip body"),  # declared gzip, plain body
        ("/2/httpapi", lambda body: gzip.compress(body)[:-12], 400, "truncated gzip body"),
        ("/batch", lambda body: gzip.compress(body)[:-12], 400, "truncated gzip body"),
        ("/2/httpapi", lambda body: gzip.compress(body[:-1] + b" " * (2 << 20) + b"}"), 413, "Payload too large"),
        ("/batch", lambda body: gzip.compress(body[:-1] + b" " * (21 << 20) + b"}"), 413, "Payload too large"),
    ],
    ids=["not-gzip", "truncated", "truncated-batch", "bomb", "bomb-batch"],
)
def test_bad_gzip_bodies(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    path: str,
    make: Callable[[bytes], bytes],
    status: int,
    error: str,
) -> None:
    content = make(orjson.dumps({"api_key": shared["api_key"], "events": [ev()]}))
    assert len(content) < (1 << 20)
    with nothing_stored(runtime, shared):
        r = post(client, path, content, headers={"Content-Encoding": "gzip"})
    assert r.status_code == status and body_of(r) == {"code": status, "error": error}


def test_browser_preflight(client: TestClient) -> None:
    r = client.options(
        "/2/httpapi",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert r.headers["access-control-allow-headers"] == "content-type"
    assert "POST" in r.headers["access-control-allow-methods"]
    r = post(client, "/2/httpapi", b"", headers={"Origin": "https://app.example"})
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "https://app.example"


# -- insert_id dedupe: same device within 7 days ------------------------------------------------------------
def test_insert_id_dedupe(client: TestClient, runtime: Runtime, project: dict[str, Any]) -> None:
    key = project["api_key"]
    same = ev(insert_id="ins-1", device_id="device-A")
    r = post(client, "/2/httpapi", {"api_key": key, "events": [same, same]})  # twice in one request
    assert body_of(r)["events_ingested"] == 2  # acknowledged; the duplicate is dropped when stored
    flush(runtime)
    assert post(client, "/batch", {"api_key": key, "events": [same | {"event_type": "Other"}]}).status_code == 200
    flush(runtime)
    kept = [
        ev(insert_id="ins-1", device_id="device-B"),  # another device: kept
        ev(insert_id="ins-2", device_id="device-A"),  # another insert_id: kept
        ev(insert_id="ins-1", device_id=None, user_id="user-A"),  # no device: keyed by the user
        ev(device_id="device-A"),  # no insert_id: never deduped
        ev(device_id="device-A"),
    ]
    assert post(client, "/2/httpapi", {"api_key": key, "events": kept}).status_code == 200
    flush(runtime)
    rows = stored(runtime, project, "device_id, user_id, insert_id, event")
    assert sorted(rows) == sorted(
        [
            ["device-A", "", "ins-1", "Opened"],
            ["device-B", "", "ins-1", "Opened"],
            ["device-A", "", "ins-2", "Opened"],
            ["", "user-A", "ins-1", "Opened"],
            ["device-A", "", "", "Opened"],
            ["device-A", "", "", "Opened"],
        ]
    )


def test_insert_id_dedupe_is_per_project(
    client: TestClient, runtime: Runtime, project: dict[str, Any], shared: dict[str, Any]
) -> None:
    same = ev(insert_id="per-project", device_id="device-P")
    start = runtime.wal.end
    for p in (project, shared):
        assert post(client, "/2/httpapi", {"api_key": p["api_key"], "events": [same]}).status_code == 200
    flush(runtime)
    assert stored_since(runtime, project, start, "insert_id") == [["per-project"]]
    assert stored_since(runtime, shared, start, "insert_id") == [["per-project"]]


@pytest.mark.parametrize(("days_ago", "kept"), [(6, 0), (8, 1)])
def test_insert_id_dedupe_window_is_seven_days(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], days_ago: int, kept: int
) -> None:
    """A key seen `days_ago` (written as the flusher writes it) drops the event only within 7 days."""
    insert_id = f"old-ins-{days_ago}"
    normalised = {"insert_id": insert_id, "device_id": "device-W", "user_id": "", "client_uuid": False, "uuid": ""}
    runtime.engine.command(
        "INSERT INTO dedupe_keys (project_id, key, wal_pos, seen_at)"
        " VALUES ({p:UInt32}, {k:UInt64}, {w:UInt64}, now() - INTERVAL {d:UInt32} DAY)",
        {"p": shared["id"], "k": dedupe_key(shared["id"], normalised), "w": 1 << 62, "d": days_ago},
    )
    start = runtime.wal.end
    event = ev(insert_id=insert_id, device_id="device-W")
    assert post(client, "/2/httpapi", {"api_key": shared["api_key"], "events": [event]}).status_code == 200
    flush(runtime)
    assert len(stored_since(runtime, shared, start, "insert_id")) == kept


# -- identify and group identify --------------------------------------------------------------------------
def _identify(client: TestClient, path: str, fields: dict[str, str], how: str) -> Any:
    if how == "form":
        return client.post(path, data=fields)
    if how == "multipart":
        return client.post(path, files={k: (None, v) for k, v in fields.items()})
    return client.get(path, params=fields)


@pytest.mark.parametrize("how", ["form", "multipart", "get"])
def test_identify_sets_user_properties(client: TestClient, runtime: Runtime, shared: dict[str, Any], how: str) -> None:
    user_id = f"user-identify-{how}"
    identification = {"user_id": user_id, "user_properties": {"plan": "free", "visits": 1}, "country": "Chile"}
    start = runtime.wal.end
    r = _identify(
        client,
        "/identify",
        {"api_key": shared["api_key"], "identification": orjson.dumps(identification).decode()},
        how,
    )
    assert (r.status_code, r.text) == (200, "success")
    flush(runtime)
    person = person_of(runtime, shared, user_id)
    assert person is not None and person.properties == {"plan": "free", "visits": 1}
    assert stored_since(runtime, shared, start, "event, user_id, country") == [["$identify", user_id, "Chile"]]


def test_identify_operations_and_lists(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key, start = shared["api_key"], runtime.wal.end
    steps = [
        [
            {
                "user_id": "user-ops-1",
                "user_properties": {"$set": {"plan": "free", "tags": ["a"]}, "$setOnce": {"first": "x"}},
            }
        ],
        [
            {"user_id": "user-ops-1", "user_properties": {"$add": {"visits": 2}, "$setOnce": {"first": "y"}}},
            {"user_id": "user-ops-1", "user_properties": {"$append": {"tags": "b"}, "$unset": {"plan": "-"}}},
            {"device_id": "device-ops-2", "user_properties": {"$set": {"anon": True}}},
        ],
        [{"user_id": "user-ops-1", "user_properties": {"$add": {"visits": 3}, "$prepend": {"tags": "z"}}}],
    ]
    for identification in steps:
        r = client.post("/identify", data={"api_key": key, "identification": orjson.dumps(identification).decode()})
        assert (r.status_code, r.text) == (200, "success")
        flush(runtime)
    user, device = person_of(runtime, shared, "user-ops-1"), person_of(runtime, shared, "device-ops-2")
    assert user is not None and user.properties == {"first": "x", "visits": 5, "tags": ["z", "a", "b"]}
    assert device is not None and device.properties == {"anon": True}
    assert len(stored_since(runtime, shared, start, "event")) == 5


def test_identify_links_device_to_user(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key, start = shared["api_key"], runtime.wal.end
    assert post(client, "/2/httpapi", {"api_key": key, "events": [ev(device_id="device-L")]}).status_code == 200
    flush(runtime)
    identification = orjson.dumps({"user_id": "user-L", "device_id": "device-L", "user_properties": {"k": 1}}).decode()
    assert client.post("/identify", data={"api_key": key, "identification": identification}).text == "success"
    flush(runtime)
    rows = stored_since(runtime, shared, start, "event, toString(pid)")
    assert [r[0] for r in rows] == ["Opened", "$identify"] and rows[0][1] == rows[1][1]


_IDENT = orjson.dumps({"user_id": "user-x-1"}).decode()
IDENTIFY_REFUSALS: list[tuple[str, str, Callable[[str], dict[str, str]], dict[str, Any]]] = [
    (
        "no api_key",
        "/identify",
        lambda key: {"identification": _IDENT},
        {"code": 400, "error": _MISSING, "missing_field": "api_key"},
    ),
    (
        "no identification",
        "/identify",
        lambda key: {"api_key": key},
        {"code": 400, "error": _MISSING, "missing_field": "identification"},
    ),
    (
        "blank identification",
        "/identify",
        lambda key: {"api_key": key, "identification": " "},
        {"code": 400, "error": _MISSING, "missing_field": "identification"},
    ),
    (
        "identification not JSON",
        "/identify",
        lambda key: {"api_key": key, "identification": "{user_id"},
        {"code": 400, "error": "Invalid JSON request body", "missing_field": "identification"},
    ),
    (
        "identification a number",
        "/identify",
        lambda key: {"api_key": key, "identification": "5"},
        {"code": 400, "error": "Invalid JSON request body", "missing_field": "identification"},
    ),
    (
        "empty list",
        "/identify",
        lambda key: {"api_key": key, "identification": "[]"},
        {"code": 400, "error": "Invalid JSON request body", "missing_field": "identification"},
    ),
    (
        "unknown key",
        "/identify",
        lambda key: {"api_key": "bad-key", "identification": _IDENT},
        {"code": 400, "error": "Invalid API key: bad-key"},
    ),
    (
        "no ids",
        "/identify",
        lambda key: {"api_key": key, "identification": '[{"user_id": "user-x-1"}, {"user_properties": {"a": 1}}]'},
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"user_id": [1], "device_id": [1]}},
    ),
    (
        "invalid id",
        "/identify",
        lambda key: {"api_key": key, "identification": '{"user_id": "undefined"}'},
        _invalid("user_id", 0),
    ),
    (
        "user_properties not an object",
        "/identify",
        lambda key: {"api_key": key, "identification": '{"user_id": "user-x-1", "user_properties": [1]}'},
        _invalid("user_properties", 0),
    ),
    (
        "no group_type",
        "/groupidentify",
        lambda key: {
            "api_key": key,
            "identification": '[{"group_type": "org", "group_value": "a"}, {"group_value": "b"}]',
        },
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"group_type": [1]}},
    ),
    (
        "empty group_value",
        "/groupidentify",
        lambda key: {"api_key": key, "identification": '{"group_type": "org", "group_value": ""}'},
        {"code": 400, "error": _MISSING, "events_with_missing_fields": {"group_type": [0]}},
    ),
    (
        "group_properties a list",
        "/groupidentify",
        lambda key: {
            "api_key": key,
            "identification": '{"group_type": "org", "group_value": "a", "group_properties": [1]}',
        },
        {"code": 400, "error": _INVALID, "events_with_invalid_fields": {"group_properties": [0]}},
    ),
    (
        "too many identifications",
        "/identify",
        lambda key: {
            "api_key": key,
            "identification": orjson.dumps([{"user_id": f"user-{i:04}"} for i in range(1025)]).decode(),
        },
        {"code": 413, "error": "Payload too large"},
    ),
]


@pytest.mark.parametrize("how", ["form", "get"])
@pytest.mark.parametrize(
    ("path", "fields", "expected"), [pytest.param(p, f, e, id=i) for i, p, f, e in IDENTIFY_REFUSALS]
)
def test_identify_refusals(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    how: str,
    path: str,
    fields: Callable[[str], dict[str, str]],
    expected: dict[str, Any],
) -> None:
    persons = person_count(runtime, shared)
    with nothing_stored(runtime, shared):
        r = _identify(client, path, fields(shared["api_key"]), how)
    assert r.status_code == expected["code"] and body_of(r) == expected
    assert person_count(runtime, shared) == persons


def test_identify_body_over_limit(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    identification = orjson.dumps({"user_id": "user-big", "user_properties": {"pad": "x" * (1 << 20)}}).decode()
    with nothing_stored(runtime, shared):
        r = client.post("/identify", data={"api_key": shared["api_key"], "identification": identification})
    assert r.status_code == 413 and body_of(r) == {"code": 413, "error": "Payload too large"}


def test_identify_malformed_multipart(client: TestClient) -> None:
    r = client.post(
        "/identify", content=b"--x\r\nno headers", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert r.status_code == 400 and body_of(r)["error"].startswith("Invalid form body")
    r = client.post("/identify", content=b"api_key=1", headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 400 and body_of(r)["error"].startswith("Invalid form body")


@pytest.mark.parametrize("how", ["form", "multipart", "get"])
def test_group_identify(client: TestClient, runtime: Runtime, shared: dict[str, Any], how: str) -> None:
    key, start, persons = shared["api_key"], runtime.wal.end, person_count(runtime, shared)
    first = [
        {"group_type": "org", "group_value": f"acme-{how}", "group_properties": {"name": "Acme", "seats": 5, "old": 1}},
        {"group_type": how, "group_value": 42, "group_properties": {"$set": {"name": "Globex"}}},
    ]
    second = {
        "group_type": "org",
        "group_value": f"acme-{how}",
        "group_properties": {"$add": {"seats": 3}, "$unset": {"old": "-"}},
    }
    for identification in (first, second):
        fields = {"api_key": key, "identification": orjson.dumps(identification).decode()}
        r = _identify(client, "/groupidentify", fields, how)
        assert (r.status_code, r.text) == (200, "success")
        flush(runtime)  # separate flushes: the second request must build on stored properties
    assert group_properties(runtime, shared, "org", f"acme-{how}") == {"name": "Acme", "seats": 8}
    assert group_properties(runtime, shared, how, "42") == {"name": "Globex"}
    assert person_count(runtime, shared) == persons  # a group identify creates no person
    assert stored_since(runtime, shared, start, "event, groups") == [
        ["$groupidentify", f'{{"org":"acme-{how}"}}'],
        ["$groupidentify", f'{{"{how}":"42"}}'],
        ["$groupidentify", f'{{"org":"acme-{how}"}}'],
    ]


def test_group_event_through_httpapi(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    event = ev(event_type="$groupidentify", groups={"org": "initech"}, group_properties={"$set": {"tier": "gold"}})
    start = runtime.wal.end
    assert post(client, "/2/httpapi", {"api_key": shared["api_key"], "events": [event]}).status_code == 200
    flush(runtime)
    assert group_properties(runtime, shared, "org", "initech") == {"tier": "gold"}
    [[pid]] = stored_since(runtime, shared, start, "toString(pid)")
    assert pid == person_uuid(shared["id"], "device-1")
