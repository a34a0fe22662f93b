"""PostHog annotations: create, retrieve, list filters, PATCH, soft delete, attachment to insights and dashboards,
the same rows in Amplitude's annotation APIs (both ways), scopes and tenancy.

The project is in New York, so Amplitude's v2 shows the local day of PostHog's UTC date_marker.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta import dashboards as boards
from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import new_project
from tests.test_posthog_dashboards import url

KEYS = {
    "id", "content", "date_marker", "creation_type", "dashboard_item", "dashboard_id", "dashboard_name",
    "insight_short_id", "insight_name", "insight_derived_name", "created_by", "created_at", "updated_at",
    "deleted", "scope",
}  # fmt: skip


@pytest.fixture
def api(runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime, "America/New_York")
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    return project, auth


def create(client: TestClient, api: tuple[dict[str, Any], dict[str, str]], **body: Any) -> Any:
    project, auth = api
    return client.post(url(project, "annotations/"), json=body, headers=auth)


def listed(client: TestClient, api: tuple[dict[str, Any], dict[str, str]], **params: Any) -> list[str]:
    project, auth = api
    r = client.get(url(project, "annotations/"), params=params, headers=auth)
    assert r.status_code == 200, r.text
    return [a["content"] for a in r.json()["results"]]


def test_lifecycle(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    r = create(client, api, content="Launch", date_marker="2024-03-10T03:00:00Z")
    assert r.status_code == 201, r.text
    made = r.json()
    assert set(made) == KEYS
    assert (made["content"], made["date_marker"], made["scope"], made["creation_type"]) == (
        "Launch",
        "2024-03-10T03:00:00Z",
        "project",
        "USR",
    )
    assert made["dashboard_item"] is None and made["deleted"] is False and made["created_by"]["email"]
    one = client.get(url(project, f"annotations/{made['id']}/", env=True), headers=auth).json()
    assert one == made
    edited = client.patch(
        url(project, f"annotations/{made['id']}/"),
        json={"content": "Launch day", "date_marker": "2024-03-11", "creation_type": "GIT"},
        headers=auth,
    ).json()
    assert (edited["content"], edited["date_marker"], edited["creation_type"]) == (
        "Launch day",
        "2024-03-11T00:00:00Z",  # a time without an offset is UTC
        "GIT",
    )
    assert client.delete(url(project, f"annotations/{made['id']}/"), headers=auth).status_code == 405
    gone = client.patch(url(project, f"annotations/{made['id']}/"), json={"deleted": True}, headers=auth).json()
    assert gone["deleted"] is True
    assert listed(client, api) == []
    assert listed(client, api, deleted="true") == ["Launch day"]
    assert client.get(url(project, f"annotations/{made['id']}/"), headers=auth).json()["deleted"] is True
    client.patch(url(project, f"annotations/{made['id']}/"), json={"deleted": False}, headers=auth)
    assert listed(client, api) == ["Launch day"]


def test_attached_to_insights_and_dashboards(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    with runtime.meta.session() as session, session.begin():
        insight = boards.create_insight(session, project["id"], None, None, name="Views")
        board = boards.create_dashboard(session, project["id"], None, "Growth")
        ids, short_id = (insight.id, board.id), insight.short_id
    chart = create(client, api, content="Chart", date_marker="2024-03-01T00:00:00Z", dashboard_item=ids[0]).json()
    assert (chart["scope"], chart["dashboard_item"], chart["insight_short_id"], chart["insight_name"]) == (
        "dashboard_item",
        ids[0],
        short_id,
        "Views",
    )
    on_board = create(client, api, content="Board", date_marker="2024-03-02T00:00:00Z", dashboard_id=ids[1]).json()
    assert (on_board["scope"], on_board["dashboard_id"], on_board["dashboard_name"]) == ("dashboard", ids[1], "Growth")
    create(client, api, content="Everywhere", date_marker="2024-03-03T00:00:00Z", scope="organization")
    assert listed(client, api, dashboardItemId=ids[0]) == ["Chart"]
    assert listed(client, api, apply_all="true") == ["Everywhere", "Board"]
    assert listed(client, api, apply_all="false") == ["Chart"]
    assert listed(client, api, scope="dashboard") == ["Board"]
    # Detached from its chart, and widened to the project.
    widened = client.patch(
        url(project, f"annotations/{chart['id']}/"), json={"dashboard_item": None, "scope": "project"}, headers=auth
    ).json()
    assert (widened["scope"], widened["dashboard_item"], widened["insight_short_id"]) == ("project", None, None)
    other = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        foreign = boards.create_insight(session, other["id"], None, None, name="Theirs").id
    for body, attr in [
        ({"dashboard_item": foreign}, "dashboard_item"),
        ({"dashboard_id": 10**9}, "dashboard_id"),
        ({"scope": "dashboard_item"}, "dashboard_item"),
        ({"scope": "dashboard"}, "dashboard_id"),
        ({"scope": "everywhere"}, "scope"),
    ]:
        r = create(client, api, content="x", date_marker="2024-03-01T00:00:00Z", **body)
        assert r.status_code == 400 and r.json()["attr"] == attr, (body, r.text)


def test_list_filters_order_and_pages(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    first = create(client, api, content="Release 1.0", date_marker="2024-01-01T00:00:00Z").json()
    create(client, api, content="Outage", date_marker="2024-02-01T00:00:00Z")
    create(client, api, content="release 2.0", date_marker="2024-03-01T00:00:00Z")
    assert listed(client, api) == ["release 2.0", "Outage", "Release 1.0"]  # newest date_marker first
    assert listed(client, api, order="date_marker") == ["Release 1.0", "Outage", "release 2.0"]
    assert listed(client, api, search="RELEASE") == ["release 2.0", "Release 1.0"]
    assert listed(client, api, search="100%") == []
    created = first["created_at"]
    assert listed(client, api, before=created) == []
    assert listed(client, api, after="2000-01-01T00:00:00Z", order="created_at") == [
        "Release 1.0",
        "Outage",
        "release 2.0",
    ]
    page = client.get(url(project, "annotations/"), params={"limit": 2}, headers=auth).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and "offset=2" in page["next"]
    assert page["previous"] is None


def test_shared_with_amplitude(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    amplitude = (project["api_key"], project["secret_key"])
    # 03:00 UTC on March 10th is still March 9th in New York.
    made = create(client, api, content="From PostHog", date_marker="2024-03-10T03:00:00Z").json()
    v2 = client.get("/api/2/annotations", auth=amplitude).json()["data"]
    assert v2 == [{"id": made["id"], "date": "2024-03-09", "label": "From PostHog", "details": ""}]
    v3 = client.get(f"/api/3/annotations/{made['id']}", auth=amplitude).json()["data"]
    assert v3["start"] == "2024-03-09T22:00:00-05:00" and v3["label"] == "From PostHog"
    from_amplitude = client.post(
        "/api/3/annotations", json={"label": "From Amplitude", "start": "2024-03-12T09:00:00"}, auth=amplitude
    ).json()["data"]
    seen = client.get(url(project, f"annotations/{from_amplitude['id']}/"), headers=auth).json()
    assert (seen["content"], seen["date_marker"], seen["scope"]) == (
        "From Amplitude",
        "2024-03-12T13:00:00Z",
        "project",
    )
    # Deleted in one API, gone from the other.
    assert client.delete(f"/api/3/annotations/{from_amplitude['id']}", auth=amplitude).status_code == 200
    assert listed(client, api) == ["From PostHog"]
    client.patch(url(project, f"annotations/{made['id']}/"), json={"deleted": True}, headers=auth)
    assert client.get(f"/api/3/annotations/{made['id']}", auth=amplitude).status_code == 404
    assert client.get("/api/2/annotations", auth=amplitude).json()["data"] == []


def test_scopes_tenancy_and_bad_input(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    made = create(client, api, content="Mine", date_marker="2024-03-10T00:00:00Z").json()
    with runtime.meta.session() as session, session.begin():
        reader = {"Authorization": f"Bearer {create_personal_key(session, ['annotation:read'])['key']}"}
    assert client.get(url(project, "annotations/"), headers=reader).json()["count"] == 1
    denied = client.post(url(project, "annotations/"), json={"date_marker": "2024-01-01"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    other = new_project(runtime)
    assert client.get(url(other, f"annotations/{made['id']}/"), headers=auth).status_code == 404
    assert (
        client.patch(url(other, f"annotations/{made['id']}/"), json={"content": "x"}, headers=auth).status_code == 404
    )
    assert client.get(url(other, "annotations/"), headers=auth).json()["count"] == 0
    assert client.get(url(project, "annotations/99999999999999999999/"), headers=auth).status_code == 404
    for body, attr in [
        ({"content": "no date"}, "date_marker"),
        ({"date_marker": "not a date"}, "date_marker"),
        ({"date_marker": "2024-01-01", "content": "x" * 401}, "content"),
        ({"date_marker": "2024-01-01", "creation_type": "BOT"}, "creation_type"),
        ({"date_marker": "2024-01-01", "dashboard_item": "chart"}, "dashboard_item"),
    ]:
        r = client.post(url(project, "annotations/"), json=body, headers=auth)
        assert r.status_code == 400 and r.json()["attr"] == attr, (body, r.text)
    nulled = client.patch(url(project, f"annotations/{made['id']}/"), json={"date_marker": None}, headers=auth)
    assert nulled.status_code == 400
    for params in ({"order": "content"}, {"after": "soon"}, {"deleted": "maybe"}, {"dashboardItemId": "x"}):
        r = client.get(url(project, "annotations/"), params=params, headers=auth)
        assert r.status_code == 400 and r.json()["type"] == "validation_error", params
    assert client.post(url(project, "annotations/"), content=b"[", headers=auth).status_code == 400
