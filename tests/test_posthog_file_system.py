"""File system: parents created on demand, dashboards and insights filed as PostHog shows them, search syntax."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import new_project
from tests.test_posthog_dashboards import TRENDS, url


@pytest.fixture
def api(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        return project, {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}


def test_create_list_and_search(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    r = client.post(url(project, "file_system/"), json={"path": "Growth/Q1/Plan", "type": "notebook"}, headers=auth)
    assert r.status_code == 201 and r.json()["depth"] == 3
    board = client.post(url(project, "dashboards/"), json={"name": "KPIs"}, headers=auth).json()
    client.post(url(project, "insights/"), json={"name": "Views", "query": TRENDS}, headers=auth)
    listing = client.get(url(project, "file_system/"), headers=auth).json()
    paths = {(e["path"], e["type"]) for e in listing["results"]}
    assert {
        ("Growth", "folder"),
        ("Growth/Q1", "folder"),
        ("Growth/Q1/Plan", "notebook"),
        ("Unfiled/Dashboards/KPIs", "dashboard"),
        ("Unfiled/Insights/Views", "insight"),
    } <= paths
    kpis = next(e for e in listing["results"] if e["type"] == "dashboard")
    assert kpis["ref"] == str(board["id"]) and kpis["href"] == f"/dashboard/{board['id']}"

    def search(text: str) -> set[str]:
        found = client.get(url(project, "file_system/"), params={"search": text}, headers=auth).json()
        return {e["path"] for e in found["results"]}

    assert search("type:dashboard") == {"Unfiled/Dashboards/KPIs"}
    assert search("name:plan") == {"Growth/Q1/Plan"}
    assert search("path:growth -type:folder") == {"Growth/Q1/Plan"}
    assert search(f"ref:{board['id']} type:dashboard") == {"Unfiled/Dashboards/KPIs"}
    children = client.get(url(project, "file_system/"), params={"parent": "Growth"}, headers=auth).json()
    assert [e["path"] for e in children["results"]] == ["Growth/Q1"]
    client.patch(url(project, f"dashboards/{board['id']}/"), json={"deleted": True}, headers=auth)
    assert search("type:dashboard") == set()


def test_bad_input(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    assert client.post(url(project, "file_system/"), json={"path": "///"}, headers=auth).status_code == 400
    assert client.get(url(project, "file_system/nope/"), headers=auth).status_code == 404
