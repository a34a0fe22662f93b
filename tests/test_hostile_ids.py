"""Hostile ids and query values: numbers no row can have, forged cookies, wrong JSON types. Each answers a
4xx in its API's flavour, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime

BIG = "99999999999999999999"


@pytest.fixture(scope="module")
def auth(runtime: Runtime) -> dict[str, str]:
    with runtime.meta.session() as session, session.begin():
        return {"Authorization": f"Bearer {create_personal_key(session, ['*'], 'hostile')['key']}"}


@pytest.mark.parametrize(
    ("path", "attr"),
    [
        ("dashboards/" + BIG + "/", "dashboard_id"),
        ("insights/" + BIG + "/", "insight_id"),
        ("exports/" + BIG + "/", "asset_id"),
        ("dashboards/" + BIG + "/sharing/", "object_id"),
    ],
)
def test_ids_no_row_can_have_are_400_naming_them(
    client: TestClient, auth: dict[str, str], project: dict[str, Any], path: str, attr: str
) -> None:
    r = client.get(f"/api/projects/{project['id']}/{path}", headers=auth)
    assert r.status_code == 400 and r.json()["type"] == "validation_error" and r.json()["attr"] == attr


@pytest.mark.parametrize("project_id", [BIG, "²", "0"])
def test_project_ids_no_project_can_have_are_404(client: TestClient, auth: dict[str, str], project_id: str) -> None:
    assert client.get(f"/api/projects/{project_id}/dashboards/", headers=auth).status_code == 404


def test_forged_session_cookies_are_anonymous(client: TestClient) -> None:
    for cookie in (f"user-{BIG}.1.x", f"user-1-abc.{BIG}.x", "user-0.1.x", "user-.1.x"):
        client.cookies.set("footfall_session", cookie)
        try:
            assert client.get("/api/projects/").status_code == 401
            assert client.get("/", follow_redirects=False).status_code == 303
        finally:
            client.cookies.clear()
    assert client.get("/project/" + BIG + "/dashboards").status_code == 404


EVENT = {"kind": "EventsNode", "event": "a"}


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "PathsQuery", "pathsFilter": {"stepLimit": "x"}},
        {"kind": "PathsQuery", "pathsFilter": ["not an object"]},
        {"kind": "TrendsQuery", "series": [{**EVENT, "math": ["dau"]}]},
        {"kind": "TrendsQuery", "series": [EVENT], "interval": {"x": 1}},
        {"kind": "TrendsQuery", "series": [EVENT], "dateRange": {"date_from": "-99999y"}},
        {"kind": "TrendsQuery", "series": [EVENT], "dateRange": "last week"},
        {"kind": "FunnelsQuery", "series": [EVENT, EVENT], "funnelsFilter": "steps"},
        {"kind": "RetentionQuery", "retentionFilter": 7},
    ],
)
def test_wrongly_typed_queries_are_400(
    client: TestClient, auth: dict[str, str], project: dict[str, Any], query: dict[str, Any]
) -> None:
    r = client.post(f"/api/projects/{project['id']}/query/", json={"query": query}, headers=auth)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "validation_error"


def test_a_wrongly_typed_refresh_is_400(client: TestClient, auth: dict[str, str], project: dict[str, Any]) -> None:
    query = {"kind": "TrendsQuery", "series": [EVENT]}
    r = client.post(f"/api/projects/{project['id']}/query/", json={"query": query, "refresh": ["x"]}, headers=auth)
    assert r.status_code == 400
