"""PostHog dashboards and insights: CRUD, tiles, soft delete, templates, move_tile, stream_tiles, tenancy."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project

TRENDS = {
    "kind": "InsightVizNode",
    "source": {
        "kind": "TrendsQuery",
        "dateRange": {"date_from": "2020-01-01", "date_to": "2020-01-02"},
        "series": [{"kind": "EventsNode", "event": "$pageview"}],
    },
}


@pytest.fixture(scope="module")
def api(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        key = create_personal_key(session, ["*"])["key"]
    batch = [
        {"event": "$pageview", "distinct_id": "u1", "timestamp": "2020-01-01T10:00:00Z"},
        {"event": "$pageview", "distinct_id": "u2", "timestamp": "2020-01-02T10:00:00Z"},
    ]
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project, {"Authorization": f"Bearer {key}"}


def url(project: dict[str, Any], path: str, env: bool = False) -> str:
    return f"/api/{'environments' if env else 'projects'}/{project['id']}/{path}"


def test_dashboard_lifecycle_with_tiles(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    r = client.post(url(project, "dashboards/"), json={"name": "Growth", "tags": ["kpi"]}, headers=auth)
    assert r.status_code == 201, r.text
    board = r.json()
    insight = client.post(
        url(project, "insights/"), json={"name": "Views", "query": TRENDS, "dashboards": [board["id"]]}, headers=auth
    ).json()
    assert insight["result"][0]["data"] == [1, 1] and insight["dashboards"] == [board["id"]]
    text = client.patch(
        url(project, f"dashboards/{board['id']}/"), json={"tiles": [{"text": {"body": "# Hi"}}]}, headers=auth
    ).json()
    assert [bool(t["insight"]) for t in text["tiles"]] == [True, False]
    full = client.get(url(project, f"dashboards/{board['id']}/", env=True), headers=auth).json()
    assert full["tiles"][0]["insight"]["result"][0]["count"] == 2
    assert full["tiles"][1]["text"]["body"] == "# Hi"
    listed = client.get(url(project, "dashboards/"), params={"tags": "kpi"}, headers=auth).json()
    assert listed["count"] == 1 and "tiles" not in listed["results"][0]
    # DELETE is refused; soft delete hides it and its insight; undelete restores both.
    assert client.delete(url(project, f"dashboards/{board['id']}/"), headers=auth).status_code == 405
    client.patch(
        url(project, f"dashboards/{board['id']}/"), json={"deleted": True, "delete_insights": True}, headers=auth
    )
    assert client.get(url(project, f"dashboards/{board['id']}/"), headers=auth).status_code == 404
    assert client.get(url(project, f"insights/{insight['id']}/"), headers=auth).status_code == 404
    client.patch(url(project, f"dashboards/{board['id']}/"), json={"deleted": False}, headers=auth)
    assert client.get(url(project, f"insights/{insight['id']}/"), headers=auth).status_code == 200


def test_duplicate_template_move_and_unlisted(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    template = client.post(url(project, "dashboards/"), json={"use_template": "DEFAULT_APP"}, headers=auth).json()
    assert len(template["tiles"]) == 5 and template["creation_mode"] == "template"
    copy = client.post(
        url(project, "dashboards/"),
        json={"name": "Copy", "use_dashboard": template["id"], "duplicate_tiles": True},
        headers=auth,
    ).json()
    originals = {t["insight"]["id"] for t in template["tiles"]}
    assert len(copy["tiles"]) == 5 and not originals & {t["insight"]["id"] for t in copy["tiles"]}
    tile_id = copy["tiles"][0]["id"]
    moved = client.patch(
        url(project, f"dashboards/{copy['id']}/move_tile/"),
        json={"tile": {"id": tile_id}, "toDashboard": template["id"]},
        headers=auth,
    ).json()
    assert tile_id not in {t["id"] for t in moved["tiles"]}
    json_board = client.post(
        url(project, "dashboards/create_from_template_json/"),
        json={"template": {"template_name": "From JSON", "tiles": [{"type": "TEXT", "body": "hello"}]}},
        headers=auth,
    ).json()
    assert json_board["name"] == "From JSON" and json_board["tiles"][0]["text"]["body"] == "hello"
    first = client.post(url(project, "dashboards/create_unlisted_dashboard/"), json={"tag": "web"}, headers=auth)
    second = client.post(url(project, "dashboards/create_unlisted_dashboard/"), json={"tag": "web"}, headers=auth)
    assert first.status_code == 200 and second.status_code == 409
    names = [d["name"] for d in client.get(url(project, "dashboards/"), headers=auth).json()["results"]]
    assert "web" not in names


def test_stream_tiles_sends_metadata_first(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    board = client.post(url(project, "dashboards/"), json={"name": "Stream"}, headers=auth).json()
    client.post(url(project, "insights/"), json={"query": TRENDS, "dashboards": [board["id"]]}, headers=auth)
    with client.stream("GET", url(project, f"dashboards/{board['id']}/stream_tiles/"), headers=auth) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("event: ") for line in r.iter_lines() if line.startswith("event: ")]
    assert events == ["metadata", "tile", "complete"]


def test_errors_scopes_and_tenancy(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    bad = client.post(url(project, "insights/"), json={"query": {"kind": "Nope"}}, headers=auth)
    assert bad.status_code == 400 and bad.json()["attr"] == "query"
    assert client.post(url(project, "dashboards/"), content=b"{", headers=auth).json()["type"] == "validation_error"
    with runtime.meta.session() as session, session.begin():
        reader = {"Authorization": f"Bearer {create_personal_key(session, ['dashboard:read'])['key']}"}
    denied = client.post(url(project, "dashboards/"), json={"name": "x"}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    other = new_project(runtime)
    board = client.post(url(project, "dashboards/"), json={"name": "Mine"}, headers=auth).json()
    assert client.get(url(other, f"dashboards/{board['id']}/"), headers=auth).status_code == 404


def test_malformed_ids_get_posthog_errors(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    r = client.get(url(project, "dashboards/not-a-number/"), headers=auth)
    assert r.status_code == 400
    assert r.json()["type"] == "validation_error" and r.json()["attr"] == "dashboard_id"
