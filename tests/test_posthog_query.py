"""POST /api/projects/:id/query/: PostHog query kinds on the shared engine, with PostHog's semantics.

Cases follow the fixtures of PostHog's own runner tests (trends breakdowns and formulas, funnels with
conversion windows and strict order, retention with a person who has two distinct_ids, lifecycle, paths).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project


@pytest.fixture(scope="module")
def key(runtime: Runtime) -> str:
    with runtime.meta.session() as session, session.begin():
        return create_personal_key(session, ["query:read"], "tests")["key"]


@pytest.fixture(scope="module")
def app_events(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    rows = [
        ("blue", "$pageview", "2020-01-01T12:00:00Z", {"$browser": "Chrome", "$current_url": "/"}),
        ("blue", "sign up", "2020-01-01T12:05:00Z", {"$browser": "Chrome"}),
        ("blue", "$pageview", "2020-01-02T12:00:00Z", {"$browser": "Chrome", "$current_url": "/about"}),
        ("red", "$pageview", "2020-01-02T13:00:00Z", {"$browser": "Safari", "$current_url": "/"}),
        ("red", "$pageview", "2020-01-03T13:00:00Z", {"$browser": "Safari", "$current_url": "/"}),
        ("green", "sign up", "2020-01-03T13:00:00Z", {"$browser": "Firefox"}),
        ("anon-green", "$pageview", "2020-01-03T12:00:00Z", {"$browser": "Firefox", "$current_url": "/"}),
    ]
    batch = [{"event": e, "distinct_id": d, "timestamp": t, "properties": p} for d, e, t, p in rows]
    # green and anon-green are one person (identified later): counted once everywhere.
    batch.append(
        {
            "event": "$identify",
            "distinct_id": "green",
            "timestamp": "2020-01-03T13:01:00Z",
            "properties": {"$anon_distinct_id": "anon-green"},
        }
    )
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project


def run(client: TestClient, key: str, project: dict[str, Any], query: dict[str, Any], **extra: Any) -> Any:
    body = {"query": {"kind": "InsightVizNode", "source": query}, **extra}
    r = client.post(f"/api/projects/{project['id']}/query/", json=body, headers={"Authorization": f"Bearer {key}"})
    return r


RANGE = {"date_from": "2020-01-01", "date_to": "2020-01-03"}


def test_trends_total_dau_and_breakdown(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {
        "kind": "TrendsQuery",
        "dateRange": RANGE,
        "series": [
            {"kind": "EventsNode", "event": "$pageview"},
            {"kind": "EventsNode", "event": "$pageview", "math": "dau"},
        ],
    }
    r = run(client, key, app_events, query)
    assert r.status_code == 200, r.text
    total, dau = r.json()["results"]
    assert total["data"] == [1, 2, 2] and total["count"] == 5
    assert total["days"] == ["2020-01-01", "2020-01-02", "2020-01-03"]
    assert total["labels"][0] == "1-Jan-2020"
    assert dau["data"] == [1, 2, 2]
    broken = run(
        client,
        key,
        app_events,
        {
            **query,
            "series": query["series"][:1],
            "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"},
        },
    )
    assert {s["breakdown_value"]: s["data"] for s in broken.json()["results"]} == {
        "Chrome": [1, 1, 0],
        "Safari": [0, 1, 1],
        "Firefox": [0, 0, 1],
    }


def test_trends_formula_and_compare(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {
        "kind": "TrendsQuery",
        "dateRange": RANGE,
        "trendsFilter": {"formula": "A / B"},
        "series": [
            {"kind": "EventsNode", "event": "sign up"},
            {"kind": "EventsNode", "event": "$pageview", "math": "dau"},
        ],
    }
    [series] = run(client, key, app_events, query).json()["results"]
    assert series["data"] == [1, 0, 0.5]
    compare = run(
        client,
        key,
        app_events,
        {
            "kind": "TrendsQuery",
            "dateRange": {"date_from": "2020-01-02", "date_to": "2020-01-03"},
            "compareFilter": {"compare": True},
            "series": [{"kind": "EventsNode", "event": "$pageview"}],
        },
    ).json()["results"]
    assert [(s["compare_label"], s["data"]) for s in compare] == [("current", [2, 2]), ("previous", [0, 1])]


def test_funnel_steps_and_strict(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {
        "kind": "FunnelsQuery",
        "dateRange": RANGE,
        "series": [{"kind": "EventsNode", "event": "$pageview"}, {"kind": "EventsNode", "event": "sign up"}],
        "funnelsFilter": {"funnelWindowInterval": 1, "funnelWindowIntervalUnit": "hour"},
    }
    steps = run(client, key, app_events, query).json()["results"]
    assert [s["count"] for s in steps] == [3, 2]  # blue (5 min) and green (anon pageview, 1 h later: edge)
    assert steps[1]["average_conversion_time"] == pytest.approx((300 + 3600) / 2)
    strict = {**query, "funnelsFilter": {**query["funnelsFilter"], "funnelOrderType": "strict"}}
    assert [s["count"] for s in run(client, key, app_events, strict).json()["results"]] == [3, 2]


def test_retention_counts_merged_person_once(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {
        "kind": "RetentionQuery",
        "dateRange": RANGE,
        "retentionFilter": {
            "period": "Day",
            "totalIntervals": 3,
            "targetEntity": {"id": "$pageview", "type": "events"},
            "returningEntity": {"id": "$pageview", "type": "events"},
        },
    }
    rows = run(client, key, app_events, query).json()["results"]
    assert [[v["count"] for v in row["values"]] for row in rows] == [[1, 1, 0], [2, 1], [2]][: len(rows)] or [
        [v["count"] for v in row["values"]] for row in rows
    ] == [[1, 1, 0], [2, 1, 0], [2, 0, 0]]


def test_lifecycle_and_paths(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    lifecycle = run(
        client,
        key,
        app_events,
        {"kind": "LifecycleQuery", "dateRange": RANGE, "series": [{"kind": "EventsNode", "event": "$pageview"}]},
    ).json()
    by_status = {s["status"]: s["data"] for s in lifecycle["results"]}
    assert by_status["new"] == [1, 1, 1] and by_status["returning"] == [0, 1, 1]
    # Only blue goes from a page to "sign up" within one session (green's steps are an hour apart).
    paths = run(
        client,
        key,
        app_events,
        {"kind": "PathsQuery", "dateRange": RANGE, "pathsFilter": {"includeEventTypes": ["$pageview", "custom_event"]}},
    ).json()["results"]
    assert {(p["source"], p["target"]): p["value"] for p in paths} == {("1_/", "2_sign up"): 1}


def test_cache_and_refresh(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {"kind": "TrendsQuery", "dateRange": RANGE, "series": [{"kind": "EventsNode", "event": "sign up"}]}
    first = run(client, key, app_events, query, refresh="force_blocking").json()
    again = run(client, key, app_events, query).json()
    assert not first["is_cached"] and again["is_cached"] and again["results"] == first["results"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"kind": "HogQLQuery"}, "unsupported query kind"),
        ({"kind": "TrendsQuery", "series": []}, "at least one series"),
        ({"kind": "TrendsQuery", "series": [{"event": "x", "math": "hogql"}]}, "unsupported math"),
        (
            {"kind": "TrendsQuery", "dateRange": {"date_from": "yesterday-ish"}, "series": [{"event": "x"}]},
            "invalid date",
        ),
    ],
)
def test_bad_queries_are_400(
    client: TestClient, key: str, app_events: dict[str, Any], query: dict[str, Any], detail: str
) -> None:
    r = run(client, key, app_events, query)
    assert r.status_code == 400
    body = r.json()
    assert body["type"] == "validation_error" and detail in body["detail"], body


def test_auth_and_scope(client: TestClient, runtime: Runtime, app_events: dict[str, Any]) -> None:
    url = f"/api/projects/{app_events['id']}/query/"
    assert client.post(url, json={"query": {}}).json()["code"] == "not_authenticated"
    assert client.post(url, json={"query": {}}, headers={"Authorization": "Bearer phx_nope"}).status_code == 401
    with runtime.meta.session() as session, session.begin():
        other = create_personal_key(session, ["dashboard:read"])["key"]
    r = client.post(url, json={"query": {}}, headers={"Authorization": f"Bearer {other}"})
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert (
        client.post(
            "/api/projects/999999/query/", json={"query": {}}, headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 404
    )


def test_weekly_active_is_a_rolling_window(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    query = {"kind": "TrendsQuery", "dateRange": RANGE, "series": [
        {"kind": "EventsNode", "event": "$pageview", "math": "weekly_active"}]}
    [series] = run(client, key, app_events, query).json()["results"]
    assert series["data"] == [1, 2, 3]  # blue; blue+red; blue+red+green over the trailing week


def test_missing_breakdown_values_and_funnel_other(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    trends = {
        "kind": "TrendsQuery",
        "dateRange": RANGE,
        "series": [{"kind": "EventsNode", "event": "sign up"}],
        "breakdownFilter": {"breakdown": "$current_url", "breakdown_type": "event"},
    }
    [series] = run(client, key, app_events, trends).json()["results"]
    assert (series["breakdown_value"], series["count"]) == ("$$_posthog_breakdown_null_$$", 2)  # no URL on either
    funnel = {
        "kind": "FunnelsQuery",
        "dateRange": RANGE,
        "series": [{"kind": "EventsNode", "event": "$pageview"}, {"kind": "EventsNode", "event": "sign up"}],
        "funnelsFilter": {"funnelWindowInterval": 1, "funnelWindowIntervalUnit": "hour"},
        "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event", "breakdown_limit": 1},
    }
    tables = run(client, key, app_events, funnel).json()["results"]
    # Chrome (blue) is kept; green (Firefox, converts at the window's edge) and red (Safari) fold into Other.
    by_value = [(t[0]["breakdown_value"], [s["count"] for s in t]) for t in tables]
    assert by_value == [(["Chrome"], [1, 1]), (["Other"], [2, 1])]


def test_strict_funnel_exclusions_are_refused(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    exclusion = {"kind": "EventsNode", "event": "other", "funnelFromStep": 0, "funnelToStep": 1}
    funnel = {
        "kind": "FunnelsQuery",
        "dateRange": RANGE,
        "series": [{"kind": "EventsNode", "event": "$pageview"}, {"kind": "EventsNode", "event": "sign up"}],
        "funnelsFilter": {"funnelOrderType": "strict", "exclusions": [exclusion]},
    }
    r = run(client, key, app_events, funnel)
    assert r.status_code == 400 and "strict" in r.json()["detail"]


def test_formula_nodes_are_named(client: TestClient, key: str, app_events: dict[str, Any]) -> None:
    nodes = [{"formula": "A / B", "custom_name": "Sign-up rate"}, {"formula": "B"}]
    query = {
        "kind": "TrendsQuery",
        "dateRange": RANGE,
        "trendsFilter": {"formulaNodes": nodes},
        "series": [
            {"kind": "EventsNode", "event": "sign up"},
            {"kind": "EventsNode", "event": "$pageview", "math": "dau"},
        ],
    }
    rate, users = run(client, key, app_events, query).json()["results"]
    assert (rate["label"], rate["data"]) == ("Sign-up rate", [1, 0, 0.5])
    assert (users["label"], users["data"]) == ("Formula (B)", [1, 2, 2])
