"""GET /api/2/funnels: counts, ratios, times and the per-group element real clients read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.datasets import HOUR
from tests.test_query_trends import send


def get(client: TestClient, project: dict[str, Any], steps: list[str], **params: Any) -> Any:
    query: list[tuple[str, str]] = [("start", params.pop("start", "20240501")), ("end", "20240503")]
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


@pytest.fixture(scope="module")
def newcomers(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """old01 and dan01 (an anonymous device, then signed in: one person) were first seen in April; new01 and
    new02 in the range. Everyone but new02 views, then carts, on May 1st or 2nd."""
    project = new_project(runtime, "UTC")
    events = [
        {"user_id": "old01", "event_type": "open", "time": "2024-04-20T10:00:00"},
        {"device_id": "dan-device-1", "event_type": "open", "time": "2024-04-25T10:00:00"},
        {"user_id": "dan01", "device_id": "dan-device-1", "event_type": "view", "time": "2024-05-01T09:00:00"},
        {"user_id": "dan01", "event_type": "cart", "time": "2024-05-01T09:30:00"},
    ]
    for user, day in (("old01", "01"), ("new01", "01"), ("new02", "02")):
        events.append({"user_id": user, "event_type": "view", "time": f"2024-05-{day}T10:00:00"})
    for user in ("old01", "new01"):
        events.append({"user_id": user, "event_type": "cart", "time": "2024-05-01T12:00:00"})
    send(client, project, events)
    flush(runtime)
    return project


def test_new_users_funnel(client: TestClient, newcomers: dict[str, Any]) -> None:
    active = get(client, newcomers, ["view", "cart"]).json()["data"][0]
    assert active["cumulativeRaw"] == [4, 3]
    new = get(client, newcomers, ["view", "cart"], n="new").json()["data"][0]
    assert new["cumulativeRaw"] == [2, 1]  # new01 carted, new02 did not; dan01 counts from his April device
    assert new["dayFunnels"]["series"] == [[1, 1], [1, 0], [0, 0]]
    # new since May 2nd: new02 alone (the others' first events were before)
    later = get(client, newcomers, ["view", "cart"], n="new", start="20240502").json()["data"][0]
    assert later["cumulativeRaw"] == [1, 0]


@pytest.mark.parametrize(
    ("steps", "params", "reason"),
    [
        ([], {}, "Missing required parameter: e"),
        (["view"], {"mode": "sideways"}, "Invalid mode"),
        (["view"], {"cs": "soon"}, "cs must be"),
        (["view"], {"n": "returning"}, "Invalid n: returning"),
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
