"""Chart annotations: v2 and v3 over one table (which PostHog's annotations share), and categories.

The project is in New York: v2 dates are local days, v3 times are local with their offset, and
March 10th 2024 is the day daylight saving time starts there (-05:00 before 2 AM, -04:00 after).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from footfall.meta.insights import amplitude_definition, create_chart
from footfall.meta.models import Annotation
from footfall.runtime import Runtime
from tests.conftest import new_project


def _auth(project: dict[str, Any]) -> tuple[str, str]:
    return project["api_key"], project["secret_key"]


def _chart(runtime: Runtime, project: dict[str, Any]) -> str:
    definition = amplitude_definition("segmentation", {"e": {"event_type": "Play"}})
    with runtime.meta.session() as session, session.begin():
        return create_chart(session, project["id"], "Plays", amplitude=definition).short_id


@pytest.fixture
def york(runtime: Runtime) -> dict[str, Any]:
    return new_project(runtime, "America/New_York")


def test_v2_create_and_list(client: TestClient, runtime: Runtime, york: dict[str, Any]) -> None:
    auth = _auth(york)
    chart = _chart(runtime, york)
    params = {"app_id": york["id"], "date": "2024-03-10", "label": "Version 2.4", "details": "New properties."}
    r = client.post("/api/2/annotations", params={**params, "chart_id": chart}, auth=auth)
    assert r.status_code == 200, r.text
    created = r.json()
    first = created["annotation"]["id"]
    assert created == {
        "annotation": {"date": "2024-03-10", "details": "New properties.", "id": first, "label": "Version 2.4"},
        "success": True,
    }
    form = client.post("/api/2/annotations", data={"date": "2024-03-01", "label": "Launch"}, auth=auth)
    assert form.status_code == 200, form.text
    second = form.json()["annotation"]["id"]
    listed = client.get("/api/2/annotations", auth=auth).json()
    assert listed == {
        "data": [
            {"id": second, "date": "2024-03-01", "label": "Launch", "details": ""},
            {"id": first, "date": "2024-03-10", "label": "Version 2.4", "details": "New properties."},
        ]
    }
    assert client.get("/api/2/annotations", params={"id": first}, auth=auth).json()["data"] == [listed["data"][1]]
    # The row PostHog reads: content, a UTC date_marker at local midnight (EST), scoped to the chart.
    with runtime.meta.session() as session:
        row = session.scalar(select(Annotation).where(Annotation.id == first))
        assert row is not None and row.content == "Version 2.4" and row.scope == "dashboard_item"
        assert row.date_marker.replace(tzinfo=None).isoformat() == "2024-03-10T05:00:00"
    v3 = client.get(f"/api/3/annotations/{first}", auth=auth).json()["data"]
    assert v3["start"] == "2024-03-10T00:00:00-05:00" and v3["chart_id"] == chart and v3["end"] is None


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({"date": "2024-03-10"}, 400, "label is required"),
        ({"label": "x"}, 400, "date must be a date"),
        ({"label": "x", "date": "10/03/2024"}, 400, "date must be a date"),
        ({"label": "x", "date": "2024-02-30"}, 400, "date must be a date"),
        ({"label": "x", "date": "2024-03-10", "chart_id": "nochart1"}, 400, "Unknown chart_id"),
    ],
)
def test_v2_bad_input(
    client: TestClient, york: dict[str, Any], params: dict[str, str], status: int, reason: str
) -> None:
    r = client.post("/api/2/annotations", params=params, auth=_auth(york))
    assert r.status_code == status and r.text.startswith(f"HTTP {status}: ") and reason in r.text, r.text


def test_categories(client: TestClient, york: dict[str, Any]) -> None:
    auth = _auth(york)
    r = client.post("/api/3/annotation-categories", json={"category": "Releases"}, auth=auth)
    assert r.status_code == 200, r.text
    releases = r.json()["data"]
    assert releases == {"id": releases["id"], "name": "Releases"}
    assert client.post("/api/3/annotation-categories", json={"category": "Releases"}, auth=auth).status_code == 409
    alerts = client.post("/api/3/annotation-categories", json={"category": "Alerts"}, auth=auth).json()["data"]
    assert client.get("/api/3/annotation-categories", auth=auth).json() == {"data": [releases, alerts]}
    one = client.get("/api/3/annotation-categories", params={"category": "Alerts"}, auth=auth).json()
    assert one == {"data": [alerts]}
    assert client.get("/api/3/annotation-categories", params={"category": "Nope"}, auth=auth).status_code == 404
    assert client.get(f"/api/3/annotation-categories/{alerts['id']}", auth=auth).json() == {"data": alerts}
    renamed = client.put(f"/api/3/annotation-categories/{alerts['id']}", json={"category": "Incidents"}, auth=auth)
    assert renamed.json() == {"data": {"id": alerts["id"], "name": "Incidents"}}
    clash = client.put(f"/api/3/annotation-categories/{alerts['id']}", json={"category": "Releases"}, auth=auth)
    assert clash.status_code == 409
    assert client.delete(f"/api/3/annotation-categories/{alerts['id']}", auth=auth).json() == {"success": True}
    assert client.get(f"/api/3/annotation-categories/{alerts['id']}", auth=auth).status_code == 404
    for body in ({}, {"category": ""}, {"category": 5}, {"category": "x" * 201}):
        assert client.post("/api/3/annotation-categories", json=body, auth=auth).status_code == 400
    assert client.post("/api/3/annotation-categories", content=b"[", auth=auth).status_code == 400
    assert client.get("/api/3/annotation-categories/abc", auth=auth).status_code == 404


def test_v3_lifecycle_and_filters(client: TestClient, runtime: Runtime, york: dict[str, Any]) -> None:
    auth = _auth(york)
    chart = _chart(runtime, york)
    category = client.post("/api/3/annotation-categories", json={"category": "Campaigns"}, auth=auth).json()["data"]
    body = {
        "label": "Spring sale",
        "details": "20% off",
        "start": "2024-03-10T15:00:00",
        "end": "2024-03-12",
        "category": "Campaigns",
        "chart_id": chart,
    }
    r = client.post("/api/3/annotations", json=body, auth=auth)
    assert r.status_code == 200, r.text
    sale = r.json()["data"]
    assert sale == {
        "id": sale["id"],
        "start": "2024-03-10T15:00:00-04:00",
        "end": "2024-03-12T00:00:00-04:00",
        "label": "Spring sale",
        "details": "20% off",
        "category": category,
        "chart_id": chart,
    }
    point = client.post("/api/3/annotations", json={"label": "Outage", "start": "2024-03-20T08:30:00Z"}, auth=auth)
    outage = point.json()["data"]
    assert outage["start"] == "2024-03-20T04:30:00-04:00" and outage["category"] is None

    def ids(**params: str) -> list[int]:
        r = client.get("/api/3/annotations", params=params, auth=auth)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["data"]]

    assert ids() == [sale["id"], outage["id"]]
    assert ids(category="Campaigns") == [sale["id"]]
    assert ids(category=str(category["id"])) == [sale["id"]]
    assert ids(chart_id=chart) == [sale["id"]]
    assert ids(start="2024-03-11", end="2024-03-15") == [sale["id"]]  # the sale overlaps; the outage is later
    assert ids(start="2024-03-13") == [outage["id"]]
    assert ids(end="2024-03-10") == [sale["id"]]  # a date includes its whole (local) day
    assert ids(end="2024-03-10T14:59:00") == []
    assert ids(end="2024-03-09") == []
    updated = client.put(
        f"/api/3/annotations/{sale['id']}", json={"label": "Big sale", "category": None, "chart_id": None}, auth=auth
    ).json()["data"]
    assert (updated["label"], updated["category"], updated["chart_id"]) == ("Big sale", None, None)
    assert updated["start"] == sale["start"] and updated["details"] == "20% off"
    assert client.delete(f"/api/3/annotations/{sale['id']}", auth=auth).json() == {"success": True}
    assert client.get(f"/api/3/annotations/{sale['id']}", auth=auth).status_code == 404
    assert [a["id"] for a in client.get("/api/2/annotations", auth=auth).json()["data"]] == [outage["id"]]
    with runtime.meta.session() as session:  # soft: PostHog lists deleted annotations on request
        row = session.get(Annotation, sale["id"])
        assert row is not None and row.deleted


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"start": "2024-03-10"}, "label and start are required"),
        ({"label": "x"}, "label and start are required"),
        ({"label": "x", "start": "yesterday"}, "start must be an ISO-8601"),
        ({"label": "x", "start": "2024-03-10", "end": "2024-03-09"}, "end is before start"),
        ({"label": "x", "start": "2024-03-10", "category": "Unknown"}, "Category not found"),
        ({"label": "x", "start": "2024-03-10", "category": True}, "Category not found"),
        ({"label": "x", "start": "2024-03-10", "end": 5}, "end must be an ISO-8601"),
        ({"label": "x", "start": "2024-03-10", "chart_id": 999999}, "Unknown chart_id"),
        ({"label": 5, "start": "2024-03-10"}, "label is required"),
        ({"label": "x", "start": "2024-03-10", "details": ["a"]}, "details must be a string"),
    ],
)
def test_v3_bad_input(client: TestClient, york: dict[str, Any], body: dict[str, Any], reason: str) -> None:
    r = client.post("/api/3/annotations", json=body, auth=_auth(york))
    assert r.status_code == 400 and reason in r.text, r.text


def test_v3_bad_ids_and_bodies(client: TestClient, york: dict[str, Any]) -> None:
    auth = _auth(york)
    assert client.get("/api/3/annotations/abc", auth=auth).status_code == 404
    assert client.get("/api/3/annotations/99999999999999999999999", auth=auth).status_code == 404
    assert client.put("/api/3/annotations/1", content=b"{", auth=auth).status_code == 400
    assert client.post("/api/3/annotations", content=b"not json", auth=auth).status_code == 400
    assert client.get("/api/3/annotations", params={"start": "soon"}, auth=auth).status_code == 400
    assert client.get("/api/3/annotations", params={"category": "none"}, auth=auth).status_code == 400
    assert client.get("/api/2/annotations", params={"id": "x"}, auth=auth).status_code == 404


def test_auth_required(client: TestClient) -> None:
    for method, path in (
        ("GET", "/api/2/annotations"),
        ("POST", "/api/2/annotations"),
        ("GET", "/api/3/annotations"),
        ("POST", "/api/3/annotations"),
        ("GET", "/api/3/annotations/1"),
        ("PUT", "/api/3/annotations/1"),
        ("DELETE", "/api/3/annotations/1"),
        ("GET", "/api/3/annotation-categories"),
        ("POST", "/api/3/annotation-categories"),
        ("GET", "/api/3/annotation-categories/1"),
        ("PUT", "/api/3/annotation-categories/1"),
        ("DELETE", "/api/3/annotation-categories/1"),
    ):
        r = client.request(method, path)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic"), (method, path)


def test_tenancy(client: TestClient, runtime: Runtime, york: dict[str, Any]) -> None:
    mine, theirs = _auth(york), _auth(new_project(runtime, "UTC"))
    chart = _chart(runtime, york)
    category = client.post("/api/3/annotation-categories", json={"category": "Mine"}, auth=mine).json()["data"]["id"]
    body = {"label": "Private", "start": "2024-03-10", "category": category, "chart_id": chart}
    annotation = client.post("/api/3/annotations", json=body, auth=mine).json()["data"]["id"]
    assert client.get(f"/api/3/annotations/{annotation}", auth=theirs).status_code == 404
    assert client.put(f"/api/3/annotations/{annotation}", json={"label": "Stolen"}, auth=theirs).status_code == 404
    assert client.delete(f"/api/3/annotations/{annotation}", auth=theirs).status_code == 404
    assert client.get("/api/2/annotations", params={"id": annotation}, auth=theirs).status_code == 404
    assert client.get("/api/2/annotations", auth=theirs).json() == {"data": []}
    assert client.get("/api/3/annotations", auth=theirs).json() == {"data": []}
    assert client.get(f"/api/3/annotation-categories/{category}", auth=theirs).status_code == 404
    assert (
        client.put(f"/api/3/annotation-categories/{category}", json={"category": "X"}, auth=theirs).status_code == 404
    )
    assert client.delete(f"/api/3/annotation-categories/{category}", auth=theirs).status_code == 404
    assert client.get("/api/3/annotation-categories", auth=theirs).json() == {"data": []}
    # Another project's chart and category are unknown here, and the same category name is free.
    assert client.post("/api/3/annotations", json={**body, "category": None}, auth=theirs).status_code == 400
    assert client.get("/api/3/annotations", params={"chart_id": chart}, auth=theirs).status_code == 400
    assert client.post("/api/3/annotation-categories", json={"category": "Mine"}, auth=theirs).status_code == 200
    assert client.get(f"/api/3/annotations/{annotation}", auth=mine).json()["data"]["label"] == "Private"
