"""GET /api/2/users: active and new users, with the labels Airbyte's extractor reads."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def get(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    query = {"start": "20240601", "end": "20240603", **params}
    return client.get("/api/2/users", params=query, auth=(project["api_key"], project["secret_key"]))


def test_active_and_new(client: TestClient, app_usage: dict[str, Any]) -> None:
    active = get(client, app_usage).json()["data"]
    assert active["xValues"] == ["2024-06-01", "2024-06-02", "2024-06-03"]
    assert active["series"] == [[2, 4, 2]]
    assert active["seriesLabels"] == [0]
    new = get(client, app_usage, m="new").json()["data"]
    assert new["series"] == [[2, 2, 0]]  # eve was new on May 31 (New York time)
    assert new["seriesCollapsed"] == [[{"setId": "", "value": 4}]]


def test_grouped_and_bad_metric(client: TestClient, app_usage: dict[str, Any]) -> None:
    grouped = get(client, app_usage, g="country").json()["data"]
    assert grouped["seriesLabels"] == ["(none)"] and grouped["series"] == [[2, 4, 2]]
    r = get(client, app_usage, m="sideways")
    assert r.status_code == 400 and "Unknown metric" in r.text
