"""The real `amplitude-analytics` Python SDK against `footfall serve`: what it sends is stored exactly.

The SDK is pointed at the server with `Config(server_url=...)`, both at HTTP V2 (/2/httpapi) and at the
Batch API (/batch). Events are sent in three flushes so identity is resolved in a known order:
anonymous devices first, then identifies, then devices that get a user_id.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from amplitude import Amplitude, BaseEvent, Config, EventOptions, Identify, Revenue
from amplitude.exception import InvalidAPIKeyError
from amplitude.http_client import HttpClient
from amplitude.processor import ResponseProcessor

from footfall.ingest.event import person_uuid
from footfall.query.persons import EVENTS_WITH_PERSON
from tests.conftest import ServerProcess
from tests.stored import engine, meta, query_stored

pytestmark = pytest.mark.slow

T0 = 1_709_251_200_000  # 2024-03-01T00:00:00Z


class Recorder:
    """The SDK's client-level callback: (event_type, code, message) per event."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []
        self._lock = threading.Lock()

    def __call__(self, event: BaseEvent, code: int, message: str | None = None) -> None:
        with self._lock:
            self.calls.append((event.event_type, code, message))


def _flush(client: Amplitude) -> None:
    """Send what the SDK buffered and wait for the response (so the next phase is a later request)."""
    for future in client.flush():
        if future is not None:
            future.result(timeout=30)


def _create_project(server: ServerProcess, name: str) -> dict[str, Any]:
    return json.loads(server.cli("project", "create", name, "--json").stdout)


def _send_scenario(client: Amplitude) -> None:
    # Phase 1: two anonymous devices and a user known only by user_id.
    client.track(
        BaseEvent(
            "Opened App",
            device_id="device-aaaa1",
            time=T0 + 1000,
            event_properties={"screen": "home", "n": 1},
            user_properties={"plan": "free"},
            platform="iOS",
            os_name="ios",
            country="France",
            session_id=T0,
        )
    )
    client.track(BaseEvent("Viewed Item", device_id="device-bbbb2", time=T0 + 2000, event_properties={"item": "sku-1"}))
    client.track(BaseEvent("Logged In", user_id="user-amp-2", time=T0 + 3000))
    _flush(client)

    # Phase 2: identifies on anonymous devices (user property operations; not an identification).
    client.identify(
        Identify().set("email", "a@example.com").add("logins", 2).set_once("first_seen", "2024-03-01"),
        EventOptions(device_id="device-aaaa1", time=T0 + 4000),
    )
    client.identify(
        Identify().add("logins", 3).set_once("first_seen", "2099-01-01").set("plan", "pro"),
        EventOptions(device_id="device-aaaa1", time=T0 + 5000),
    )
    client.identify(Identify().set("referrer", "ad"), EventOptions(device_id="device-bbbb2", time=T0 + 5500))
    _flush(client)

    # Phase 3: devices get user_ids. device-aaaa1 meets an unseen user (the user joins the device's person);
    # device-bbbb2 meets a known user (the anonymous device person is merged into the user's).
    client.track(BaseEvent("Signed Up", user_id="user-amp-1", device_id="device-aaaa1", time=T0 + 6000))
    client.track(BaseEvent("Added To Cart", user_id="user-amp-2", device_id="device-bbbb2", time=T0 + 7000))
    client.revenue(
        Revenue(price=9.99, quantity=2, product_id="sku-1", revenue_type="purchase", currency="USD"),
        EventOptions(user_id="user-amp-1", time=T0 + 8000),
    )
    client.group_identify(
        "company",
        "acme",
        Identify().set("name", "Acme").add("seats", 5),
        EventOptions(user_id="user-amp-1", time=T0 + 8500),
    )
    client.track(
        BaseEvent(
            "Checkout",
            user_id="user-amp-2",
            device_id="device-bbbb2",
            time=T0 + 9000,
            price=9.99,
            quantity=2,
            revenue=19.98,
            product_id="sku-1",
            insert_id="checkout-1",
        )
    )
    _flush(client)


@pytest.mark.parametrize("path", ["/2/httpapi", "/batch"])
def test_sdk_events_users_and_merges_are_stored_exactly(server: ServerProcess, path: str) -> None:
    server.start()
    project = _create_project(server, "amplitude-sdk")
    other = _create_project(server, "amplitude-other")  # must stay empty
    recorder = Recorder()
    client = Amplitude(
        project["api_key"],
        Config(
            server_url=f"{server.url}{path}",
            use_batch=path == "/batch",
            callback=recorder,
            flush_queue_size=100,
            flush_max_retries=2,
        ),
    )
    _send_scenario(client)
    client.shutdown()

    assert len(recorder.calls) == 11
    assert {(code, message) for _, code, message in recorder.calls} == {(200, "Event sent successfully.")}

    server.wait_flushed()
    server.stop()
    p = {"project": project["id"]}
    events, persons, distinct_ids, overrides, other_count, groups = query_stored(
        server.data_dir,
        engine(
            "SELECT event, distinct_id, user_id, device_id, toString(pid), properties, person_properties,"
            " user_properties, insert_id, library, platform, os_name, country, session_id,"
            f" toUnixTimestamp64Milli(timestamp) FROM {EVENTS_WITH_PERSON} ORDER BY timestamp",
            p,
        ),
        engine(
            "SELECT toString(id), argMax(properties, version), argMax(is_identified, version),"
            " argMax(is_deleted, version) FROM persons WHERE project_id = {project:UInt32} GROUP BY id ORDER BY id",
            p,
        ),
        engine(
            "SELECT distinct_id, toString(argMax(person_id, version)) FROM person_distinct_ids"
            " WHERE project_id = {project:UInt32} GROUP BY distinct_id ORDER BY distinct_id",
            p,
        ),
        engine(
            "SELECT toString(old_person_id), toString(argMax(person_id, version)) FROM person_overrides"
            " WHERE project_id = {project:UInt32} GROUP BY old_person_id",
            p,
        ),
        engine("SELECT count() FROM events WHERE project_id = {project:UInt32}", {"project": other["id"]}),
        meta("SELECT group_type, group_key, properties FROM groups WHERE project_id = :project", p),
    )

    def pu(distinct_id: str) -> str:
        return person_uuid(project["id"], distinct_id)

    a, b = pu("device-aaaa1"), pu("user-amp-2")  # the two people; device-bbbb2's person was merged into b
    assert [(e[0], e[1], e[2], e[3], e[4], e[14]) for e in events] == [
        ("Opened App", "device-aaaa1", "", "device-aaaa1", a, T0 + 1000),
        ("Viewed Item", "device-bbbb2", "", "device-bbbb2", b, T0 + 2000),
        ("Logged In", "user-amp-2", "user-amp-2", "", b, T0 + 3000),
        ("$identify", "device-aaaa1", "", "device-aaaa1", a, T0 + 4000),
        ("$identify", "device-aaaa1", "", "device-aaaa1", a, T0 + 5000),
        ("$identify", "device-bbbb2", "", "device-bbbb2", b, T0 + 5500),
        ("Signed Up", "user-amp-1", "user-amp-1", "device-aaaa1", a, T0 + 6000),
        ("Added To Cart", "user-amp-2", "user-amp-2", "device-bbbb2", b, T0 + 7000),
        ("revenue_amount", "user-amp-1", "user-amp-1", "", a, T0 + 8000),
        ("$groupidentify", "user-amp-1", "user-amp-1", "", a, T0 + 8500),
        ("Checkout", "user-amp-2", "user-amp-2", "device-bbbb2", b, T0 + 9000),
    ]
    props = [json.loads(e[5]) for e in events]
    person_props = [json.loads(e[6]) for e in events]
    user_props = [json.loads(e[7]) for e in events]
    assert props[0] == {"screen": "home", "n": 1}
    assert props[1] == {"item": "sku-1"}
    revenue = {"$productId": "sku-1", "$quantity": 2, "$price": 9.99, "$revenueType": "purchase", "$currency": "USD"}
    assert props[8] == revenue
    assert props[10] == {"$price": 9.99, "$quantity": 2, "$revenue": 19.98, "$productId": "sku-1"}
    assert user_props[0] == {"plan": "free"}
    assert user_props[3] == {
        "$set": {"email": "a@example.com"},
        "$add": {"logins": 2},
        "$setOnce": {"first_seen": "2024-03-01"},
    }
    # Person properties as they were when each event happened.
    assert person_props[0] == {"plan": "free"}
    assert person_props[3] == {"plan": "free", "email": "a@example.com", "logins": 2, "first_seen": "2024-03-01"}
    final_a = {"plan": "pro", "email": "a@example.com", "logins": 5, "first_seen": "2024-03-01"}
    assert person_props[4] == final_a
    assert person_props[5] == {"referrer": "ad"}
    assert person_props[8] == final_a
    assert person_props[10] == {"referrer": "ad"}  # filled in from the merged-away device person
    assert len({e[8] for e in events[:10]}) == 10 and all(e[8] for e in events)  # the SDK's insert_ids
    assert events[10][8] == "checkout-1"
    assert all(e[9].startswith("amplitude-python/") for e in events)
    assert (events[0][10], events[0][11], events[0][12], events[0][13]) == ("iOS", "ios", "France", T0)

    assert len({e[4] for e in events}) == 2
    assert sorted(
        [pid, json.loads(props), identified, deleted] for pid, props, identified, deleted in persons
    ) == sorted([[a, final_a, 1, 0], [b, {"referrer": "ad"}, 1, 0], [pu("device-bbbb2"), {}, 0, 1]])
    assert distinct_ids == sorted([["device-aaaa1", a], ["device-bbbb2", b], ["user-amp-1", a], ["user-amp-2", b]])
    assert overrides == [[pu("device-bbbb2"), b]]
    assert [[t, k, json.loads(props)] for t, k, props in groups] == [["company", "acme", {"name": "Acme", "seats": 5}]]
    assert other_count == [[0]]


def test_sdk_reports_an_invalid_api_key(server: ServerProcess) -> None:
    server.start()
    url = f"{server.url}/2/httpapi"

    # The SDK's own response handling raises InvalidAPIKeyError for the server's answer.
    payload = json.dumps({"api_key": "not-a-key", "events": [{"event_type": "x", "device_id": "device-1"}]}).encode()
    response = HttpClient.post(url, payload)
    assert response.code == 400
    assert response.error == "Invalid API key: not-a-key"
    with pytest.raises(InvalidAPIKeyError, match=r"^Invalid API key: not-a-key$"):
        ResponseProcessor().process_response(response, [])

    # The client catches that error and logs it; the event is neither retried nor reported as sent.
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("footfall-test-amplitude-invalid-key")
    logger.addHandler(Capture())
    recorder = Recorder()
    client = Amplitude("not-a-key", Config(server_url=url, logger=logger, callback=recorder))
    client.track(BaseEvent("Opened App", device_id="device-1"))
    _flush(client)
    client.shutdown()
    assert [r.getMessage() for r in records if r.levelno >= logging.ERROR] == ["Invalid API Key"]
    assert recorder.calls == []
