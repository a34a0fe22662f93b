"""Saved charts: `/api/3/chart/{id}/query` and `/csv` for charts saved with Amplitude parameters or as
PostHog queries; both kinds give the same numbers as the Dashboard endpoints.

alice played on March 1st and 2nd (from Japan), bob01 played and then searched on the 2nd (France),
carol only searched, on the 1st.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.insights import InsightError, amplitude_definition, create_chart
from footfall.meta.models import Insight
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send

SPAN = {"start": "20240301", "end": "20240302"}
PLAY = {"event_type": "Play"}
SEARCH = {"event_type": "Search"}


def _auth(project: dict[str, Any]) -> tuple[str, str]:
    return project["api_key"], project["secret_key"]


@pytest.fixture(scope="module")
def music(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-01T10:00:00", "country": "Japan"},
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-02T10:00:00", "country": "Japan"},
            {"user_id": "bob01", "event_type": "Play", "time": "2024-03-02T11:00:00", "country": "France"},
            {"user_id": "bob01", "event_type": "Search", "time": "2024-03-02T11:30:00", "country": "France"},
            {"user_id": "carol", "event_type": "Search", "time": "2024-03-01T09:00:00", "country": "France"},
        ],
    )
    flush(runtime)
    return project


def chart(runtime: Runtime, project: dict[str, Any], **definition: Any) -> Insight:
    with runtime.meta.session() as session, session.begin():
        return create_chart(session, project["id"], "A chart", **definition)


def amplitude(runtime: Runtime, project: dict[str, Any], kind: str, **params: Any) -> str:
    return chart(runtime, project, amplitude=amplitude_definition(kind, params)).short_id


def posthog(runtime: Runtime, project: dict[str, Any], source: dict[str, Any]) -> str:
    return chart(runtime, project, query={"kind": "InsightVizNode", "source": source}).short_id


def query(client: TestClient, project: dict[str, Any], chart_id: Any, **params: str) -> Any:
    r = client.get(f"/api/3/chart/{chart_id}/query", params=params, auth=_auth(project))
    assert r.status_code == 200, r.text
    return r.json()


def table(client: TestClient, project: dict[str, Any], chart_id: Any) -> list[list[str]]:
    r = client.get(f"/api/3/chart/{chart_id}/csv", auth=_auth(project))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    return list(csv.reader(io.StringIO(r.text)))


def endpoint(client: TestClient, project: dict[str, Any], path: str, params: Any) -> Any:
    r = client.get(path, params=params, auth=_auth(project))
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_segmentation_chart(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    saved = chart(runtime, music, amplitude=amplitude_definition("segmentation", {"e": PLAY, **SPAN}))
    body = query(client, music, saved.short_id)
    assert {"data", "timeComputed", "wasCached", "cacheFreshness", "novaRuntime"} <= body.keys()
    data = body["data"]
    assert data["series"] == [[{"setId": "", "value": 1}, {"setId": "", "value": 2}]]
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 2}]]
    direct = endpoint(client, music, "/api/2/events/segmentation", {"e": json.dumps(PLAY), **SPAN})
    assert {**data, "series": [[p["value"] for p in s] for s in data["series"]]} == direct
    assert query(client, music, saved.id)["data"] == data  # the integer id works too
    assert table(client, music, saved.short_id) == [["Series", "2024-03-01", "2024-03-02"], ["Play", "1", "2"]]
    narrowed = query(client, music, saved.short_id, start="20240302", end="20240302")["data"]
    assert narrowed["xValues"] == ["2024-03-02"] and narrowed["series"] == [[{"setId": "", "value": 2}]]


def test_grouped_totals_and_default_range(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    grouped = amplitude(runtime, music, "segmentation", e=PLAY, m="totals", g="country", **SPAN)
    assert query(client, music, grouped)["data"]["seriesLabels"] == [[0, "Japan"], [0, "France"]]
    assert table(client, music, grouped)[1:] == [["Play; Japan", "1", "1"], ["Play; France", "0", "1"]]
    undated = amplitude(runtime, music, "segmentation", e=PLAY)
    data = query(client, music, undated)["data"]
    today = dt.datetime.now(zoneinfo.ZoneInfo("UTC")).date()
    assert len(data["xValues"]) == 30 and data["xValues"][-1] == today.isoformat()
    assert data["seriesCollapsed"] == [[{"setId": "", "value": 0}]]  # the plays were in 2024


def test_funnel_and_retention_charts(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    funnel = amplitude(runtime, music, "funnels", e=[PLAY, SEARCH], cs="86400", **SPAN)
    [group] = query(client, music, funnel)["data"]
    steps = [("e", json.dumps(PLAY)), ("e", json.dumps(SEARCH)), ("cs", "86400"), *SPAN.items()]
    [direct] = endpoint(client, music, "/api/2/funnels", steps)
    assert group["cumulativeRaw"] == direct["cumulativeRaw"] == [2, 1]
    assert table(client, music, funnel) == [
        ["Group", "Step", "Event", "Users", "Conversion"],
        ["All", "1", "Play", "2", "1.0"],
        ["All", "2", "Search", "1", "0.5"],
    ]
    kept = amplitude(runtime, music, "retention", se=PLAY, re=PLAY, start="20240301", end="20240303")
    data = query(client, music, kept)["data"]
    assert [c["count"] for c in data["series"][0]["combined"][:3]] == [2, 2, 1]  # alice and bob; both; alice
    rows = table(client, music, kept)
    assert rows[0][:5] == ["Group", "Cohort", "Users", "Period 0", "Period 1"]
    assert rows[1][:5] == ["All", "Mar 01", "1", "1", "1"]  # alice came back the next day
    assert rows[-1][:4] == ["All", "All", "2", "2"]


def test_posthog_insights_give_the_same_numbers(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    dates = {"date_from": "2024-03-01", "date_to": "2024-03-02"}
    trends = posthog(
        runtime,
        music,
        {"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "Play", "math": "dau"}], "dateRange": dates},
    )
    data = query(client, music, trends)["data"]
    assert data["series"] == [[{"setId": "", "value": 1}, {"setId": "", "value": 2}]]
    assert data["xValues"] == ["2024-03-01", "2024-03-02"]
    assert table(client, music, trends) == [["Series", "2024-03-01", "2024-03-02"], ["Play", "1", "2"]]
    nodes = [{"kind": "EventsNode", "event": "Play"}, {"kind": "EventsNode", "event": "Search"}]
    funnel = posthog(
        runtime,
        music,
        {"kind": "FunnelsQuery", "series": nodes, "dateRange": dates, "funnelsFilter": {"funnelWindowInterval": 1}},
    )
    [group] = query(client, music, funnel)["data"]
    assert group["cumulativeRaw"] == [2, 1] and group["events"] == ["Play", "Search"]
    retention = posthog(
        runtime,
        music,
        {
            "kind": "RetentionQuery",
            "dateRange": {"date_from": "2024-03-01", "date_to": "2024-03-03"},
            "retentionFilter": {
                "period": "Day",
                "totalIntervals": 3,
                "retentionType": "retention_first_time",
                "targetEntity": {"id": "Play", "type": "events"},
                "returningEntity": {"id": "Play", "type": "events"},
            },
        },
    )
    series = query(client, music, retention)["data"]["series"][0]
    assert series["values"]["Mar 01"][:3] == [
        {"count": 1, "outof": 1, "incomplete": False},
        {"count": 1, "outof": 1, "incomplete": False},
        {"count": 1, "outof": 1, "incomplete": False},
    ]  # alice: size 1, back on day 0 and day 1
    moved = query(client, music, trends, start="20240302", end="20240302")["data"]
    assert moved["series"] == [[{"setId": "", "value": 2}]]


def test_charts_with_cohort_segments(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    upload = {"name": "Bob", "id_type": "BY_USER_ID", "ids": ["bob01"]}
    cohort = client.post("/api/3/cohorts/upload", json=upload, auth=_auth(music)).json()["cohortId"]
    segment = json.dumps([{"prop": "userdata_cohort", "op": "is", "values": [cohort]}])
    saved = amplitude(runtime, music, "segmentation", e=PLAY, s=segment, **SPAN)
    assert query(client, music, saved)["data"]["series"] == [[{"setId": "", "value": 0}, {"setId": "", "value": 1}]]
    source = {
        "kind": "TrendsQuery",
        "series": [{"kind": "EventsNode", "event": "Play", "math": "dau"}],
        "dateRange": {"date_from": "2024-03-01", "date_to": "2024-03-02"},
        "properties": [{"type": "cohort", "key": "id", "value": int(cohort), "operator": "not_in"}],
    }
    assert query(client, music, posthog(runtime, music, source))["data"]["seriesCollapsed"] == [
        [{"setId": "", "value": 1}]
    ]  # alice


def test_bad_charts_are_400s(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    auth = _auth(music)
    lifecycle = posthog(runtime, music, {"kind": "LifecycleQuery", "series": [{"kind": "EventsNode", "event": "Play"}]})
    bogus = amplitude(runtime, music, "segmentation", e=PLAY, m="bogus", **SPAN)
    unknown_event = amplitude(runtime, music, "segmentation", e={"event_type": "Nope"}, **SPAN)
    formula = posthog(
        runtime,
        music,
        {"kind": "TrendsQuery", "series": [{"event": "Play"}], "trendsFilter": {"formula": "A*2"}},
    )
    bad_math = posthog(runtime, music, {"kind": "TrendsQuery", "series": [{"event": "Play", "math": "hogql"}]})
    good = amplitude(runtime, music, "segmentation", e=PLAY, **SPAN)
    for chart_id, params, reason in (
        (lifecycle, {}, "has no Amplitude form"),
        (bogus, {}, "Unknown metric: bogus"),
        (unknown_event, {}, "Unknown event type: Nope"),
        (formula, {}, "Formula and comparison"),
        (bad_math, {}, "unsupported math"),
        (good, {"start": "yesterday"}, "Invalid date for start"),
        (good, {"start": "20240305", "end": "20240301"}, "End date is before start date"),
    ):
        for kind in ("query", "csv"):
            r = client.get(f"/api/3/chart/{chart_id}/{kind}", params=params, auth=auth)
            assert r.status_code == 400 and r.text.startswith("HTTP 400: Bad Request (") and reason in r.text, (
                chart_id,
                r.text,
            )
    for missing in ("nochart1", "0", "123456789012345678901234567890"):
        assert client.get(f"/api/3/chart/{missing}/query", auth=auth).status_code == 404
    with runtime.meta.session() as session, session.begin():
        gone = create_chart(session, music["id"], "Gone", amplitude=amplitude_definition("segmentation", {"e": PLAY}))
        gone.deleted = True
    assert client.get(f"/api/3/chart/{gone.short_id}/csv", auth=auth).status_code == 404


def test_create_chart_checks_its_definition(runtime: Runtime, music: dict[str, Any]) -> None:
    with pytest.raises(InsightError):
        amplitude_definition("pie", {})
    for definition in (
        {},
        {"amplitude": {"chart": "pie", "params": {}}},
        {"query": {"kind": "SomethingQuery"}},
        {"amplitude": amplitude_definition("funnels", {"e": [PLAY]}), "query": {"kind": "TrendsQuery"}},
    ):
        with runtime.meta.session() as session, session.begin(), pytest.raises(InsightError):
            create_chart(session, music["id"], "Bad", **definition)
    saved = chart(runtime, music, query={"kind": "TrendsQuery", "series": []})  # a bare source is wrapped
    assert saved.query == {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": []}}
    assert saved.kind == "TrendsQuery" and not saved.short_id.isdigit() and len(saved.short_id) == 8


def test_auth_and_tenancy(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    saved = chart(runtime, music, amplitude=amplitude_definition("segmentation", {"e": PLAY, **SPAN}))
    theirs = _auth(new_project(runtime, "UTC"))
    for ref in (saved.short_id, saved.id):
        for kind in ("query", "csv"):
            assert client.get(f"/api/3/chart/{ref}/{kind}").status_code == 401
            assert client.get(f"/api/3/chart/{ref}/{kind}", auth=theirs).status_code == 404
    assert client.get(f"/api/3/chart/{saved.short_id}/query", auth=_auth(music)).status_code == 200
