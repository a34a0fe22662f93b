"""Custom events (`ce:<name>`): defined over /api/2/custom-events, matched in segmentation, funnels, retention."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send

LONG_PLAY = {"subprop_type": "event", "subprop_key": "seconds", "subprop_op": "greater", "subprop_value": ["8"]}
FRANCE = {"subprop_type": "user", "subprop_key": "country", "subprop_op": "is", "subprop_value": ["France"]}


def _auth(project: dict[str, Any]) -> tuple[str, str]:
    return project["api_key"], project["secret_key"]


def define(client: TestClient, project: dict[str, Any], name: str, events: Any, **body: Any) -> Any:
    return client.put(f"/api/2/custom-events/{name}", json={"events": events, **body}, auth=_auth(project))


@pytest.fixture(scope="module")
def music(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """alice plays long twice on day 1 (Japan); bob plays short and searches on day 2, carol searches (France)."""
    project = new_project(runtime, "UTC")
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-01T10:00:00", "country": "Japan",
             "event_properties": {"seconds": 30}},
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-01T11:00:00", "country": "Japan",
             "event_properties": {"seconds": 10}},
            {"user_id": "bob01", "event_type": "Play", "time": "2024-03-02T10:00:00", "country": "France",
             "event_properties": {"seconds": 5}},
            {"user_id": "bob01", "event_type": "Search", "time": "2024-03-02T09:00:00", "country": "France"},
            {"user_id": "carol", "event_type": "Search", "time": "2024-03-02T09:00:00", "country": "France"},
        ],
    )  # fmt: skip
    flush(runtime)
    r = define(client, project, "Engaged", [{"event_type": "Play", "filters": [LONG_PLAY]}, {"event_type": "Search"}])
    assert r.status_code == 200, r.text
    return project


def segmentation(client: TestClient, project: dict[str, Any], event: dict[str, Any], **params: Any) -> Any:
    query = {"e": json.dumps(event), "start": "20240301", "end": "20240302", **params}
    return client.get("/api/2/events/segmentation", params=query, auth=_auth(project))


def test_segmentation_matches_any_of_the_events(client: TestClient, music: dict[str, Any]) -> None:
    engaged = segmentation(client, music, {"event_type": "ce:Engaged"}).json()["data"]
    assert engaged["series"] == [[1, 2]]  # alice's long plays ; bob's search (not his 5 s play), carol's
    assert engaged["seriesCollapsed"] == [[{"setId": "", "value": 3}]]
    totals = segmentation(client, music, {"event_type": "ce:Engaged"}, m="totals").json()["data"]
    assert totals["series"] == [[2, 2]]
    in_france = segmentation(client, music, {"event_type": "ce:Engaged", "filters": [FRANCE]}).json()["data"]
    assert in_france["series"] == [[0, 2]]  # the query's own filters apply on top of the definition's
    by_country = segmentation(client, music, {"event_type": "ce:Engaged"}, m="totals", g="country").json()["data"]
    assert by_country["seriesLabels"] == [[0, "France"], [0, "Japan"]] and by_country["series"] == [[0, 2], [2, 0]]


def test_unknown_custom_event_is_400(client: TestClient, music: dict[str, Any]) -> None:
    r = segmentation(client, music, {"event_type": "ce:Nope"})
    assert r.status_code == 400 and r.text == "HTTP 400: Bad Request (Unknown custom event: ce:Nope)"


def test_define_list_replace_delete(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime, "UTC")
    r = define(client, project, "Searched", [{"event_type": "Search"}], description="any search")
    assert r.status_code == 200, r.text
    created = r.json()["data"]
    assert {k: created[k] for k in ("name", "event_type", "description")} == {
        "name": "Searched",
        "event_type": "ce:Searched",
        "description": "any search",
    }
    assert created["events"] == [{"event_type": "Search"}]
    replaced = define(client, project, "ce:Searched", [{"event_type": "Search"}, {"event_type": "Play"}]).json()
    assert replaced["data"]["id"] == created["id"] and len(replaced["data"]["events"]) == 2
    listed = client.get("/api/2/custom-events", auth=_auth(project)).json()["data"]
    assert [(c["name"], len(c["events"])) for c in listed] == [("Searched", 2)]
    assert client.delete("/api/2/custom-events/Searched", auth=_auth(project)).json() == {"success": True}
    assert client.get("/api/2/custom-events", auth=_auth(project)).json()["data"] == []
    assert client.delete("/api/2/custom-events/Searched", auth=_auth(project)).status_code == 404


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ([], "A custom event is a list of 1 to 50 events"),
        ({"event_type": "Play"}, "A custom event is a list of 1 to 50 events"),
        ([{"event_type": "ce:Engaged"}], "cannot include another custom event"),
        ([{"event_type": "Play", "group_by": [{"type": "user", "value": "country"}]}], "have no group_by"),
        ([{"event_type": "Play", "filters": [{"subprop_key": "x", "subprop_op": "near"}]}], "Unknown filter operator"),
        ([{"filters": []}], "needs an event_type"),
    ],
)
def test_bad_definitions_are_400(client: TestClient, music: dict[str, Any], events: Any, reason: str) -> None:
    r = define(client, music, "Bad", events)
    assert r.status_code == 400 and r.text.startswith("HTTP 400: Bad Request (") and reason in r.text, r.text


def test_custom_events_are_per_project(client: TestClient, music: dict[str, Any], runtime: Runtime) -> None:
    other = new_project(runtime, "UTC")
    assert client.get("/api/2/custom-events", auth=_auth(other)).json()["data"] == []
    assert client.get("/api/2/custom-events").status_code == 401
    assert segmentation(client, other, {"event_type": "ce:Engaged"}).status_code == 400


def test_funnel_step_as_custom_event(client: TestClient, shop: dict[str, Any]) -> None:
    assert define(client, shop, "Checkout", [{"event_type": "cart"}, {"event_type": "buy"}]).status_code == 200
    steps = [json.dumps({"event_type": "ce:Checkout"}), json.dumps({"event_type": "buy"})]
    params = [("e", step) for step in steps] + [("start", "20240501"), ("end", "20240503"), ("cs", "86400")]
    r = client.get("/api/2/funnels", params=params, auth=_auth(shop))
    assert r.status_code == 200, r.text
    [element] = r.json()["data"]
    # Everyone carted; user1, user3 and user4 bought after a cart (user4 23 h later), user2 and user5 never.
    assert element["cumulativeRaw"] == [5, 3] and element["events"] == ["Checkout", "buy"]


def test_retention_with_custom_events(client: TestClient, app_usage: dict[str, Any]) -> None:
    assert define(client, app_usage, "Opened", [{"event_type": "open"}]).status_code == 200
    opened = json.dumps({"event_type": "ce:Opened"})
    query = {"se": opened, "re": opened, "start": "20240601", "end": "20240603"}
    r = client.get("/api/2/retention", params=query, auth=_auth(app_usage))
    assert r.status_code == 200, r.text
    assert [c["count"] for c in r.json()["data"]["series"][0]["combined"]] == [5, 5, 2, 2, 2]  # as with "open"
