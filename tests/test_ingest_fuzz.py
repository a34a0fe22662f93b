"""Property tests over every ingestion path: arbitrary bytes, arbitrary JSON, and mutated valid bodies,
with random Content-Type, Content-Encoding and query parameters.

The properties, for every request:
- never a 5xx;
- Amplitude's own paths answer JSON with a numeric `code` (or `success` for identify);
- a refused request writes nothing to the log and stores nothing;
- an accepted request is logged whole (every event it carried, never a part) and, after a flush, the
  project holds exactly the rows it held before plus the acknowledged events (less client duplicates).
"""

from __future__ import annotations

import base64
import copy
import gzip
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import lzstring
import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from footfall.ingest.flusher import dedupe_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.ingest_checks import stored_count, wal_events

AMPLITUDE_UPLOAD = ["/2/httpapi", "/2/httpapi/", "/batch"]
AMPLITUDE_FORMS = ["/identify", "/groupidentify"]
POSTHOG = ["/e/", "/e", "/i/v0/e/", "/capture/", "/track", "/engage/", "/batch/"]
ALL_PATHS = AMPLITUDE_UPLOAD + AMPLITUDE_FORMS + POSTHOG

SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Fuzzed:
    """The fuzz project and every dedupe key its acknowledged events used (all within the 7-day window)."""

    project: dict[str, Any]
    seen_keys: set[int] = field(default_factory=set)


@pytest.fixture(scope="module")
def fuzzed(runtime: Runtime) -> Fuzzed:
    return Fuzzed(new_project(runtime))


# -- values -----------------------------------------------------------------------------------------------
KEYS = [
    "api_key",
    "token",
    "$token",
    "events",
    "batch",
    "event",
    "event_type",
    "distinct_id",
    "$distinct_id",
    "user_id",
    "device_id",
    "uuid",
    "insert_id",
    "time",
    "timestamp",
    "sent_at",
    "offset",
    "properties",
    "event_properties",
    "user_properties",
    "$set",
    "$set_once",
    "options",
    "min_id_length",
    "historical_migration",
    "identification",
    "group_type",
    "group_value",
    "group_properties",
    "$anon_distinct_id",
    "alias",
    "$process_person_profile",
    "session_id",
    "revenue",
    "groups",
    "$groups",
    "$unset",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(KEYS),
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


def _deep(levels: int) -> Any:
    value: Any = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


INTERESTING = st.sampled_from(
    [
        "",
        None,
        0,
        -1,
        1.5,
        True,
        [],
        {},
        "null",
        "undefined",
        "00000000-0000-0000-0000-000000000000",
        "x" * 300,
        "phx_personal",
        "2023-13-45T00:00:00Z",
        "2023-11-14T22:13:20Z",
        "2100-01-01T00:00:00Z",
        "not-a-uuid",
        2**63 - 1,
        2**63,
        -(2**63),
        2**64 - 1,
        -1e308,
        1e308,
        253402300800000,
        _deep(45),
        _deep(200),
        {"$set": {"a": 1}},
        {"$add": {"n": "x"}},
        ["a", {"b": None}],
    ]
)


# -- valid bodies ----------------------------------------------------------------------------------------------
SMALL = st.dictionaries(st.sampled_from(["a", "b", "plan", "$set", "n"]), SCALARS, max_size=3)
AMP_EVENT = st.fixed_dictionaries(
    {
        "event_type": st.sampled_from(["Opened", "Paid", "$identify", "$groupidentify"]),
        "device_id": st.sampled_from(["device-fuzz-1", "device-fuzz-2"]),
    },
    optional={
        "user_id": st.sampled_from(["user-fuzz-1", "user-fuzz-2", "abc", 12345]),  # short ones are dropped
        "time": st.integers(min_value=0, max_value=2**42),
        "insert_id": st.sampled_from(["ins-1", "ins-2", "ins-3"]),
        "event_properties": SMALL,
        "user_properties": st.fixed_dictionaries({}, optional={"$set": SMALL, "$add": st.just({"n": 2})}),
        "session_id": st.integers(min_value=-1, max_value=2**41),
        "revenue": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "groups": st.just({"org": "fuzz-org"}),
        "group_properties": st.just({"$add": {"seats": 1}}),
        "platform": st.text(max_size=8),
        "plan": st.just({"branch": "main"}),
    },
)
PH_PROPERTIES = st.fixed_dictionaries(
    {},
    optional={
        "$anon_distinct_id": st.sampled_from(["anon-1", "anon-2"]),
        "alias": st.sampled_from(["user-1", "anon-1"]),
        "$process_person_profile": st.booleans(),
        "$set": SMALL,
        "$unset": st.just(["a"]),
        "$group_type": st.just("company"),
        "$group_key": st.sampled_from(["c1", "c2"]),
        "$group_set": SMALL,
        "$session_id": st.text(max_size=8),
        "$lib": st.sampled_from(["web", "posthog-python", "posthog-react-native"]),
        "$ignore_sent_at": st.booleans(),
    },
)
PH_EVENT = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["$pageview", "$identify", "$set", "$create_alias", "$groupidentify", "clicked"]),
        "distinct_id": st.sampled_from(["user-1", "user-2", "anon-1", 42]),
    },
    optional={
        "uuid": st.sampled_from(["4c0a7a9e-2b8e-4a3c-9a53-0f4d3a3d9a11", "4C0A7A9E-2B8E-4A3C-9A53-0F4D3A3D9A12"])
        | st.uuids().map(str),
        "timestamp": st.sampled_from(["2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5+02:00", "2024-02-29T00:00:00"]),
        "properties": PH_PROPERTIES,
        "$set": SMALL,
        "$set_once": SMALL,
        "offset": st.integers(min_value=0, max_value=10**6),
    },
)
SENT_AT = st.sampled_from(["2023-11-14T22:13:25Z", "2023-11-14T22:13:20Z"])


@st.composite
def valid_body(draw: st.DrawFn, path: str, key: str) -> Any:
    """A body the path accepts (before mutation): JSON for uploads and capture, fields for identify forms."""
    if path in AMPLITUDE_UPLOAD:
        body: dict[str, Any] = {"api_key": key, "events": draw(st.lists(AMP_EVENT, min_size=1, max_size=4))}
        if draw(st.booleans()):
            body["options"] = {"min_id_length": draw(st.integers(min_value=1, max_value=8))}
        return body
    if path == "/identify":
        items = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"user_id": st.sampled_from(["user-fuzz-1", "user-fuzz-3"])},
                    optional={"device_id": st.just("device-fuzz-9"), "user_properties": SMALL},
                ),
                min_size=1,
                max_size=3,
            )
        )
        return {"api_key": key, "identification": items if len(items) > 1 else items[0]}
    if path == "/groupidentify":
        item = {
            "group_type": "org",
            "group_value": draw(st.sampled_from(["g1", "g2"])),
            "group_properties": draw(SMALL),
        }
        return {"api_key": key, "identification": item}
    events = draw(st.lists(PH_EVENT, min_size=1, max_size=4))
    shape = draw(st.sampled_from(["array", "batch", "single"]))
    if shape == "array":
        return [e | {"token": key} for e in events]
    if shape == "single":
        return events[0] | {"api_key": key}
    body = {draw(st.sampled_from(["api_key", "token"])): key, "batch": events}
    if draw(st.booleans()):
        body["sent_at"] = draw(SENT_AT)
    if draw(st.booleans()):
        body["historical_migration"] = draw(st.booleans())
    return body


def _slots(value: Any, depth: int = 0) -> Iterator[tuple[Any, Any]]:
    """(container, key) of every nested value, for mutation."""
    if depth > 6:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in list(items):
        yield value, key
        yield from _slots(child, depth + 1)


def mutate(data: st.DataObject, value: Any) -> Any:
    """Up to three structure-aware edits: delete, replace, duplicate, insert or rename somewhere inside."""
    value = copy.deepcopy(value)
    for _ in range(data.draw(st.integers(min_value=0, max_value=3), label="mutations")):
        slots = list(_slots(value))
        if not slots:
            break
        container, key = data.draw(st.sampled_from(slots), label="slot")
        action = data.draw(st.sampled_from(["delete", "replace", "replace", "duplicate", "insert", "rename"]))
        new = copy.deepcopy(data.draw(INTERESTING | JSON, label="value"))  # INTERESTING's objects are shared
        if action == "delete":
            del container[key]
        elif action == "replace":
            container[key] = new
        elif action == "duplicate" and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        elif action == "insert" and isinstance(container, list):
            container.insert(key, new)
        elif isinstance(container, dict):
            name = data.draw(st.sampled_from(KEYS), label="key")
            if action == "rename":
                container[name] = container.pop(key)
            else:
                container[name] = new
    return value


# -- requests ---------------------------------------------------------------------------------------------------
@dataclass
class Sent:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    files: dict[str, tuple[None, str]] | None = None
    events: int | None = None  # how many events the request carries, when the test knows


def _lz64(text: str) -> str:
    return lzstring.LZString().compressToBase64(text)


def _count(path: str, value: Any) -> int | None:
    """Events in a (possibly mutated) JSON body as the path reads it; None when it cannot be a valid body.

    /batch and /batch/ are one handler: a dict with `events` and no `batch` is Amplitude's, the rest PostHog's.
    """
    amplitude = path.startswith("/2/httpapi") or (
        path.startswith("/batch") and isinstance(value, dict) and "events" in value and "batch" not in value
    )
    if amplitude:
        events = value.get("events") if isinstance(value, dict) else None
        return len(events) if isinstance(events, list) else None
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        if "batch" in value:
            return len(value["batch"]) if isinstance(value["batch"], list) else None
        return 1
    return None


def _identification_count(fields: dict[str, Any]) -> int | None:
    value = fields.get("identification")
    return len(value) if isinstance(value, list) else 1 if isinstance(value, dict) else None


@st.composite
def encoded(draw: st.DrawFn, path: str, value: Any) -> Sent:
    """`value` sent the way some SDK would send it to `path`."""
    if path in AMPLITUDE_FORMS:
        if not isinstance(value, dict):
            return Sent("POST", path, content=orjson.dumps(value), events=None)
        fields = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
        count = _identification_count(value)
        how = draw(st.sampled_from(["form", "get", "multipart"]))
        if how == "get":
            return Sent("GET", path, params=fields, events=count)
        if how == "multipart":
            return Sent("POST", path, files={k: (None, v) for k, v in fields.items()}, events=count)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        return Sent("POST", path, headers=form, content=urlencode(fields).encode(), events=count)
    raw = orjson.dumps(value)
    count = _count(path, value)
    if path in AMPLITUDE_UPLOAD:
        how = draw(st.sampled_from(["plain", "gzip-header", "gzip-sniffed"]))
        headers = {"Content-Type": "application/json"}
        if how == "plain":
            return Sent("POST", path, headers=headers, content=raw, events=count)
        if how == "gzip-header":
            headers["Content-Encoding"] = "gzip"
        return Sent("POST", path, headers=headers, content=gzip.compress(raw), events=count)
    how = draw(
        st.sampled_from(
            [
                *("plain", "gzip-js", "gzip-sniffed", "gzip-header", "base64", "base64-hint"),
                *("form-b64", "form-json", "form-lz64", "lz64", "get-json", "get-b64"),
            ]
        )
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    b64 = base64.b64encode(raw).decode()
    match how:
        case "plain":
            return Sent("POST", path, headers={"Content-Type": "application/json"}, content=raw, events=count)
        case "gzip-js":
            params, headers = {"compression": "gzip-js", "ver": "1.0"}, {"Content-Type": "text/plain"}
            return Sent("POST", path, params=params, headers=headers, content=gzip.compress(raw), events=count)
        case "gzip-sniffed":
            headers = {"Content-Type": "text/plain"}
            return Sent("POST", path, headers=headers, content=gzip.compress(raw), events=count)
        case "gzip-header":
            return Sent("POST", path, headers={"Content-Encoding": "gzip"}, content=gzip.compress(raw), events=count)
        case "base64":
            return Sent("POST", path, content=b64.encode(), events=count)
        case "base64-hint":
            return Sent("POST", path, params={"compression": "base64"}, content=b64.encode(), events=count)
        case "form-b64":
            return Sent("POST", path, headers=form, content=urlencode({"data": b64}).encode(), events=count)
        case "form-json":
            return Sent("POST", path, headers=form, content=urlencode({"data": raw.decode()}).encode(), events=count)
        case "form-lz64":
            content = urlencode({"data": _lz64(raw.decode())}).encode()
            return Sent("POST", path, params={"compression": "lz64"}, headers=form, content=content, events=count)
        case "lz64":
            return Sent(
                "POST", path, params={"compression": "lz64"}, content=_lz64(raw.decode()).encode(), events=count
            )
        case "get-json":
            return Sent("GET", path, params={"data": raw.decode()}, events=count)
        case _:
            return Sent("GET", path, params={"data": b64}, events=count)


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=fuzz",
        "multipart/form-data",
        "application/octet-stream",
        "",
    ]
)
CONTENT_ENCODINGS = st.sampled_from(["gzip", "GZIP", "identity", "deflate", "br", "gzip, gzip", ""])
QUERY = st.dictionaries(
    st.sampled_from(["compression", "_", "ver", "data", "api_key", "token", "ip"]),
    st.sampled_from(["gzip", "gzip-js", "lz64", "base64", "", "1700000000000", "²", "9" * 5000]) | st.text(max_size=12),
    max_size=3,
)


@st.composite
def noise(draw: st.DrawFn, sent: Sent) -> Sent:
    """Sometimes: a random Content-Type, Content-Encoding, extra query parameters, or the other method."""
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        sent.headers["Content-Type"] = draw(CONTENT_TYPES)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        sent.headers["Content-Encoding"] = draw(CONTENT_ENCODINGS)
    if draw(st.integers(min_value=0, max_value=3)) == 0:
        sent.params = {**sent.params, **draw(QUERY)}
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        sent.method = "GET" if sent.method == "POST" else "POST"
    return sent


# -- the properties ------------------------------------------------------------------------------------------------
def check(client: TestClient, runtime: Runtime, fuzzed: Fuzzed, sent: Sent) -> int:
    """Send one request and check every property; returns the status."""
    project = fuzzed.project
    flush(runtime)
    before, start = stored_count(runtime, project), runtime.wal.end
    if sent.method == "GET":
        r = client.get(sent.path, params=sent.params, headers=sent.headers)
    elif sent.files is not None:
        r = client.post(sent.path, params=sent.params, headers=sent.headers, files=sent.files)
    else:
        r = client.post(sent.path, params=sent.params, headers=sent.headers, content=sent.content)
    if currently_in_test_context():  # statistics for --hypothesis-show-statistics
        event(f"{sent.path.rstrip('/').split('/')[-1]} {r.status_code}")
    assert r.status_code < 500, (r.status_code, r.text)

    amplitude_path = sent.path.rstrip("/") in ("/2/httpapi", "/identify", "/groupidentify")
    if not (amplitude_path and r.status_code == 200 and r.text == "success") and r.status_code != 405:
        body = r.json()
        if amplitude_path:
            assert isinstance(body["code"], int) and body["code"] == r.status_code, body
        else:
            assert "code" in body or body == {"status": 1}, body

    acknowledged = wal_events(runtime, start)
    if r.status_code != 200:
        assert acknowledged == [], "a refused request reached the write-ahead log"
    else:
        assert acknowledged, "an accepted request logged no event"
        assert {project_id for project_id, _ in acknowledged} == {project["id"]}
        if sent.events is not None:
            assert len(acknowledged) == sent.events, "an accepted request was logged in part"
        if r.text != "success" and "events_ingested" in r.json():
            assert r.json()["events_ingested"] == len(acknowledged)
    keys = [dedupe_key(project["id"], e) for _, e in acknowledged]
    new_rows = sum(1 for k in keys if k is None) + len({k for k in keys if k is not None} - fuzzed.seen_keys)
    fuzzed.seen_keys.update(k for k in keys if k is not None)
    flush(runtime)
    assert stored_count(runtime, project) == before + new_rows
    return r.status_code


@settings(SETTINGS, max_examples=60)
@given(path=st.sampled_from(ALL_PATHS), content=st.binary(max_size=600), data=st.data())
def test_arbitrary_bytes(
    client: TestClient, runtime: Runtime, fuzzed: Fuzzed, path: str, content: bytes, data: st.DataObject
) -> None:
    sent = data.draw(noise(Sent("POST", path, content=content)))
    check(client, runtime, fuzzed, sent)


@settings(SETTINGS, max_examples=60)
@given(path=st.sampled_from(ALL_PATHS), value=JSON, data=st.data())
def test_arbitrary_json(
    client: TestClient, runtime: Runtime, fuzzed: Fuzzed, path: str, value: Any, data: st.DataObject
) -> None:
    key = fuzzed.project["api_key"]
    if isinstance(value, dict) and data.draw(st.booleans(), label="with key"):
        value[data.draw(st.sampled_from(["api_key", "token"]))] = key  # so some get past the token check
    sent = data.draw(noise(data.draw(encoded(path, value))))
    sent.events = None  # arbitrary JSON: the test does not claim to know the event count
    check(client, runtime, fuzzed, sent)


@settings(SETTINGS, max_examples=100)
@given(path=st.sampled_from(ALL_PATHS), data=st.data())
def test_mutated_valid_bodies(
    client: TestClient, runtime: Runtime, fuzzed: Fuzzed, path: str, data: st.DataObject
) -> None:
    value = mutate(data, data.draw(valid_body(path, fuzzed.project["api_key"]), label="valid"))
    sent = data.draw(encoded(path, value))
    if data.draw(st.integers(min_value=0, max_value=3), label="noisy") == 0:
        data_param = sent.params.get("data")
        sent = data.draw(noise(sent))
        if sent.params.get("data") != data_param:
            sent.events = None  # a stray ?data= is read instead of the real one (or of an empty body)
    check(client, runtime, fuzzed, sent)


@st.composite
def multipart_bodies(draw: st.DrawFn, key: str) -> bytes:
    """Multipart bodies that are nearly right: parts with odd headers, missing CRLFs, stray boundaries."""
    parts = []
    for name in draw(st.lists(st.sampled_from(["api_key", "identification", "x", ""]), max_size=3)):
        value = draw(st.sampled_from([key.encode(), b'{"user_id": "user-fuzz-1"}', b""]) | st.binary(max_size=30))
        header = draw(
            st.sampled_from(
                [
                    f'Content-Disposition: form-data; name="{name}"'.encode(),
                    f'Content-Disposition: form-data; name="{name}"; filename="f.txt"'.encode(),
                    b"Content-Disposition: attachment",
                    f'Content-Disposition: form-data; name="{name}"\r\nContent-Type: text/plain; charset=nope'.encode(),
                    b"",
                ]
            )
            | st.binary(max_size=20)
        )
        parts.append(b"--fuzz\r\n" + header + draw(st.sampled_from([b"\r\n\r\n", b"\r\n", b""])) + value + b"\r\n")
    return b"".join(parts) + draw(st.sampled_from([b"--fuzz--\r\n", b"--fuzz", b"", b"--other--"]))


@settings(SETTINGS, max_examples=40)
@given(path=st.sampled_from(AMPLITUDE_FORMS), data=st.data())
def test_multipart_forms(client: TestClient, runtime: Runtime, fuzzed: Fuzzed, path: str, data: st.DataObject) -> None:
    content = data.draw(multipart_bodies(fuzzed.project["api_key"]))
    content_type = data.draw(st.sampled_from(["multipart/form-data; boundary=fuzz", "multipart/form-data; boundary="]))
    check(client, runtime, fuzzed, Sent("POST", path, headers={"Content-Type": content_type}, content=content))


def test_unmutated_valid_bodies_are_accepted(client: TestClient, runtime: Runtime, fuzzed: Fuzzed) -> None:
    """The generator's valid bodies are valid: each path accepts a plain one (so mutations start from 200s)."""
    key = fuzzed.project["api_key"]
    bodies = {
        "/2/httpapi": {"api_key": key, "events": [{"event_type": "Opened", "device_id": "device-fuzz-1"}]},
        "/batch": {"api_key": key, "events": [{"event_type": "Opened", "device_id": "device-fuzz-1"}]},
        "/identify": {"api_key": key, "identification": {"user_id": "user-fuzz-1"}},
        "/groupidentify": {"api_key": key, "identification": {"group_type": "org", "group_value": "g1"}},
        "/e/": [{"event": "$pageview", "distinct_id": "user-1", "token": key}],
        "/batch/": {
            "api_key": key,
            "batch": [{"event": "$pageview", "distinct_id": "user-1", "uuid": str(uuid.uuid4())}],
        },
    }
    for path, value in bodies.items():
        sent = Sent("POST", path, headers={"Content-Type": "application/json"}, content=orjson.dumps(value), events=1)
        if isinstance(value, dict) and path in AMPLITUDE_FORMS:
            fields = {k: v if isinstance(v, str) else orjson.dumps(v).decode() for k, v in value.items()}
            sent = Sent("POST", path, files={k: (None, v) for k, v in fields.items()}, events=1)
        assert check(client, runtime, fuzzed, sent) == 200, path
