"""Projects and personal API keys over PostHog's API: shapes, scopes, the session's CSRF token, and what
rotating a key or changing the time zone does to ingestion, Amplitude's Basic auth and day buckets."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key, set_admin_password
from footfall.runtime import Runtime
from tests.conftest import flush, new_project

PASSWORD = "a long enough password"
_names = itertools.count()


def bearer(runtime: Runtime, scopes: list[str], teams: list[int] | None = None) -> dict[str, str]:
    with runtime.meta.session() as session, session.begin():
        return {"Authorization": f"Bearer {create_personal_key(session, scopes, 'tests', teams)['key']}"}


def unique(name: str) -> str:
    return f"{name}-{os.getpid()}-{next(_names)}"


def sign_in(client: TestClient, password: str = PASSWORD) -> dict[str, str]:
    """Headers of a browser session: its cookies and its CSRF token. The shared client keeps no cookies."""
    r = client.post("/login", data={"email": "admin@localhost", "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookies = dict(r.cookies)
    client.cookies.clear()
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-CSRFToken": cookies["footfall_csrf"]}


@pytest.fixture
def browser(client: TestClient, runtime: Runtime) -> dict[str, str]:
    with runtime.meta.session() as session, session.begin():
        set_admin_password(session, PASSWORD)
    return sign_in(client)


def error(r: Any, status: int, code: str, attr: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["attr"] == attr and set(body) == {"type", "code", "detail", "attr"}, body


def test_create_read_list_and_update(client: TestClient, runtime: Runtime) -> None:
    new_project(runtime)  # not alone on the list
    auth = bearer(runtime, ["project:write"])
    name = unique("shop")
    r = client.post("/api/projects/", json={"name": name, "timezone": "Europe/Berlin"}, headers=auth)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["name"] == name and created["timezone"] == "Europe/Berlin"
    assert created["api_token"] and created["secret_key"] and created["created_at"].endswith("Z")
    pid = created["id"]

    for path in (f"/api/projects/{pid}/", f"/api/environments/{pid}", f"/api/projects/{pid}"):
        got = client.get(path, headers=auth).json()
        assert got == {k: v for k, v in created.items() if k != "secret_key"}  # the secret was shown once

    listed = client.get("/api/projects/", params={"limit": 1}, headers=auth).json()
    assert listed["count"] >= 2 and len(listed["results"]) == 1 and "offset=1" in listed["next"]
    everything = client.get("/api/projects/", params={"limit": 1000}, headers=auth).json()["results"]
    assert pid in [p["id"] for p in everything] and all("secret_key" not in p for p in everything)

    r = client.patch(f"/api/projects/{pid}/", json={"name": f"{name} 2", "timezone": "Asia/Tokyo"}, headers=auth)
    assert r.status_code == 200 and r.json()["name"] == f"{name} 2" and r.json()["timezone"] == "Asia/Tokyo"
    # PostHog's other team settings are accepted and ignored; a rename to its own name is no conflict.
    r = client.patch(f"/api/environments/{pid}/", json={"name": f"{name} 2", "anonymize_ips": True}, headers=auth)
    assert r.status_code == 200 and client.get(f"/api/projects/{pid}/", headers=auth).json()["timezone"] == "Asia/Tokyo"


def test_bad_input_is_a_posthog_400_and_unknown_projects_404(client: TestClient, runtime: Runtime) -> None:
    auth = bearer(runtime, ["*"])
    project = new_project(runtime)
    pid = project["id"]
    error(
        client.post("/api/projects/", json={"name": unique("x"), "timezone": "Mars/Olympus"}, headers=auth),
        400,
        "invalid_input",
        "timezone",
    )
    error(client.post("/api/projects/", json={"name": "  "}, headers=auth), 400, "invalid_input", "name")
    error(client.post("/api/projects/", json={"timezone": "UTC"}, headers=auth), 400, "invalid_input", "name")
    error(client.post("/api/projects/", json={"name": project["name"]}, headers=auth), 400, "invalid_input", "name")
    error(client.post("/api/projects/", content=b"{nope", headers=auth), 400, "invalid_input")
    error(client.post("/api/projects/", json={"name": 7}, headers=auth), 400, "invalid_input", "name")
    error(
        client.patch(f"/api/projects/{pid}/", json={"timezone": "localtime"}, headers=auth),
        400,
        "invalid_input",
        "timezone",
    )
    error(
        client.patch(f"/api/projects/{pid}/", json={"timezone": ["UTC"]}, headers=auth),
        400,
        "invalid_input",
        "timezone",
    )
    error(client.get("/api/projects/", params={"limit": "many"}, headers=auth), 400, "invalid_input")
    for path in ("/api/projects/999999/", "/api/projects/nope/", "/api/environments/999999/reset_token/"):
        method = "POST" if "reset" in path else "GET"
        error(client.request(method, path, headers=auth), 404, "not_found")
    assert client.get(f"/api/projects/{pid}/", headers=auth).json()["timezone"] == "UTC"  # nothing half-applied


def test_scopes(client: TestClient, runtime: Runtime) -> None:
    a, b = new_project(runtime), new_project(runtime)
    reader = bearer(runtime, ["project:read"])
    assert client.get(f"/api/projects/{a['id']}/", headers=reader).status_code == 200
    assert client.get("/api/projects/", headers=reader).status_code == 200
    error(
        client.patch(f"/api/projects/{a['id']}/", json={"name": unique("r")}, headers=reader), 403, "permission_denied"
    )
    error(client.post(f"/api/projects/{a['id']}/reset_token/", headers=reader), 403, "permission_denied")
    error(client.post(f"/api/projects/{a['id']}/reset_secret_key/", headers=reader), 403, "permission_denied")
    error(client.post("/api/projects/", json={"name": unique("r")}, headers=reader), 403, "permission_denied")
    other = bearer(runtime, ["dashboard:read"])
    error(client.get("/api/projects/", headers=other), 403, "permission_denied")
    error(client.get(f"/api/projects/{a['id']}/", headers=other), 403, "permission_denied")
    error(client.get("/api/projects/", headers={"Authorization": "Bearer phx_wrong"}), 401, "authentication_failed")
    error(client.get("/api/projects/"), 401, "not_authenticated")

    # A key scoped to project a (PostHog's scoped_teams) sees only a, elsewhere gets PostHog's 403.
    scoped = bearer(runtime, ["*"], [a["id"]])
    listed = client.get("/api/projects/", params={"limit": 1000}, headers=scoped).json()
    assert [p["id"] for p in listed["results"]] == [a["id"]] and listed["count"] == 1
    assert client.get("/api/projects/@current/", headers=scoped).json()["id"] == a["id"]
    assert client.get(f"/api/projects/{a['id']}/dashboards/", headers=scoped).status_code == 200
    error(client.get(f"/api/projects/{b['id']}/", headers=scoped), 403, "permission_denied")
    error(client.get(f"/api/projects/{b['id']}/dashboards/", headers=scoped), 403, "permission_denied")
    error(client.post(f"/api/projects/{b['id']}/reset_token/", headers=scoped), 403, "permission_denied")
    error(client.post("/api/projects/", json={"name": unique("s")}, headers=scoped), 403, "permission_denied")
    assert client.get(f"/api/projects/{b['id']}/", headers=scoped).json()["detail"].endswith(f"ID {b['id']}.")


def test_personal_keys_are_managed_from_the_browser_session(
    client: TestClient, runtime: Runtime, browser: dict[str, str]
) -> None:
    project = new_project(runtime)
    r = client.post("/api/personal_api_keys/", json={"label": "ci", "scopes": ["project:read"]}, headers=browser)
    assert r.status_code == 201, r.text
    created = r.json()
    value = created["value"]
    assert value.startswith("phx_") and created["mask_value"] == f"{value[:6]}...{value[-4:]}"
    assert created["scopes"] == ["project:read"] and created["scoped_teams"] == [] and created["last_used_at"] is None
    listed = client.get("/api/personal_api_keys/", headers=browser).json()
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine["value"] is None and mine["label"] == "ci"  # the value was shown once

    key = {"Authorization": f"Bearer {value}"}
    assert client.get(f"/api/projects/{project['id']}/", headers=key).status_code == 200
    itself = client.get("/api/personal_api_keys/@current/", headers=key).json()
    assert itself["id"] == created["id"] and itself["value"] is None and itself["last_used_at"]
    assert client.get(f"/api/personal_api_keys/{created['id']}/", headers=key).status_code == 200
    # As in PostHog, a key cannot list, create or delete keys, nor read another key.
    another = client.post("/api/personal_api_keys/", json={"scopes": ["*"]}, headers=browser).json()
    for method, path, body in (
        ("GET", "/api/personal_api_keys/", None),
        ("POST", "/api/personal_api_keys/", {"label": "x", "scopes": ["*"]}),
        ("DELETE", f"/api/personal_api_keys/{created['id']}/", None),
        ("GET", f"/api/personal_api_keys/{another['id']}/", None),
    ):
        error(client.request(method, path, json=body, headers=key), 403, "permission_denied")
    wildcard = bearer(runtime, ["*"])
    error(client.post("/api/personal_api_keys/", json={"scopes": ["*"]}, headers=wildcard), 403, "permission_denied")

    scoped = client.post(
        "/api/personal_api_keys/",
        json={"label": "one project", "scopes": ["query:read", "dashboard:write"], "scoped_teams": [project["id"]]},
        headers=browser,
    ).json()
    assert scoped["scoped_teams"] == [project["id"]]

    assert client.delete(f"/api/personal_api_keys/{created['id']}/", headers=browser).status_code == 204
    error(client.get(f"/api/projects/{project['id']}/", headers=key), 401, "authentication_failed")
    error(client.delete(f"/api/personal_api_keys/{created['id']}/", headers=browser), 404, "not_found")
    assert created["id"] not in [k["id"] for k in client.get("/api/personal_api_keys/", headers=browser).json()]

    for body, attr in (
        ({"label": "x", "scopes": ["dashboards"]}, "scopes"),
        ({"label": "x", "scopes": ["dashboard:admin"]}, "scopes"),
        ({"label": "x", "scopes": []}, "scopes"),
        ({"label": "x"}, "scopes"),
        ({"label": "x" * 41, "scopes": ["*"]}, "label"),
        ({"label": "x", "scopes": ["*"], "scoped_teams": [999999]}, "scoped_teams"),
    ):
        error(client.post("/api/personal_api_keys/", json=body, headers=browser), 400, "invalid_input", attr)


def test_the_session_needs_its_csrf_token_to_change_anything(
    client: TestClient, runtime: Runtime, browser: dict[str, str]
) -> None:
    project = new_project(runtime)
    cookie_only = {"Cookie": browser["Cookie"]}
    wrong = {**browser, "X-CSRFToken": "0" * 64}
    for headers in (cookie_only, wrong):
        error(client.post("/api/projects/", json={"name": unique("c")}, headers=headers), 403, "csrf_failed")
        error(
            client.patch(f"/api/projects/{project['id']}/", json={"timezone": "Asia/Tokyo"}, headers=headers),
            403,
            "csrf_failed",
        )
        error(client.post(f"/api/projects/{project['id']}/reset_secret_key/", headers=headers), 403, "csrf_failed")
        error(client.post("/api/personal_api_keys/", json={"scopes": ["*"]}, headers=headers), 403, "csrf_failed")
        error(client.delete("/api/personal_api_keys/1/", headers=headers), 403, "csrf_failed")
        error(
            client.post("/_ui/password", json={"current_password": PASSWORD, "password": "x" * 12}, headers=headers),
            403,
            "csrf_failed",
        )
    assert client.get(f"/api/projects/{project['id']}/", headers=cookie_only).json()["timezone"] == "UTC"
    assert client.patch(f"/api/projects/{project['id']}/", json={"timezone": "Asia/Tokyo"}, headers=browser).is_success


def _capture(client: TestClient, key: str) -> int:
    return client.post("/batch/", json={"api_key": key, "batch": [{"event": "ping", "distinct_id": "d"}]}).status_code


def test_reset_token_stops_ingestion_with_the_old_key(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    old = project["api_key"]
    assert _capture(client, old) == 200  # the ingest cache now knows the old key
    auth = bearer(runtime, ["project:write"])
    r = client.post(f"/api/projects/{project['id']}/reset_token/", headers=auth)
    assert r.status_code == 200
    new = r.json()["api_token"]
    assert new != old and client.get(f"/api/projects/{project['id']}/", headers=auth).json()["api_token"] == new
    assert _capture(client, old) == 403
    amplitude = client.post("/2/httpapi", json={"api_key": old, "events": [{"event_type": "e", "device_id": "dev-1"}]})
    assert amplitude.status_code == 400 and "Invalid API key" in amplitude.text
    assert _capture(client, new) == 200
    # PostHog's own verb is PATCH.
    assert client.patch(f"/api/projects/{project['id']}/reset_token/", headers=auth).json()["api_token"] != new


def test_reset_secret_key_replaces_the_amplitude_secret(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    key, old = project["api_key"], project["secret_key"]
    assert client.get("/api/2/annotations", auth=(key, old)).status_code == 200
    r = client.post(f"/api/projects/{project['id']}/reset_secret_key/", headers=bearer(runtime, ["project:write"]))
    assert r.status_code == 200
    new = r.json()["secret_key"]
    assert new != old and r.json()["api_token"] == key
    assert client.get("/api/2/annotations", auth=(key, old)).status_code == 401
    assert client.get("/api/2/annotations", auth=(key, new)).status_code == 200
    assert "secret_key" not in client.get(f"/api/projects/{project['id']}/", headers=bearer(runtime, ["*"])).json()


def test_a_new_time_zone_moves_events_to_their_local_day(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime, "UTC")
    event = {"event": "late", "distinct_id": "owl", "timestamp": "2024-03-01T23:30:00Z"}
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": [event]}).status_code == 200
    flush(runtime)
    auth = bearer(runtime, ["*"])
    query = {
        "kind": "TrendsQuery",
        "interval": "day",
        "dateRange": {"date_from": "2024-03-01", "date_to": "2024-03-02"},
        "series": [{"kind": "EventsNode", "event": "late"}],
    }

    def per_day() -> dict[str, int]:
        r = client.post(f"/api/projects/{project['id']}/query/", json={"query": query}, headers=auth)
        assert r.status_code == 200, r.text
        series = r.json()["results"][0]
        return dict(zip(series["days"], series["data"], strict=True))

    assert per_day() == {"2024-03-01": 1, "2024-03-02": 0}
    r = client.patch(f"/api/projects/{project['id']}/", json={"timezone": "Asia/Tokyo"}, headers=auth)
    assert r.status_code == 200
    assert per_day() == {"2024-03-01": 0, "2024-03-02": 1}  # 08:30 on the 2nd in Tokyo


def test_password_change_keeps_this_session_and_ends_the_others(
    client: TestClient, runtime: Runtime, browser: dict[str, str]
) -> None:
    other = sign_in(client)
    change = {"current_password": PASSWORD, "password": "a brand new password"}
    error(
        client.post("/_ui/password", json={**change, "current_password": "wrong"}, headers=browser),
        400,
        "invalid_input",
        "current_password",
    )
    error(
        client.post("/_ui/password", json={**change, "password": "short"}, headers=browser),
        400,
        "invalid_input",
        "password",
    )
    r = client.post("/_ui/password", json=change, headers=browser)
    assert r.status_code == 204, r.text
    cookies = dict(r.cookies)
    client.cookies.clear()
    renewed = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()), "X-CSRFToken": cookies["footfall_csrf"]}
    assert client.get("/api/personal_api_keys/", headers=renewed).status_code == 200
    assert client.post("/api/projects/", json={"name": unique("p")}, headers=renewed).status_code == 201
    for stale in (browser, other):
        error(client.get("/api/personal_api_keys/", headers=stale), 401, "not_authenticated")
    assert sign_in(client, "a brand new password")["X-CSRFToken"]
