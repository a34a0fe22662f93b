"""Both flavours end to end in-process: events in, rows with the merged person out."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from footfall.query.persons import EVENTS_WITH_PERSON
from footfall.runtime import Runtime
from tests.conftest import flush


def _events(runtime: Runtime, project: dict[str, Any]) -> list[list[Any]]:
    return runtime.engine.query(
        "SELECT event, distinct_id, toString(pid), person_properties"
        f" FROM {EVENTS_WITH_PERSON} ORDER BY timestamp, event",
        {"project": project["id"]},
    )


def test_amplitude_device_then_posthog_identify_merge_into_one_person(
    client: TestClient, runtime: Runtime, project: dict[str, Any]
) -> None:
    key = project["api_key"]
    r = client.post(
        "/2/httpapi",
        json={"api_key": key, "events": [{"device_id": "device-1", "event_type": "Opened", "time": 1_700_000_000_000}]},
    )
    assert r.status_code == 200 and r.json()["code"] == 200
    r = client.post(
        "/batch/",
        json={
            "api_key": key,
            "batch": [
                {"event": "$pageview", "distinct_id": "anon-9", "timestamp": "2023-11-14T22:13:21Z"},
                {
                    "event": "$identify",
                    "distinct_id": "user-9",
                    "timestamp": "2023-11-14T22:13:22Z",
                    "properties": {"$anon_distinct_id": "anon-9"},
                    "$set": {"email": "u9@example.com"},
                },
            ],
        },
    )
    assert r.status_code == 200
    r = client.post(
        "/2/httpapi",
        json={
            "api_key": key,
            "events": [
                {"user_id": "user-9", "device_id": "device-1", "event_type": "Bought", "time": 1_700_000_003_000}
            ],
        },
    )
    assert r.status_code == 200
    flush(runtime)
    rows = _events(runtime, project)
    assert [r[0] for r in rows] == ["Opened", "$pageview", "$identify", "Bought"]
    assert len({r[2] for r in rows}) == 1, rows  # one person after both merges, older events included
    assert '"email":"u9@example.com"' in rows[-1][3]


def test_duplicate_insert_id_is_stored_once(client: TestClient, runtime: Runtime, project: dict[str, Any]) -> None:
    event = {"user_id": "user-dup", "event_type": "Paid", "insert_id": "once", "time": 1_700_000_000_000}
    for _ in range(3):
        assert client.post("/2/httpapi", json={"api_key": project["api_key"], "events": [event]}).status_code == 200
    flush(runtime)
    assert len(_events(runtime, project)) == 1
