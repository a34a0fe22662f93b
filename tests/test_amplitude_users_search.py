"""GET /api/2/useractivity and /api/2/usersearch: one merged user found by any of their ids, summarised
and listed in the export's event shape; their own hourly budget; no `data` envelope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.ingest.event import person_uuid
from footfall.query.persons import amplitude_id
from footfall.query.sql import Params
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.export_checks import set_settings
from tests.test_query_trends import send

IOS = {"platform": "iOS", "os_name": "ios", "os_version": "17.1", "app_version": "1.0", "country": "Japan"}
ANDROID = {"platform": "Android", "os_name": "android", "os_version": "14", "app_version": "2.0", "country": "France"}


def amplitude_id_of(runtime: Runtime, project: dict[str, Any], distinct_id: str) -> int:
    p = Params()
    person = p(person_uuid(project["id"], distinct_id), "UUID")
    sql = f"SELECT {amplitude_id(person)}"
    return int(runtime.engine.query(sql, p.values)[0][0])


@pytest.fixture(scope="module")
def people(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Tokyo (UTC+9). anna starts on a phone, buys, then signs in on a second device that had been used
    anonymously first, so that device's person is merged into hers."""
    project = new_project(runtime, "Asia/Tokyo")
    phone, tablet = {"device_id": "dev-anna-1"}, {"device_id": "dev-anna-2"}
    anna = {"user_id": "anna01"}
    located = {"location_lat": 35.68, "location_lng": 139.76}
    send(
        client,
        project,
        [
            {**phone, **IOS, **located, "event_type": "Open", "session_id": 100, "time": "2024-05-01T10:00:00"},
            {**phone, **IOS, "event_type": "Tap", "session_id": 100, "time": "2024-05-01T10:00:30"},
            {
                **phone,
                **anna,
                **IOS,
                "app_version": "1.1",
                "event_type": "Purchase",
                "revenue": 9.99,
                "session_id": 200,
                "user_properties": {"plan": "pro"},
                "time": "2024-05-01T16:00:00",
            },
            {**tablet, **ANDROID, "event_type": "Open", "session_id": 300, "time": "2024-05-03T00:59:00"},
            {**tablet, **anna, **ANDROID, "event_type": "Tap", "session_id": 300, "time": "2024-05-03T01:00:00"},
            {**tablet, **anna, **ANDROID, "event_type": "Close", "session_id": 300, "time": "2024-05-03T01:02:00"},
            {"user_id": "ben01", "event_type": "Open", "time": "2024-05-02T03:00:00"},
            {"user_id": "benjamin", "event_type": "Open", "time": "2024-05-04T03:00:00"},
        ],
    )
    flush(runtime)
    return {
        **project,
        "anna": amplitude_id_of(runtime, project, "dev-anna-1"),  # anna joined the phone's person
        "tablet": amplitude_id_of(runtime, project, "dev-anna-2"),  # merged into anna
        "ben01": amplitude_id_of(runtime, project, "ben01"),
        "benjamin": amplitude_id_of(runtime, project, "benjamin"),
    }


def activity(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    return client.get("/api/2/useractivity", params=params, auth=(project["api_key"], project["secret_key"]))


def search(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    return client.get("/api/2/usersearch", params=params, auth=(project["api_key"], project["secret_key"]))


def test_user_summary(client: TestClient, people: dict[str, Any]) -> None:
    r = activity(client, people, user=people["anna"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"userData", "events"}
    assert body["userData"] == {
        "user_id": "anna01",
        "canonical_amplitude_id": people["anna"],
        "merged_amplitude_ids": [people["tablet"]],
        "num_events": 6,
        "num_sessions": 3,
        "usage_time": 210_000,  # 30 s on the phone, 0 s buying, 3 min on the tablet
        "first_used": "2024-05-01",  # Tokyo dates
        "last_used": "2024-05-03",
        "purchases": 1,
        "revenue": 9.99,
        "platform": "Android",
        "os": "android 14",
        "version": "2.0",
        "device": None,
        "device_type": None,
        "carrier": None,
        "country": "France",
        "region": None,
        "city": None,
        "dma": None,
        "language": None,
        "start_version": "1.0",
        "device_ids": ["dev-anna-1", "dev-anna-2"],
        "last_device_id": "dev-anna-2",
        "last_location": {"lat": 35.68, "lng": 139.76},
        "properties": {"plan": "pro"},
    }


def test_a_merged_id_finds_the_same_user(client: TestClient, people: dict[str, Any]) -> None:
    body = activity(client, people, user=people["tablet"]).json()
    assert body["userData"]["canonical_amplitude_id"] == people["anna"]
    assert len(body["events"]) == 6


def test_events_in_the_export_shape_newest_first(client: TestClient, people: dict[str, Any]) -> None:
    events = activity(client, people, user=people["anna"]).json()["events"]
    assert [e["event_type"] for e in events] == ["Close", "Tap", "Open", "Purchase", "Tap", "Open"]
    close = events[0]
    assert close["event_time"] == "2024-05-03 01:02:00.000000"
    assert close["amplitude_id"] == people["anna"] and close["user_id"] == "anna01"
    assert close["device_id"] == "dev-anna-2" and close["session_id"] == 300
    assert close["event_properties"] == {} and close["user_properties"] == {"plan": "pro"}
    assert events[2]["user_id"] is None  # the tablet's anonymous event, before she signed in
    assert events[3]["event_properties"] == {"$revenue": 9.99}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "2"}, ["Close", "Tap"]),
        ({"offset": "2", "limit": "2"}, ["Open", "Purchase"]),
        ({"direction": "earliest", "limit": "2"}, ["Open", "Tap"]),
        ({"direction": "earliest", "offset": "5"}, ["Close"]),
        ({"offset": "6"}, []),
    ],
)
def test_offset_limit_direction(
    client: TestClient, people: dict[str, Any], params: dict[str, str], expected: list[str]
) -> None:
    events = activity(client, people, user=people["anna"], **params).json()["events"]
    assert [e["event_type"] for e in events] == expected


def test_unknown_user_is_an_empty_200(client: TestClient, people: dict[str, Any]) -> None:
    r = activity(client, people, user="12345")
    assert r.status_code == 200
    assert r.json() == {
        "userData": {
            "num_sessions": 0,
            "purchases": 0,
            "revenue": 0,
            "merged_amplitude_ids": [],
            "num_events": 0,
            "canonical_amplitude_id": 12345,
            "user_id": None,
            "last_location": None,
            "usage_time": 0,
            "last_device_id": None,
            "device_ids": [],
        },
        "events": [],
    }


def test_another_projects_user_is_unknown(client: TestClient, runtime: Runtime, people: dict[str, Any]) -> None:
    other = new_project(runtime)
    assert activity(client, other, user=people["anna"]).json()["events"] == []
    assert search(client, other, user="anna01").json() == {"type": "nomatch", "matches": []}


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "Missing required parameter: user"),
        ({"user": "anna01"}, "user must be an Amplitude ID"),
        ({"user": "1", "limit": "0"}, "limit must be between 1 and 1000"),
        ({"user": "1", "limit": "1001"}, "limit must be between 1 and 1000"),
        ({"user": "1", "offset": "-1"}, "offset must be a whole number"),
        ({"user": "1", "direction": "sideways"}, "direction must be latest or earliest"),
    ],
)
def test_useractivity_bad_input_is_amplitude_400(
    client: TestClient, people: dict[str, Any], params: dict[str, str], reason: str
) -> None:
    r = activity(client, people, **params)
    assert r.status_code == 400
    assert r.text.startswith("HTTP 400: Bad Request (") and reason in r.text


def _anna_match(people: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": "anna01",
        "amplitude_id": people["anna"],
        "last_device_id": "dev-anna-2",
        "platform": "Android",
        "country": "France",
        "last_seen": "2024-05-03",
    }


@pytest.mark.parametrize("text", ["anna01", "dev-anna-1", "dev-anna-2"])
def test_search_by_user_or_device_id(client: TestClient, people: dict[str, Any], text: str) -> None:
    r = search(client, people, user=text)
    assert r.status_code == 200, r.text
    assert r.json() == {"type": "match_user_or_device_id", "matches": [_anna_match(people)]}


@pytest.mark.parametrize("key", ["anna", "tablet"])
def test_search_by_amplitude_id(client: TestClient, people: dict[str, Any], key: str) -> None:
    body = search(client, people, user=str(people[key])).json()
    assert body == {"type": "match_amplitude_id", "matches": [_anna_match(people)]}


def test_search_by_user_id_prefix_and_no_match(client: TestClient, people: dict[str, Any]) -> None:
    body = search(client, people, user="ben").json()
    assert body["type"] == "match_user_prefix"
    assert [(m["user_id"], m["amplitude_id"], m["last_seen"]) for m in body["matches"]] == [
        ("benjamin", people["benjamin"], "2024-05-04"),  # most recently seen first
        ("ben01", people["ben01"], "2024-05-02"),
    ]
    assert search(client, people, user="zed").json() == {"type": "nomatch", "matches": []}
    r = search(client, people)
    assert r.status_code == 400 and "Missing required parameter: user" in r.text


def test_lookups_have_their_own_hourly_budget(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    set_settings(runtime, project["id"], api_user_lookups_per_hour=3)
    assert activity(client, project, user="1").status_code == 200
    assert search(client, project, user="x").status_code == 200
    assert activity(client, project, user="2").status_code == 200
    refused = search(client, project, user="x")
    assert refused.status_code == 429
    assert refused.json()["limit"] == "user_lookups_per_hour" and refused.json()["allowed"] == 3
    assert int(refused.headers["retry-after"]) > 3500
    assert activity(client, project, user="1").status_code == 429
    other_charts = client.get(
        "/api/2/users",
        params={"start": "20240501", "end": "20240502"},
        auth=(project["api_key"], project["secret_key"]),
    )
    assert other_charts.status_code == 200  # the cost budget is untouched


@pytest.mark.parametrize("path", ["/api/2/useractivity", "/api/2/usersearch"])
def test_auth_required(client: TestClient, people: dict[str, Any], path: str) -> None:
    r = client.get(path, params={"user": "anna01"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert client.get(path, params={"user": "anna01"}, auth=(people["api_key"], "wrong")).status_code == 401
