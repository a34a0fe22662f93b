"""Persons (by distinct_id, merged), events (filters, newest first, paging by time), one event by id."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_posthog_dashboards import url


@pytest.fixture(scope="module")
def api(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    batch = [
        {
            "event": "$pageview",
            "distinct_id": "anon",
            "timestamp": f"2021-01-01T10:0{i}:00Z",
            "properties": {"$browser": "Chrome" if i % 2 else "Safari"},
        }
        for i in range(5)
    ]
    batch.append(
        {
            "event": "$identify",
            "distinct_id": "ada",
            "timestamp": "2021-01-01T10:06:00Z",
            "properties": {"$anon_distinct_id": "anon"},
            "$set": {"email": "ada@example.com"},
        }
    )
    batch.append({"event": "other", "distinct_id": "bob", "timestamp": "2021-01-01T11:00:00Z"})
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project, auth


def test_persons(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    listed = client.get(url(project, "persons/"), headers=auth).json()
    assert listed["count"] == 2
    ada = client.get(url(project, "persons/"), params={"distinct_id": "anon"}, headers=auth).json()["results"]
    assert [p["distinct_ids"] for p in ada] == [["ada", "anon"]] and ada[0]["name"] == "ada@example.com"
    assert client.get(url(project, f"persons/{ada[0]['uuid']}/"), headers=auth).json()["is_identified"] is True
    assert client.get(url(project, "persons/"), params={"search": "example.com"}, headers=auth).json()["count"] == 1
    assert client.get(url(project, "persons/not-a-person/"), headers=auth).status_code == 404


def test_events_filters_and_paging(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    first = client.get(url(project, "events/"), params={"event": "$pageview", "limit": 3}, headers=auth).json()
    assert [e["timestamp"] for e in first["results"]] == [f"2021-01-01T10:0{i}:00Z" for i in (4, 3, 2)]
    rest = client.get(first["next"], headers=auth).json()
    assert [e["timestamp"][-9:] for e in rest["results"]] == ["10:01:00Z", "10:00:00Z"] and rest["next"] is None
    chrome = client.get(
        url(project, "events/"),
        headers=auth,
        params={"properties": '[{"key": "$browser", "value": "Chrome", "operator": "exact", "type": "event"}]'},
    ).json()
    assert len(chrome["results"]) == 2
    ada = client.get(url(project, "persons/"), params={"distinct_id": "ada"}, headers=auth).json()["results"][0]
    mine = client.get(url(project, "events/"), params={"person_id": ada["uuid"]}, headers=auth).json()
    assert len(mine["results"]) == 6  # five anonymous pageviews and the identify: one person
    one = client.get(url(project, f"events/{first['results'][0]['id']}/"), headers=auth).json()
    # The merged person, with the properties it had when the event happened (persons on events).
    assert one["event"] == "$pageview" and one["person"]["id"] == ada["uuid"] and one["person"]["properties"] == {}
    identify = next(e for e in mine["results"] if e["event"] == "$identify")
    assert identify["person"]["properties"]["email"] == "ada@example.com"
    assert client.get(url(project, "events/"), params={"before": "soon"}, headers=auth).status_code == 400


def test_person_activity_summary(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    """The totals Amplitude's user activity shows, for the merged person (query.user_activity, not recomputed)."""
    project, auth = api
    ada = client.get(url(project, "persons/"), params={"distinct_id": "anon"}, headers=auth).json()["results"][0]
    summary = client.get(url(project, f"persons/{ada['uuid']}/activity_summary/"), headers=auth).json()
    assert summary["num_events"] == 6 and summary["first_used"] == summary["last_used"] == "2021-01-01"
    assert summary["num_sessions"] == 0 and "properties" not in summary
    assert client.get(url(project, "persons/nobody/activity_summary/"), headers=auth).status_code == 404
    assert client.get(url(project, f"persons/{ada['uuid']}/activity_summary/")).status_code == 401


def test_events_carry_the_session_whichever_sdk_sent_them(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    """A PostHog reader finds Amplitude's session (a field, not a property) as $session_id too."""
    project, auth = new_project(runtime), api[1]
    posthog_event = {"event": "seen", "distinct_id": "d1", "properties": {"$session_id": "s-1"}}
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": [posthog_event]}).status_code == 200
    amplitude_event = {"event_type": "tapped", "user_id": "user-1", "session_id": 1_700_000_000_000}
    uploaded = client.post("/2/httpapi", json={"api_key": project["api_key"], "events": [amplitude_event]})
    assert uploaded.status_code == 200
    flush(runtime)
    found = client.get(url(project, "events/"), headers=auth).json()["results"]
    sessions = {e["event"]: e["properties"]["$session_id"] for e in found}
    assert sessions == {"seen": "s-1", "tapped": "user-1#1700000000000"}
