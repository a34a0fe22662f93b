"""Sharing: enable, rotate (the old link dies), passwords (shown once, hashed, never echoed), the public link."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.meta.models import SharePassword
from footfall.runtime import Runtime
from tests.conftest import new_project
from tests.test_posthog_dashboards import TRENDS, url


@pytest.fixture
def shared_board(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str], int]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    board = client.post(url(project, "dashboards/"), json={"name": "Public"}, headers=auth).json()
    client.post(url(project, "insights/"), json={"query": TRENDS, "dashboards": [board["id"]]}, headers=auth)
    return project, auth, board["id"]


def test_enable_rotate_and_disable(
    client: TestClient, shared_board: tuple[dict[str, Any], dict[str, str], int]
) -> None:
    project, auth, board_id = shared_board
    sharing = url(project, f"dashboards/{board_id}/sharing/")
    config = client.get(sharing, headers=auth).json()
    assert config["enabled"] is False and config["share_passwords"] == []
    assert client.get(f"/shared/{config['access_token']}").status_code == 404  # not enabled yet
    config = client.patch(sharing, json={"enabled": True}, headers=auth).json()
    public = client.get(f"/shared/{config['access_token']}")
    assert public.status_code == 200 and public.json()["name"] == "Public"
    assert public.json()["tiles"][0]["insight"]["result"][0]["data"] == [0, 0]
    rotated = client.post(sharing + "refresh/", headers=auth).json()
    assert rotated["access_token"] != config["access_token"]
    assert client.get(f"/shared/{config['access_token']}").status_code == 404
    assert client.get(f"/shared/{rotated['access_token']}").status_code == 200


def test_password_gate(
    client: TestClient, runtime: Runtime, shared_board: tuple[dict[str, Any], dict[str, str], int]
) -> None:
    project, auth, board_id = shared_board
    sharing = url(project, f"dashboards/{board_id}/sharing/")
    assert client.post(sharing + "passwords/", json={"raw_password": "long enough"}, headers=auth).status_code == 400
    token = client.patch(sharing, json={"enabled": True, "password_required": True}, headers=auth).json()[
        "access_token"
    ]
    assert client.post(sharing + "passwords/", json={"raw_password": "short"}, headers=auth).status_code == 400
    created = client.post(sharing + "passwords/", json={"raw_password": "correct horse", "note": "team"}, headers=auth)
    assert created.status_code == 201 and created.json()["password"] == "correct horse"
    config = client.get(sharing, headers=auth).json()
    assert "correct horse" not in str(config) and config["share_passwords"][0]["note"] == "team"
    with runtime.meta.session() as session:
        stored = session.get(SharePassword, created.json()["id"])
        assert stored is not None and "correct horse" not in stored.password_hash
    fresh = TestClient(client.app)
    assert fresh.get(f"/shared/{token}").status_code == 401
    wrong = fresh.post(f"/shared/{token}", json={"password": "wrong horse"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "Incorrect password"}
    right = fresh.post(f"/shared/{token}", json={"password": "correct horse"})
    assert right.status_code == 200 and right.json()["shareToken"]
    assert fresh.get(f"/shared/{token}").status_code == 200  # the cookie unlocks it
    bearer = TestClient(client.app).get(
        f"/shared/{token}", headers={"Authorization": f"Bearer {right.json()['shareToken']}"}
    )
    assert bearer.status_code == 200
    client.delete(sharing + f"passwords/{created.json()['id']}/", headers=auth)
    assert TestClient(client.app).post(f"/shared/{token}", json={"password": "correct horse"}).status_code == 401
