"""PostHog capture, reference §1: body shapes, tokens, distinct_id/uuid/timestamp rules, every encoding,
size limits, CORS, and the person effects of $identify, $create_alias, $set, $groupidentify, /engage.

Refusals assert the status, PostHog's error `code`, and that nothing of the request was stored.
"""

from __future__ import annotations

import base64
import gzip
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import lzstring
import orjson
import pytest
from fastapi.testclient import TestClient

from footfall.ingest.event import person_uuid
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.ingest_checks import group_properties, nothing_stored, person_of, stored_since

EVENT_PATHS = ["/e/", "/i/v0/e/", "/capture/", "/track/", "/engage/", "/batch/"]
ALL_PATHS = EVENT_PATHS + [p.rstrip("/") for p in EVENT_PATHS]
TS = "2023-11-14T22:13:20.000Z"
TS_MS = 1_700_000_000_000


@pytest.fixture(scope="module")
def shared(runtime: Runtime) -> dict[str, Any]:
    """One project for the whole module (projects are slow to make); tests read back their own rows."""
    return new_project(runtime)


def ev(name: str = "$pageview", distinct_id: Any = "user-1", **fields: Any) -> dict[str, Any]:
    event = {"event": name, "distinct_id": distinct_id, "timestamp": TS, "properties": {"$current_url": "/"}}
    event.update(fields)
    return {k: v for k, v in event.items() if v is not None}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def error_code(response: Any) -> str:
    body = response.json()
    assert body["status"] == response.status_code, body
    return body["code"]


# -- body shapes, on every path ----------------------------------------------------------------------------
SHAPES: dict[str, Callable[[str], Any]] = {
    "array": lambda key: [ev(token=key), ev("clicked", token=key)],
    "batch": lambda key: {"api_key": key, "batch": [ev(), ev("clicked")]},
    "single": lambda key: ev(api_key=key),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ALL_PATHS)
def test_body_shapes(client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, shape: str) -> None:
    start = runtime.wal.end
    r = client.post(path, content=orjson.dumps(SHAPES[shape](shared["api_key"])))
    assert (r.status_code, r.json()) == (200, {"status": 1})
    flush(runtime)
    expected = [["$pageview"]] if shape == "single" else [["$pageview"], ["clicked"]]
    assert stored_since(runtime, shared, start, "event") == expected


@pytest.mark.parametrize("path", ["/e", "/batch/"])
def test_get_with_query_data(client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str) -> None:
    start = runtime.wal.end
    r = client.get(path, params={"data": orjson.dumps(ev(api_key=shared["api_key"])).decode()})
    assert (r.status_code, r.json()) == (200, {"status": 1})
    flush(runtime)
    assert stored_since(runtime, shared, start, "event, distinct_id") == [["$pageview", "user-1"]]


# -- tokens ------------------------------------------------------------------------------------------------
TOKEN_SOURCES: dict[str, Callable[[str], tuple[Any, dict[str, str]]]] = {
    "batch api_key": lambda key: ({"api_key": key, "batch": [ev()]}, {}),
    "batch token": lambda key: ({"token": key, "batch": [ev()]}, {}),
    "batch of events with token": lambda key: ({"batch": [ev(token=key), ev(token=key)]}, {}),
    "event api_key": lambda key: (ev(api_key=key), {}),
    "event token": lambda key: (ev(token=key), {}),
    "event $token": lambda key: (ev(**{"$token": key}), {}),
    "properties.token": lambda key: (ev(properties={"token": key, "$current_url": "/"}), {}),
    "array, one event carries it": lambda key: ([ev(), ev(token=key)], {}),
    "query api_key": lambda key: ([ev()], {"api_key": key}),
    "query token": lambda key: (ev(), {"token": key}),
    "batch key beats event keys": lambda key: ({"api_key": key, "batch": [ev(token="phc_other_project")]}, {}),
}


@pytest.mark.parametrize("source", TOKEN_SOURCES)
def test_token_sources(client: TestClient, runtime: Runtime, shared: dict[str, Any], source: str) -> None:
    body, params = TOKEN_SOURCES[source](shared["api_key"])
    start = runtime.wal.end
    r = client.post("/e/", params=params, content=orjson.dumps(body))
    assert r.status_code == 200, r.text
    flush(runtime)
    rows = stored_since(runtime, shared, start, "event, properties")
    assert rows and all(row[0] == "$pageview" for row in rows)
    assert all(orjson.loads(row[1]) == {"$current_url": "/"} for row in rows)  # token and distinct_id removed


TOKEN_REFUSALS: dict[str, tuple[Callable[[str], tuple[Any, dict[str, str]]], int, str]] = {
    "different tokens in one array": (lambda key: ([ev(token=key), ev(token=key + "x")], {}), 400, "unroutable_events"),
    "different tokens in a batch": (
        lambda key: ({"batch": [ev(token=key), ev(api_key="y")]}, {}),
        400,
        "unroutable_events",
    ),
    "personal key": (lambda key: ({"api_key": "phx_personal", "batch": [ev()]}, {}), 401, "personal_api_key"),
    "personal key in event": (lambda key: (ev(token="phx_abc"), {}), 401, "personal_api_key"),
    "no token": (lambda key: ({"batch": [ev()]}, {}), 401, "ingest_key_required"),
    "empty token": (lambda key: (ev(api_key=""), {}), 401, "ingest_key_required"),
    "token not a string": (lambda key: ({"api_key": 12, "batch": [ev()]}, {}), 401, "ingest_key_required"),
    "unknown token": (lambda key: (ev(api_key="phc_nobody"), {}), 403, "ingest_key_unknown"),
    "unknown query token": (lambda key: (ev(), {"token": "phc_nobody"}), 403, "ingest_key_unknown"),
}


@pytest.mark.parametrize("case", TOKEN_REFUSALS)
@pytest.mark.parametrize("path", ["/e/", "/batch/"])
def test_token_refusals(client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, case: str) -> None:
    make, status, code = TOKEN_REFUSALS[case]
    body, params = make(shared["api_key"])
    with nothing_stored(runtime, shared):
        r = client.post(path, params=params, content=orjson.dumps(body))
    assert (r.status_code, error_code(r)) == (status, code)


# -- other refusals: the whole request is refused, also when only one event is bad ----------------------------
REFUSALS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "empty body": (lambda key: b"", "empty_payload"),
    "invalid JSON": (lambda key: b'{"api_key": "', "invalid_payload"),
    "JSON number": (lambda key: b"12", "invalid_payload"),
    "empty array": (lambda key: b"[]", "empty_batch"),
    "empty batch": (lambda key: orjson.dumps({"api_key": key, "batch": []}), "empty_batch"),
    "batch not a list": (lambda key: orjson.dumps({"api_key": key, "batch": ev()}), "invalid_payload"),
    "event not an object": (lambda key: orjson.dumps({"api_key": key, "batch": [ev(), "x"]}), "invalid_payload"),
    "no event name": (lambda key: orjson.dumps({"api_key": key, "batch": [ev(), ev(name=None)]}), "missing_event_name"),
    "event name a number": (lambda key: orjson.dumps({"api_key": key, "batch": [ev(name=5)]}), "missing_event_name"),
    "properties a list": (lambda key: orjson.dumps({"api_key": key, "batch": [ev(properties=[1])]}), "invalid_payload"),
    "properties 41 levels": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(properties=_nested(41))]}),
        "invalid_payload",
    ),
    "$set 300 levels": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(**{"$set": "RAW"})]}).replace(b'"RAW"', _deep(300)),
        "invalid_payload",
    ),
    "distinct_id 900 levels": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(distinct_id="RAW")]}).replace(b'"RAW"', _deep(900)),
        "invalid_payload",
    ),
    "invalid uuid": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(), ev(uuid="not-a-uuid")]}),
        "invalid_uuid",
    ),
    "uuid a number": (lambda key: orjson.dumps({"api_key": key, "batch": [ev(uuid=12345)]}), "invalid_uuid"),
    "invalid timestamp": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(), ev(timestamp="yesterday")]}),
        "invalid_timestamp",
    ),
    "impossible date": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(timestamp="2023-13-45T00:00:00Z")]}),
        "invalid_timestamp",
    ),
    "timestamp before 1970": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(timestamp="1969-12-31T23:59:59Z")]}),
        "invalid_timestamp",
    ),
    "timestamp a huge number": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(timestamp=-1e308)]}),
        "invalid_timestamp",
    ),
    "timestamp an object": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(timestamp={"t": 1})]}),
        "invalid_timestamp",
    ),
    "skew to before 1970": (
        lambda key: orjson.dumps({"api_key": key, "sent_at": "2100-01-01T00:00:00Z", "batch": [ev()]}),
        "invalid_timestamp",
    ),
    "no distinct_id": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(), ev(distinct_id=None)]}),
        "missing_distinct_id",
    ),
    "null distinct_id": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev() | {"distinct_id": None}]}),
        "missing_distinct_id",
    ),
    "empty distinct_id": (
        lambda key: orjson.dumps({"api_key": key, "batch": [ev(distinct_id="")]}),
        "missing_distinct_id",
    ),
}


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


def _deep(levels: int) -> bytes:
    return b'{"k":' * (levels - 1) + b'{"leaf":1}' + b"}" * (levels - 1)


@pytest.mark.parametrize("case", REFUSALS)
@pytest.mark.parametrize("path", ["/e/", "/i/v0/e", "/batch/"])
def test_refusals_store_nothing(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, case: str
) -> None:
    make, code = REFUSALS[case]
    with nothing_stored(runtime, shared):
        r = client.post(path, content=make(shared["api_key"]))
    assert r.status_code == 400
    if path == "/batch/" and case in _AMPLITUDE_WORDING:
        # /batch/ is shared with Amplitude: a body that cannot be read gets Amplitude's numeric code.
        assert r.json() == {"code": 400, "error": _AMPLITUDE_WORDING[case]}
    else:
        assert error_code(r) == code


_AMPLITUDE_WORDING = {
    "empty body": "Missing request body",
    "invalid JSON": "Invalid JSON request body",
    "JSON number": "Invalid JSON request body",  # "12" reads as base64, which decodes to no JSON
}


def test_properties_forty_levels_deep_are_kept(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    start = runtime.wal.end
    deep = ev(properties=_nested(40), **{"$set": _nested(40)})
    assert client.post("/batch/", json={"api_key": shared["api_key"], "batch": [deep]}).status_code == 200
    flush(runtime)
    [[properties]] = stored_since(runtime, shared, start, "properties")
    assert orjson.loads(properties) == _nested(40)


# -- distinct_id -------------------------------------------------------------------------------------------
DISTINCT_IDS: list[tuple[str, dict[str, Any], str]] = [
    ("top level wins", {"distinct_id": "a", "$distinct_id": "b", "properties": {"distinct_id": "c"}}, "a"),
    ("$distinct_id next", {"$distinct_id": "b", "properties": {"distinct_id": "c"}}, "b"),
    ("properties last", {"properties": {"distinct_id": "c"}}, "c"),
    ("null top level falls through", {"distinct_id": None, "$distinct_id": "b"}, "b"),
    ("integer", {"distinct_id": 23}, "23"),
    ("float", {"distinct_id": 2.5}, "2.5"),
    ("list", {"distinct_id": ["a", "b"]}, '["a","b"]'),
    ("object", {"distinct_id": {"id": 1}}, '{"id":1}'),
    ("bool", {"distinct_id": True}, "true"),
    ("unicode", {"distinct_id": "ünï 😀"}, "ünï 😀"),
    ("truncated to 200", {"distinct_id": "x" * 250}, "x" * 200),
    ("truncated in properties", {"properties": {"distinct_id": "y" * 201}}, "y" * 200),
]


@pytest.mark.parametrize(("fields", "expected"), [pytest.param(f, e, id=i) for i, f, e in DISTINCT_IDS])
def test_distinct_id_rules(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], fields: dict[str, Any], expected: str
) -> None:
    event = {"event": "$pageview", "api_key": shared["api_key"], **fields}
    start = runtime.wal.end
    assert client.post("/i/v0/e/", content=orjson.dumps(event)).status_code == 200
    flush(runtime)
    assert stored_since(runtime, shared, start, "distinct_id") == [[expected]]


# -- uuid ---------------------------------------------------------------------------------------------------
def test_uuid_empty_is_generated_and_given_is_kept(
    client: TestClient, runtime: Runtime, shared: dict[str, Any]
) -> None:
    given = uuid.uuid4()
    batch = [ev(uuid=""), ev(uuid=None), ev(uuid=str(given).upper()), ev(uuid="")]
    start = runtime.wal.end
    assert client.post("/batch/", json={"api_key": shared["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    uuids = [row[0] for row in stored_since(runtime, shared, start, "toString(uuid)")]
    assert len(uuids) == 4 and uuids[2] == str(given)
    generated = [uuids[0], uuids[1], uuids[3]]
    assert len(set(generated)) == 3 and all(uuid.UUID(u).version == 4 for u in generated)


def test_repeated_uuid_is_stored_once(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    same = str(uuid.uuid4())
    start = runtime.wal.end
    body = {"api_key": shared["api_key"], "batch": [ev(uuid=same), ev("other", uuid=same)]}
    assert client.post("/batch/", json=body).status_code == 200
    assert client.post("/e/", json=ev(uuid=same.upper(), api_key=shared["api_key"])).status_code == 200
    flush(runtime)
    assert client.post("/capture/", json=ev(uuid=same, api_key=shared["api_key"])).status_code == 200
    flush(runtime)
    assert stored_since(runtime, shared, start, "toString(uuid), event") == [[same, "$pageview"]]


# -- timestamps --------------------------------------------------------------------------------------------
TIMESTAMPS: list[tuple[str, dict[str, Any], dict[str, str], Callable[[int], int]]] = [
    # (id, batch fields, query params, expected stored ms given the receive time)
    ("as given", {"batch": [ev(timestamp="2023-11-14T22:13:20.123Z")]}, {}, lambda now: TS_MS + 123),
    ("with an offset", {"batch": [ev(timestamp="2023-11-14T23:13:20+01:00")]}, {}, lambda now: TS_MS),
    ("without a zone is UTC", {"batch": [ev(timestamp="2023-11-14T22:13:20")]}, {}, lambda now: TS_MS),
    (
        "sent_at corrects skew",
        {"sent_at": "2023-11-14T22:13:30.000Z", "batch": [ev(timestamp=TS)]},
        {},
        lambda now: now - 10_000,
    ),
    (
        "sent_at ahead of the event",
        {"sent_at": "2023-11-14T22:13:15.000Z", "batch": [ev(timestamp=TS)]},
        {},
        lambda now: now + 5_000,
    ),
    ("query _ is sent_at in ms", {"batch": [ev(timestamp=TS)]}, {"_": str(TS_MS + 2_000)}, lambda now: now - 2_000),
    ("query _ in seconds is ignored", {"batch": [ev(timestamp=TS)]}, {"_": str(TS_MS // 1000)}, lambda now: TS_MS),
    (
        "$ignore_sent_at",
        {"sent_at": "2023-11-14T22:13:30Z", "batch": [ev(timestamp=TS, properties={"$ignore_sent_at": True})]},
        {},
        lambda now: TS_MS,
    ),
    ("offset without timestamp", {"batch": [ev(timestamp=None, offset=5_000)]}, {}, lambda now: now - 5_000),
    ("neither is now", {"batch": [ev(timestamp=None)]}, {}, lambda now: now),
]


@pytest.mark.parametrize(("fields", "params", "expected"), [pytest.param(f, p, e, id=i) for i, f, p, e in TIMESTAMPS])
def test_timestamps(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    fields: dict[str, Any],
    params: dict[str, str],
    expected: Callable[[int], int],
) -> None:
    start, before = runtime.wal.end, now_ms()
    r = client.post("/batch/", params=params, json={"api_key": shared["api_key"], **fields})
    after = now_ms()
    assert r.status_code == 200, r.text
    flush(runtime)
    [[ts]] = stored_since(runtime, shared, start, "toUnixTimestamp64Milli(timestamp)")
    assert expected(before) <= ts <= expected(after)


# -- encodings ----------------------------------------------------------------------------------------------
UNICODE = "ünï € 😀"  # non-BMP: lz64 carries it as a UTF-16 surrogate pair


def _js_string(text: str) -> str:
    """The string as JavaScript holds it (UTF-16 code units), which is what posthog-js lz-compresses."""
    raw = text.encode("utf-16-le")
    return "".join(chr(int.from_bytes(raw[i : i + 2], "little")) for i in range(0, len(raw), 2))


def _lz64(data: bytes) -> str:
    return lzstring.LZString().compressToBase64(_js_string(data.decode()))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# (id, method, query params, headers, body made from the JSON text)
ENCODINGS: list[tuple[str, str, dict[str, str], dict[str, str], Callable[[bytes], bytes]]] = [
    ("plain JSON", "POST", {}, {"Content-Type": "application/json"}, lambda j: j),
    ("JSON as text/plain", "POST", {}, {"Content-Type": "text/plain"}, lambda j: j),
    ("gzip-js hint", "POST", {"compression": "gzip-js"}, {"Content-Type": "text/plain"}, gzip.compress),
    ("gzip hint", "POST", {"compression": "gzip"}, {}, gzip.compress),
    ("gzip sniffed (posthog-js)", "POST", {"ver": "1.200.0"}, {"Content-Type": "text/plain"}, gzip.compress),
    ("gzip Content-Encoding (posthog-python)", "POST", {}, {"Content-Encoding": "gzip"}, gzip.compress),
    ("base64 hint", "POST", {"compression": "base64"}, {}, lambda j: _b64(j).encode()),
    ("base64 sniffed", "POST", {}, {"Content-Type": "text/plain"}, lambda j: _b64(j).encode()),
    ("base64 of gzip", "POST", {}, {}, lambda j: _b64(gzip.compress(j)).encode()),
    ("lz64 body", "POST", {"compression": "lz64"}, {}, lambda j: _lz64(j).encode()),
    ("form base64 hint", "POST", {"compression": "base64"}, _FORM, lambda j: urlencode({"data": _b64(j)}).encode()),
    ("form base64 sniffed", "POST", {}, _FORM, lambda j: urlencode({"data": _b64(j), "ver": "1.0"}).encode()),
    ("form base64 unescaped +", "POST", {}, _FORM, lambda j: b"data=" + _b64(j).encode()),
    ("form urlencoded JSON", "POST", {}, _FORM, lambda j: b"data=" + quote(j.decode()).encode()),
    ("form lz64", "POST", {"compression": "lz64"}, _FORM, lambda j: urlencode({"data": _lz64(j)}).encode()),
    ("GET data JSON", "GET", {}, {}, lambda j: j),
    ("GET data base64", "GET", {}, {}, lambda j: _b64(j).encode()),
    ("GET data lz64", "GET", {"compression": "lz64"}, {}, lambda j: _lz64(j).encode()),
]


@pytest.mark.parametrize(
    ("method", "params", "headers", "encode"), [pytest.param(m, p, h, e, id=i) for i, m, p, h, e in ENCODINGS]
)
@pytest.mark.parametrize("path", ["/e/", "/track", "/batch/"])  # one handler serves every path (see shapes)
def test_encodings(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    path: str,
    method: str,
    params: dict[str, str],
    headers: dict[str, str],
    encode: Callable[[bytes], bytes],
) -> None:
    batch = [ev(properties={"text": UNICODE, "plus": "a+b c"}), ev("clicked", distinct_id=UNICODE)]
    body = encode(orjson.dumps({"api_key": shared["api_key"], "batch": batch}))
    start = runtime.wal.end
    if method == "GET":
        r = client.get(path, params={**params, "data": body.decode()})
    else:
        r = client.post(path, params=params, headers=headers, content=body)
    assert (r.status_code, r.json()) == (200, {"status": 1})
    flush(runtime)
    rows = stored_since(runtime, shared, start, "event, distinct_id, properties")
    assert [row[:2] for row in rows] == [["$pageview", "user-1"], ["clicked", UNICODE]]
    assert orjson.loads(rows[0][2]) == {"text": UNICODE, "plus": "a+b c"}


UNREADABLE: list[tuple[str, dict[str, str], dict[str, str], bytes]] = [
    ("gzip hint, plain body", {"compression": "gzip"}, {}, b'{"api_key": "k"}'),
    ("truncated gzip", {}, {}, gzip.compress(b'{"api_key": "k", "batch": []}')[:-10]),
    ("lz64 hint, garbage", {"compression": "lz64"}, {}, b"!!not lz64!!"),
    ("lz64 hint, empty result", {"compression": "lz64"}, {}, b"AAAA"),
    ("form without data", {}, _FORM, b"ver=1&x=2"),
    ("base64 of garbage", {"compression": "base64"}, {}, b"bm90IGpzb24="),
    ("binary garbage", {}, {"Content-Type": "application/octet-stream"}, bytes(range(256))),
]


@pytest.mark.parametrize(("params", "headers", "body"), [pytest.param(p, h, b, id=i) for i, p, h, b in UNREADABLE])
def test_unreadable_bodies(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes,
) -> None:
    with nothing_stored(runtime, shared):
        r = client.post("/e/", params=params, headers=headers, content=body)
    assert r.status_code == 400 and error_code(r) == "invalid_payload"


# -- size limits ---------------------------------------------------------------------------------------------
def _sized(key: str, size: int) -> bytes:
    body = orjson.dumps({"api_key": key, "batch": [ev(properties={"pad": ""})]})
    return body.replace(b'"pad":""', b'"pad":"' + b"x" * (size - len(body)) + b'"')


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/e/", (2 << 20) - 10, 200),
        ("/e/", (2 << 20) + 1, 413),
        ("/engage", (2 << 20) + 1, 413),
        ("/batch/", (2 << 20) + 1, 200),
        ("/batch/", (20 << 20) + 1, 413),
    ],
)
def test_size_limits(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str, size: int, status: int
) -> None:
    content = _sized(shared["api_key"], size)
    if status == 200:
        start = runtime.wal.end
        assert client.post(path, content=content).status_code == 200
        flush(runtime)
        assert len(stored_since(runtime, shared, start, "event")) == 1
        return
    with nothing_stored(runtime, shared):
        r = client.post(path, content=content)
    assert r.status_code == 413
    if path.startswith("/batch"):
        assert r.json() == {"code": 413, "error": "Payload too large"}
    else:
        assert error_code(r) == "payload_too_large"


def _bomb(key: str, size: int) -> bytes:
    """A valid capture body padded with whitespace to `size` bytes: tiny compressed, too large inflated."""
    body = orjson.dumps({"api_key": key, "batch": [ev()]})
    return body[:-1] + b" " * (size - len(body)) + b"}"


def _lz64_spaces(size: int) -> str:
    """lz-string base64 of `size` spaces, encoded directly (lzstring's own compressor takes seconds).

    Each code names the entry just being made (previous run + one space), so the run grows by one per
    code: a few KB that decode to megabytes, the quadratic growth that makes lz64 a bomb.
    """
    bits: list[int] = []

    def put(value: int, width: int) -> None:
        bits.extend((value >> i) & 1 for i in range(width))

    put(0, 2)  # an 8-bit literal follows
    put(ord(" "), 8)
    dict_len, enlarge_in, num_bits, total, run = 4, 4, 3, 1, 1
    while total < size:
        put(dict_len, num_bits)
        run, total, dict_len, enlarge_in = run + 1, total + run + 1, dict_len + 1, enlarge_in - 1
        if enlarge_in == 0:
            enlarge_in, num_bits = 1 << num_bits, num_bits + 1
    put(2, num_bits)  # end of stream
    bits += [0] * (6 - len(bits) % 6)  # like lz-string: at least one padding bit, so a whole char may follow
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = "".join(alphabet[int("".join(map(str, bits[i : i + 6])), 2)] for i in range(0, len(bits), 6))
    return text + "=" * (-len(text) % 4)


def test_lz64_bomb_helper_is_real_lz_string() -> None:
    assert lzstring.LZString().decompressFromBase64(_lz64_spaces(5000)) == " " * 5050


BOMBS: list[tuple[str, str, dict[str, str], dict[str, str], Callable[[bytes], bytes]]] = [
    ("gzip sniffed", "/e/", {}, {}, gzip.compress),
    ("gzip hint", "/e/", {"compression": "gzip-js"}, {}, gzip.compress),
    ("gzip header", "/i/v0/e/", {}, {"Content-Encoding": "gzip"}, gzip.compress),
    ("base64 of gzip", "/capture/", {"compression": "base64"}, {}, lambda b: _b64(gzip.compress(b)).encode()),
    ("form base64 of gzip", "/e/", {}, _FORM, lambda b: urlencode({"data": _b64(gzip.compress(b))}).encode()),
    ("lz64", "/e/", {"compression": "lz64"}, {}, lambda b: _lz64_spaces(len(b)).encode()),
    ("form lz64", "/engage/", {"compression": "lz64"}, _FORM, lambda b: b"data=" + _lz64_spaces(len(b)).encode()),
    ("batch gzip", "/batch/", {}, {}, gzip.compress),
]


@pytest.mark.parametrize(
    ("path", "params", "headers", "encode"), [pytest.param(p, q, h, e, id=i) for i, p, q, h, e in BOMBS]
)
def test_decompression_bombs_are_413(
    client: TestClient,
    runtime: Runtime,
    shared: dict[str, Any],
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    encode: Callable[[bytes], bytes],
) -> None:
    limit = (20 << 20) if path.startswith("/batch") else (2 << 20)
    content = encode(_bomb(shared["api_key"], limit + 1024))
    assert len(content) < limit // 20
    with nothing_stored(runtime, shared):
        r = client.post(path, params=params, headers=headers, content=content)
    assert r.status_code == 413


# -- CORS ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_PATHS)
def test_cors_preflight(client: TestClient, path: str) -> None:
    r = client.options(
        path,
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-posthog-thing",
        },
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "https://shop.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert r.headers["access-control-allow-headers"] == "content-type, x-posthog-thing"
    assert set(r.headers["access-control-allow-methods"].replace(" ", "").split(",")) == {"GET", "POST", "OPTIONS"}
    assert "Origin" in r.headers["vary"]


def test_cors_headers_on_answers(client: TestClient, shared: dict[str, Any]) -> None:
    origin = {"Origin": "https://other.example"}
    ok = client.post("/e/", headers=origin, json=ev(api_key=shared["api_key"]))
    refused = client.post("/e/", headers=origin, json=ev(api_key="phc_nobody"))
    bad = client.post("/batch/", headers=origin, content=b"")
    for r, status in ((ok, 200), (refused, 403), (bad, 400)):
        assert r.status_code == status
        assert r.headers["access-control-allow-origin"] == "https://other.example"
    plain = client.post("/e/", json=ev(api_key=shared["api_key"]))
    assert "access-control-allow-origin" not in plain.headers


# -- person effects --------------------------------------------------------------------------------------------
def _send(client: TestClient, key: str, *events: dict[str, Any], path: str = "/batch/", **extra: Any) -> None:
    r = client.post(path, json={"api_key": key, "batch": list(events), **extra})
    assert r.status_code == 200, r.text


def test_identify_merges_anonymous_person(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key, start = shared["api_key"], runtime.wal.end
    _send(client, key, ev(distinct_id="anon-m1"), ev("clicked", distinct_id="anon-m1"))
    flush(runtime)
    _send(client, key, ev(distinct_id="user-m1", **{"$set": {"email": "m1@example.com"}}))
    flush(runtime)
    identify = ev(
        "$identify",
        distinct_id="user-m1",
        properties={"$anon_distinct_id": "anon-m1"},
        **{"$set": {"plan": "pro"}, "$set_once": {"first_seen": "web"}},
    )
    _send(client, key, identify, ev("after", distinct_id="anon-m1"))
    flush(runtime)
    rows = stored_since(runtime, shared, start, "event, toString(pid)")
    assert [r[0] for r in rows] == ["$pageview", "clicked", "$pageview", "$identify", "after"]
    assert len({r[1] for r in rows}) == 1  # one person, older anonymous events included
    user = person_of(runtime, shared, "user-m1")
    assert user is not None and user.is_identified
    assert user.properties == {"email": "m1@example.com", "plan": "pro", "first_seen": "web"}
    anon = person_of(runtime, shared, "anon-m1")
    assert anon is not None and anon.id == user.id


def test_create_alias_joins_ids(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key, start = shared["api_key"], runtime.wal.end
    _send(client, key, ev(distinct_id="alias-new"), ev(distinct_id="alias-prev"))
    flush(runtime)
    # posthog-python's alias(previous_id, distinct_id)
    alias = ev(
        "$create_alias", distinct_id="alias-prev", properties={"distinct_id": "alias-prev", "alias": "alias-new"}
    )
    _send(client, key, alias)
    flush(runtime)
    rows = stored_since(runtime, shared, start, "distinct_id, toString(pid)")
    assert [r[0] for r in rows] == ["alias-new", "alias-prev", "alias-prev"]
    assert len({r[1] for r in rows}) == 1


def test_set_set_once_unset(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key, start = shared["api_key"], runtime.wal.end
    did = "user-props-1"
    _send(
        client,
        key,
        ev("$set", distinct_id=did, **{"$set": {"name": "Ann", "plan": "free", "tmp": 1}}),
        ev("$set_once", distinct_id=did, **{"$set_once": {"name": "Bob", "source": "ad"}}),
    )
    flush(runtime)
    _send(
        client,
        key,
        ev("$set", distinct_id=did, properties={"$set": {"plan": "ignored"}}, **{"$set": {"plan": "pro"}}),
        ev("$set", distinct_id=did, properties={"$unset": ["tmp", "absent"], "$set": {"city": "Oslo"}}),
        ev("$pageview", distinct_id=did, properties={"$set_once": {"source": "late"}}),
    )
    flush(runtime)
    person = person_of(runtime, shared, did)
    assert person is not None
    assert person.properties == {"name": "Ann", "plan": "pro", "source": "ad", "city": "Oslo"}
    rows = stored_since(runtime, shared, start, "person_properties")
    assert orjson.loads(rows[-1][0]) == person.properties  # the last event carries the current properties
    assert orjson.loads(rows[0][0]) == {"name": "Ann", "plan": "free", "tmp": 1}  # properties at event time


def test_groupidentify_sets_group_properties(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    key = shared["api_key"]
    group = {"$group_type": "company", "$group_key": "ph-co-1", "$group_set": {"name": "Acme", "size": 10}}
    _send(client, key, ev("$groupidentify", distinct_id="$company_ph-co-1", properties=group))
    flush(runtime)
    _send(
        client,
        key,
        ev("$groupidentify", distinct_id="$company_ph-co-1", properties=group | {"$group_set": {"size": 12}}),
    )
    flush(runtime)
    assert group_properties(runtime, shared, "company", "ph-co-1") == {"name": "Acme", "size": 12}


def test_personless_events_create_no_person(client: TestClient, runtime: Runtime, shared: dict[str, Any]) -> None:
    start = runtime.wal.end
    personless = ev(distinct_id="personless-1", properties={"$process_person_profile": False}, **{"$set": {"a": 1}})
    _send(client, shared["api_key"], personless, personless | {"event": "again"})
    flush(runtime)
    assert person_of(runtime, shared, "personless-1") is None
    rows = stored_since(runtime, shared, start, "toString(pid), person_properties")
    assert rows == [[person_uuid(shared["id"], "personless-1"), "{}"]] * 2


@pytest.mark.parametrize("historical", [True, False])
def test_historical_migration(client: TestClient, runtime: Runtime, shared: dict[str, Any], historical: bool) -> None:
    start = runtime.wal.end
    _send(client, shared["api_key"], ev(), historical_migration=historical)
    flush(runtime)
    [[extra]] = stored_since(runtime, shared, start, "extra")
    assert orjson.loads(extra) == ({"historical_migration": True} if historical else {})


@pytest.mark.parametrize("path", ["/engage/", "/engage"])
def test_engage_without_event_is_identify(
    client: TestClient, runtime: Runtime, shared: dict[str, Any], path: str
) -> None:
    did = f"engage-user{path.replace('/', '-')}"
    start = runtime.wal.end
    engage = {"$token": shared["api_key"], "$distinct_id": did, "$set": {"plan": "gold"}}
    r = client.post(
        path,
        params={"compression": "base64"},
        headers=_FORM,
        content=urlencode({"data": _b64(orjson.dumps(engage))}).encode(),
    )
    assert r.status_code == 200
    r = client.post(path, json={"event": "kept", "token": shared["api_key"], "distinct_id": did})
    assert r.status_code == 200
    flush(runtime)
    assert stored_since(runtime, shared, start, "event, distinct_id") == [["$identify", did], ["kept", did]]
    person = person_of(runtime, shared, did)
    assert person is not None and person.properties == {"plan": "gold"}
