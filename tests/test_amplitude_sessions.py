"""GET /api/2/sessions/length, /average, /peruser: sessions per person and key, dated by their first event,
lengths capped at a day, identity operations left out, merged persons counted once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send


def _session(user: dict[str, str], session_id: int, *times: str, event: str = "Play") -> list[dict[str, Any]]:
    return [{**user, "event_type": event, "session_id": session_id, "time": t} for t in times]


@pytest.fixture(scope="module")
def visits(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    alice, bob, carol = {"user_id": "alice"}, {"user_id": "bob01"}, {"user_id": "carol"}
    events = [
        *_session(alice, 1001, "2024-03-01T10:00:00", "2024-03-01T10:00:02"),  # 2 s
        *_session(alice, 1001, "2024-03-01T10:00:50", event="$identify"),  # not an event of the session
        *_session(alice, 1002, "2024-03-01T12:00:00", "2024-03-01T12:05:00"),  # 300 s
        *_session(bob, 2001, "2024-03-01T23:59:00", "2024-03-02T00:00:40"),  # 100 s, dated March 1st
        *_session(bob, 2002, "2024-03-02T09:00:00", "2024-03-02T09:00:20"),  # 20 s
        *_session(carol, 3001, "2024-03-02T08:00:00", "2024-03-03T10:00:00"),  # 26 h: counts as one day
        {"user_id": "dave1", "event_type": "Play", "time": "2024-03-02T11:00:00"},  # active, no session
        # Started before the range: not a session of the range (eve is still active on March 1st).
        *_session({"user_id": "eve01"}, 5001, "2024-02-29T23:00:00", "2024-03-01T00:30:00"),
        # One session across a merge: the device's events, then the same device signed in as frank.
        *_session({"device_id": "dev-frank"}, 6001, "2024-03-02T10:00:00"),
        *_session({"device_id": "dev-frank", "user_id": "frank"}, 6001, "2024-03-02T10:01:00"),  # 60 s
    ]
    send(client, project, events)
    flush(runtime)
    return project


def get(client: TestClient, project: dict[str, Any], path: str, **params: Any) -> Any:
    query = {
        "start": "20240301",
        "end": "20240302",
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()},
    }
    return client.get(f"/api/2/sessions/{path}", params=query, auth=(project["api_key"], project["secret_key"]))


def test_length_distribution_in_default_bins(client: TestClient, visits: dict[str, Any]) -> None:
    r = get(client, visits, "length")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["xValues"] == [
        "0s-3s",
        "3s-10s",
        "10s-30s",
        "30s-60s",
        "60s-180s",
        "180s-600s",
        "600s-1800s",
        "1800s-3600s",
        "3600s-86400s",
    ]
    # 2 s | 20 s | 100 s, 60 s | 300 s | carol's capped day, in the last bin
    assert data["series"] == [[1, 0, 1, 0, 2, 1, 0, 0, 1]]


@pytest.mark.parametrize(
    ("bins", "labels", "counts"),
    [
        (  # sized bins: carol's day is past the last one
            {"Min": "0", "Max": "10", "Size": "2"},
            ["0s-120s", "120s-240s", "240s-360s", "360s-480s", "480s-600s"],
            [4, 0, 1, 0, 0],
        ),
        (  # no size: ten bins, as Amplitude's 0-10 minutes example
            {"Min": "0", "Max": "10"},
            [f"{60 * i}s-{60 * (i + 1)}s" for i in range(10)],
            [2, 2, 0, 0, 0, 1, 0, 0, 0, 0],
        ),
    ],
)
def test_custom_bins(
    client: TestClient, visits: dict[str, Any], bins: dict[str, str], labels: list[str], counts: list[int]
) -> None:
    query = {f"timeHistogramConfigBin{k}": v for k, v in bins.items()}
    data = get(client, visits, "length", timeHistogramConfigBinTimeUnit="minutes", **query).json()["data"]
    assert data["xValues"] == labels
    assert data["series"] == [counts]


@pytest.mark.parametrize(
    "bins",
    [
        {"TimeUnit": "minutes", "Min": "10", "Max": "5"},
        {"TimeUnit": "fortnights", "Min": "0", "Max": "5"},
        {"TimeUnit": "minutes", "Min": "0"},
        {"TimeUnit": "seconds", "Min": "0", "Max": "86400", "Size": "1"},  # too many bins
        {"TimeUnit": "minutes", "Min": "zero", "Max": "5"},
    ],
)
def test_invalid_bins_fall_back_to_the_default_ones(
    client: TestClient, visits: dict[str, Any], bins: dict[str, str]
) -> None:
    """Amplitude's doc: invalid or missing timeHistogramConfigBin parameters give the default bins."""
    query = {f"timeHistogramConfigBin{k}": v for k, v in bins.items()}
    data = get(client, visits, "length", **query).json()["data"]
    assert data["series"] == [[1, 0, 1, 0, 2, 1, 0, 0, 1]]


def test_average_length_per_day(client: TestClient, visits: dict[str, Any]) -> None:
    data = get(client, visits, "average").json()["data"]
    assert data["xValues"] == ["2024-03-01", "2024-03-02"]
    assert data["seriesMeta"] == [{"segmentIndex": 0}]
    # Day 1: 2, 300, 100 s. Day 2: 20 s, carol's 86,400 s, frank's 60 s.
    assert data["series"] == [[134, pytest.approx(86480 / 3)]]
    series = dict(zip(data["xValues"], data["series"][0], strict=True))  # how Airbyte reads it
    assert series["2024-03-01"] == 134


def test_sessions_per_active_user(client: TestClient, visits: dict[str, Any]) -> None:
    data = get(client, visits, "peruser").json()["data"]
    # Day 1: 3 sessions over alice, bob, eve. Day 2: 3 sessions over bob, carol, dave, frank (merged once).
    assert data["series"] == [[1, 0.75]]
    assert data["xValues"] == ["2024-03-01", "2024-03-02"]


def test_weekly_interval_and_segment(client: TestClient, visits: dict[str, Any]) -> None:
    weekly = get(client, visits, "peruser", i="7").json()["data"]
    assert weekly["xValues"] == ["2024-02-25"]  # the week (from Sunday) holding both days
    assert weekly["series"] == [[1]]  # 6 sessions, 6 users
    bob_only = [{"prop": "user_id", "op": "is", "values": ["bob01"]}]
    assert get(client, visits, "average", s=bob_only).json()["data"]["series"] == [[100, 20]]


@pytest.mark.parametrize(
    ("path", "params", "reason"),
    [
        ("length", {"start": ""}, "Missing required parameter: start"),
        ("average", {"end": "2024-03-02"}, "Invalid date for end"),
        ("peruser", {"start": "20240305"}, "End date is before start date"),
        ("average", {"i": "-300000"}, "intervals 1, 7 or 30"),
        ("length", {"s": "[{"}, "Invalid JSON in parameter s"),
        ("peruser", {"i": "3"}, "Invalid interval: 3"),
    ],
)
def test_bad_input_is_amplitude_400(
    client: TestClient, visits: dict[str, Any], path: str, params: dict[str, str], reason: str
) -> None:
    r = get(client, visits, path, **params)
    assert r.status_code == 400
    assert r.text.startswith("HTTP 400: Bad Request (") and reason in r.text


@pytest.mark.parametrize("path", ["length", "average", "peruser"])
def test_auth_required(client: TestClient, visits: dict[str, Any], path: str) -> None:
    r = client.get(f"/api/2/sessions/{path}", params={"start": "20240301", "end": "20240302"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    assert get(client, {"api_key": visits["api_key"], "secret_key": "nope"}, path).status_code == 401
