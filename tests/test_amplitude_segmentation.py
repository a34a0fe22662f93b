"""GET /api/2/events/segmentation: exact numbers and the response shapes real clients parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.histogram import bin_width
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send


@pytest.fixture(scope="module")
def music(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    send(
        client,
        project,
        [
            {
                "user_id": "alice",
                "event_type": "Play",
                "time": "2024-03-01T10:00:00",
                "country": "Japan",
                "event_properties": {"seconds": 30},
            },
            {
                "user_id": "alice",
                "event_type": "Play",
                "time": "2024-03-01T11:00:00",
                "country": "Japan",
                "event_properties": {"seconds": 10},
            },
            {
                "user_id": "bob01",
                "event_type": "Play",
                "time": "2024-03-02T10:00:00",
                "country": "France",
                "event_properties": {"seconds": 5},
            },
            {"user_id": "bob01", "event_type": "Search", "time": "2024-03-02T09:00:00", "country": "France"},
            {"user_id": "carol", "event_type": "Search", "time": "2024-03-02T09:00:00", "country": "France"},
        ],
    )
    flush(runtime)
    return project


def get(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    query = {
        "start": "20240301",
        "end": "20240302",
        **{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in params.items()},
    }
    return client.get("/api/2/events/segmentation", params=query, auth=(project["api_key"], project["secret_key"]))


def test_uniques_shape_without_group_by(client: TestClient, music: dict[str, Any]) -> None:
    r = get(client, music, e={"event_type": "Play"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["xValues"] == ["2024-03-01", "2024-03-02"]
    assert data["series"] == [[1, 1]]
    assert data["seriesLabels"] == [0]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 2}]]
    assert data["seriesMeta"] == [{"segmentIndex": 0, "eventIndex": 0}]


def test_totals_grouped_by_country_with_limit(client: TestClient, music: dict[str, Any]) -> None:
    data = get(client, music, e={"event_type": "Play"}, m="totals", g="country").json()["data"]
    assert data["seriesLabels"] == [[0, "Japan"], [0, "France"]]
    assert data["series"] == [[2, 0], [0, 1]]
    limited = get(client, music, e={"event_type": "Play"}, m="totals", g="country", limit="1").json()["data"]
    assert limited["seriesLabels"] == [[0, "Japan"]]


def test_event_filter_sums_and_average(client: TestClient, music: dict[str, Any]) -> None:
    long_plays = {
        "event_type": "Play",
        "filters": [
            {"subprop_type": "event", "subprop_key": "seconds", "subprop_op": "greater", "subprop_value": ["8"]}
        ],
    }
    assert get(client, music, e=long_plays, m="totals").json()["data"]["series"] == [[2, 0]]
    sums = {"event_type": "Play", "group_by": [{"type": "event", "value": "seconds"}]}
    assert get(client, music, e=sums, m="sums").json()["data"]["series"] == [[40, 5]]
    assert get(client, music, e={"event_type": "Play"}, m="average").json()["data"]["series"] == [[2, 1]]


def test_two_events_formula_and_pct_dau(client: TestClient, music: dict[str, Any]) -> None:
    both = get(client, music, e={"event_type": "Play"}, e2={"event_type": "Search"}).json()["data"]
    assert both["series"] == [[1, 1], [0, 2]] and both["seriesLabels"] == [0, 1]
    ratio = get(
        client,
        music,
        e={"event_type": "Play"},
        e2={"event_type": "Search"},
        m="formula",
        formula="TOTALS(A)/UNIQUES(B)",
    ).json()["data"]
    assert ratio["series"] == [[0, 0.5]]  # 2 plays / 0 searchers is 0 on day one
    assert ratio["seriesMeta"] == [{"segmentIndex": 0, "formulaIndex": 0, "formula": "TOTALS(A)/UNIQUES(B)"}]
    pct = get(client, music, e={"event_type": "Play"}, m="pct_dau").json()["data"]
    assert pct["series"] == [[100, pytest.approx(100 / 2)]]  # day two: bob of bob+carol


def test_segment_on_user_property(client: TestClient, music: dict[str, Any]) -> None:
    segment = [{"prop": "country", "op": "is", "values": ["France"]}]
    assert get(client, music, e={"event_type": "_all"}, s=segment).json()["data"]["series"] == [[0, 2]]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"e": "{not json"}, "Invalid JSON in parameter e"),
        ({"e": {"event_type": "Play"}, "m": "bogus"}, "Unknown metric: bogus"),
        ({"e": {"event_type": "Play"}, "start": "20240305"}, "End date is before start date"),
        ({"e": {"event_type": "Play"}, "start": "20200101"}, "Time range exceeds maximum of 365 days"),
        ({"e": {"event_type": "Play"}, "i": "2"}, "Invalid interval: 2"),
        ({"e": {"event_type": "Play"}, "m": "formula", "formula": "UNIQUES(C)"}, "which is not given"),
        ({"e": {"event_type": "Play", "filters": [{"subprop_key": "x", "subprop_op": "near"}]}}, "Unknown filter"),
    ],
)
def test_bad_input_is_amplitude_400(
    client: TestClient, music: dict[str, Any], params: dict[str, Any], reason: str
) -> None:
    r = get(client, music, **params)
    assert r.status_code == 400
    assert r.text.startswith("HTTP 400: Bad Request (") and reason in r.text


def test_auth_required(client: TestClient, music: dict[str, Any]) -> None:
    r = client.get(
        "/api/2/events/segmentation", params={"e": '{"event_type":"Play"}', "start": "20240301", "end": "20240302"}
    )
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    other = (music["api_key"], "wrong-secret")
    assert client.get("/api/2/events/segmentation", auth=other).status_code == 401


def test_rolling_window_and_average(client: TestClient, music: dict[str, Any]) -> None:
    # Plays: alice on day 1, bob on day 2. A 2-day window counts both on day 2; totals sum.
    rolling = get(client, music, e={"event_type": "Play"}, rollingWindow="2").json()["data"]
    assert rolling["series"] == [[1, 2]]
    totals = get(client, music, e={"event_type": "Play"}, m="totals", rollingWindow="2").json()["data"]
    assert totals["series"] == [[2, 3]]
    smoothed = get(client, music, e={"event_type": "Play"}, m="totals", rollingAverage="2").json()["data"]
    assert smoothed["series"] == [[2, 1.5]]
    r = get(client, music, e={"event_type": "Play"}, rollingWindow="0")
    assert r.status_code == 400 and "rollingWindow must be between 1 and 366" in r.text


@pytest.fixture(scope="module")
def revenue(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Revenue as Amplitude SDKs and the HTTP API send it: `revenue`, or `price` × `quantity` (1 when absent)."""
    project = new_project(runtime, "UTC")
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Buy", "time": "2024-03-01T10:00:00", "revenue": 10},
            {"user_id": "alice", "event_type": "Buy", "time": "2024-03-01T11:00:00", "price": 5, "quantity": 2},
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-01T12:00:00"},
            # what the SDKs' revenue() sends
            {"user_id": "bob01", "event_type": "revenue_amount", "time": "2024-03-02T10:00:00", "price": 3},
            {"user_id": "carol", "event_type": "Refund", "time": "2024-03-02T11:00:00", "revenue": -1.5},
        ],
    )
    flush(runtime)
    return project


def test_revenue_pseudo_events(client: TestClient, revenue: dict[str, Any]) -> None:
    def series(event: str, **params: Any) -> Any:
        r = get(client, revenue, e={"event_type": event}, **params)
        assert r.status_code == 200, r.text
        return r.json()["data"]["series"]

    assert series("revenue_amount") == [[1, 2]]  # alice ; bob and carol (a refund is revenue too)
    assert series("revenue_amount", m="totals") == [[2, 2]]
    assert series("revenue_amount", m="sums") == [[20, 1.5]]  # 10 + 5 × 2 ; 3 - 1.5
    assert series("revenue_amount", m="value_avg") == [[10, 0.75]]
    # footfall verifies no app-store receipts: all revenue is unverified, none verified
    assert series("unverified_revenue", m="sums") == [[20, 1.5]]
    assert series("verified_revenue") == [[0, 0]] and series("verified_revenue", m="sums") == [[0, 0]]
    negative = {"subprop_type": "event", "subprop_key": "$revenue", "subprop_op": "less", "subprop_value": ["0"]}
    refunds = {"event_type": "revenue_amount", "filters": [negative]}
    assert get(client, revenue, e=refunds, m="sums").json()["data"]["series"] == [[0, -1.5]]
    by_event = get(client, revenue, e={"event_type": "revenue_amount"}, m="totals", g="user_id").json()["data"]
    assert by_event["seriesLabels"] == [[0, "alice"], [0, "bob01"], [0, "carol"]]


def test_histogram_of_a_property(client: TestClient, music: dict[str, Any]) -> None:
    seconds = {"event_type": "Play", "group_by": [{"type": "event", "value": "seconds"}]}
    data = get(client, music, e=seconds, m="histogram").json()["data"]
    # plays of 30 s and 10 s on day 1, 5 s on day 2: bins 5 wide, low edge inclusive
    assert data["seriesLabels"] == [[0, f"[{low}, {low + 5})"] for low in (5, 10, 15, 20, 25, 30)]
    assert data["series"] == [[0, 1], [1, 0], [0, 0], [0, 0], [0, 0], [1, 0]]
    assert [c[0]["value"] for c in data["seriesCollapsed"]] == [1, 1, 0, 0, 0, 1]
    assert data["xValues"] == ["2024-03-01", "2024-03-02"]


def test_histogram_of_counts_per_user(client: TestClient, music: dict[str, Any]) -> None:
    data = get(client, music, e={"event_type": "Play"}, m="histogram").json()["data"]
    assert data["seriesLabels"] == [[0, "[1, 2)"], [0, "[2, 3)"]]
    assert data["series"] == [[0, 1], [1, 0]]  # alice played twice on day 1, bob once on day 2
    assert [c[0]["value"] for c in data["seriesCollapsed"]] == [1, 1]
    for bad in ({"e2": {"event_type": "Search"}}, {"g": "country"}):
        r = get(client, music, e={"event_type": "Play"}, m="histogram", **bad)
        assert r.status_code == 400 and "Metric histogram takes one event and no g" in r.text


def test_histogram_of_revenue(client: TestClient, revenue: dict[str, Any]) -> None:
    data = get(client, revenue, e={"event_type": "revenue_amount"}, m="histogram").json()["data"]
    # 10 and 5 × 2 on day 1; 3 and a refund of -1.5 on day 2: bins 2 wide from -2
    assert [label for _, label in data["seriesLabels"]] == [f"[{lo}, {lo + 2})" for lo in range(-2, 12, 2)]
    assert data["series"] == [[0, 1], [0, 0], [0, 1], [0, 0], [0, 0], [0, 0], [2, 0]]


@pytest.mark.parametrize(
    ("low", "high", "whole", "width"),
    [
        (5, 30, False, 5),
        (1, 2, True, 1),
        (1, 1, True, 1),
        (0.1, 0.3, False, 0.05),
        (-1.5, 10, False, 2),
        (0, 999, True, 100),
    ],
)
def test_histogram_bins(low: float, high: float, whole: bool, width: float) -> None:
    mantissa, exponent = bin_width(low, high, 10, whole)
    assert mantissa * 10.0**exponent == pytest.approx(width)
