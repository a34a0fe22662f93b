"""GET /api/2/funnels: counts, ratios, times and the per-group element real clients read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.datasets import HOUR


def get(client: TestClient, project: dict[str, Any], steps: list[str], **params: Any) -> Any:
    query: list[tuple[str, str]] = [("start", "20240501"), ("end", "20240503")]
    query += [("e", json.dumps({"event_type": name})) for name in steps]
    query += list(params.items())
    return client.get("/api/2/funnels", params=query, auth=(project["api_key"], project["secret_key"]))


def test_ordered_funnel_element(client: TestClient, shop: dict[str, Any]) -> None:
    r = get(client, shop, ["view", "cart", "buy"], cs=str(24 * 3600))
    assert r.status_code == 200, r.text
    [element] = r.json()["data"]
    assert element["events"] == ["view", "cart", "buy"]
    assert element["groupValue"] == ""
    assert element["cumulativeRaw"] == [5, 4, 2]
    assert element["cumulative"] == pytest.approx([1.0, 0.8, 0.4])
    assert element["stepByStep"] == pytest.approx([1.0, 0.8, 0.5])
    assert element["avgTransTimes"][0] == 0 and element["avgTransTimes"][1] == round((4 * HOUR + 5 * 60_000) / 4)
    assert element["convertedUniqueCounts"] == {"0": 5, "1": 4, "2": 2}
    assert element["dropoffUniqueCounts"] == {"0": 1, "1": 2, "2": 0}
    assert element["dayFunnels"]["xValues"] == ["2024-05-01", "2024-05-02", "2024-05-03"]
    assert element["dayFunnels"]["series"] == [[3, 2, 1], [2, 2, 1], [0, 0, 0]]
    assert element["meta"] == {"segmentIndex": 0}


def test_modes_groups_and_window(client: TestClient, shop: dict[str, Any]) -> None:
    steps = ["view", "cart", "buy"]
    assert get(client, shop, steps, mode="sequential", cs="86400").json()["data"][0]["cumulativeRaw"] == [5, 3, 2]
    assert get(client, shop, steps, mode="unordered", cs="86400").json()["data"][0]["cumulativeRaw"] == [5, 5, 3]
    assert get(client, shop, steps, cs="86399").json()["data"][0]["cumulativeRaw"] == [5, 4, 1]
    grouped = get(client, shop, steps, cs="86400", g="platform").json()["data"]
    assert {e["groupValue"]: e["cumulativeRaw"] for e in grouped} == {"Web": [3, 2, 1], "iOS": [2, 2, 1]}
    assert [e["meta"]["segmentIndex"] for e in grouped] == [0, 1]


@pytest.mark.parametrize(
    ("steps", "params", "reason"),
    [
        ([], {}, "Missing required parameter: e"),
        (["view"], {"mode": "sideways"}, "Invalid mode"),
        (["view"], {"cs": "soon"}, "cs must be"),
    ],
)
def test_bad_input(
    client: TestClient,
    shop: dict[str, Any],
    steps: list[str],
    params: dict[str, str],
    reason: str,
) -> None:
    r = get(client, shop, steps, **params)
    assert r.status_code == 400 and reason in r.text


def test_twenty_steps_complete(client: TestClient, shop: dict[str, Any]) -> None:
    r = get(client, shop, ["view", "cart", "buy"] * 7, cs="86400")
    assert r.status_code == 200
    assert r.json()["data"][0]["cumulativeRaw"][:2] == [5, 4]
