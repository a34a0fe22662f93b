"""Oversized bodies are refused with 413 in each flavour, before they are held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from footfall.bodies import API_BODY_LIMIT
from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime


def _chunks(total: int) -> Iterator[bytes]:
    """A body streamed without a Content-Length, so only the running count can catch it."""
    chunk = b" " * (1 << 20)
    for _ in range(total // len(chunk) + 1):
        yield chunk


def test_posthog_api_and_public_endpoints_refuse_oversized_bodies(
    client: TestClient, runtime: Runtime, project: dict[str, Any]
) -> None:
    with runtime.meta.session() as session, session.begin():
        key = create_personal_key(session, ["*"], "bodies")["key"]
    auth = {"Authorization": f"Bearer {key}"}
    pid = project["id"]
    declared = {"Content-Length": str(API_BODY_LIMIT + 1), "Content-Type": "application/json"}

    r = client.post(f"/api/projects/{pid}/query/", content=_chunks(API_BODY_LIMIT), headers=auth)
    assert r.status_code == 413 and r.json()["code"] == "request_too_large"
    r = client.post(f"/api/projects/{pid}/dashboards/", content=b"{}" + b" " * API_BODY_LIMIT, headers=auth)
    assert r.status_code == 413 and r.json()["code"] == "request_too_large"
    r = client.post("/shared/no-such-token", content=_chunks(API_BODY_LIMIT), headers=declared)
    assert r.status_code == 413
    r = client.post("/_ui/chart", content=_chunks(API_BODY_LIMIT))
    assert r.status_code == 413 and r.json() == {"detail": "chart input too large"}
    # Under the limit the same endpoints answer as before.
    assert client.post(f"/api/projects/{pid}/dashboards/", json={"name": "ok"}, headers=auth).status_code == 201
    assert client.post("/_ui/chart", json={"kind": "TrendsQuery", "results": []}).status_code == 200
