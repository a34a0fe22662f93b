"""Who is behind a number: PostHog's ActorsQuery and InsightActorsQuery on /query/, for every insight kind.

Each case asks for the persons behind one number of an insight and checks them by their distinct_ids; a
person merged from two distinct_ids (anon-green, identified as green) is one person everywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import new_project

RANGE = {"date_from": "2020-01-01", "date_to": "2020-01-03"}
PAGEVIEW = {"kind": "EventsNode", "event": "$pageview"}
SIGN_UP = {"kind": "EventsNode", "event": "sign up"}
BLUE, RED, GREEN = ("blue",), ("red",), ("anon-green", "green")


@pytest.fixture(scope="module")
def key(runtime: Runtime) -> str:
    with runtime.meta.session() as session, session.begin():
        return create_personal_key(session, ["query:read"], "tests")["key"]


def post(client: TestClient, key: str, project: dict[str, Any], query: dict[str, Any]) -> Any:
    return client.post(
        f"/api/projects/{project['id']}/query/", json={"query": query}, headers={"Authorization": f"Bearer {key}"}
    )


def persons(
    client: TestClient, key: str, project: dict[str, Any], source: dict[str, Any], extra: str | None = None
) -> dict[tuple[str, ...], Any]:
    """The persons behind `source` (an InsightActorsQuery), by distinct_ids, with the `extra` column's value."""
    select = ["person", extra] if extra else ["person"]
    r = post(client, key, project, {"kind": "ActorsQuery", "select": select, "source": source})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == select and not body["hasMore"]
    return {tuple(row[0]["distinct_ids"]): row[1] if extra else None for row in body["results"]}


def trends(**extra: Any) -> dict[str, Any]:
    return {"kind": "TrendsQuery", "dateRange": RANGE, "series": [PAGEVIEW], **extra}


def test_trends_persons_of_a_day_series_and_breakdown(
    client: TestClient, key: str, posthog_people: dict[str, Any]
) -> None:
    def who(**source: Any) -> dict[tuple[str, ...], Any]:
        query = {"kind": "InsightActorsQuery", "source": trends(), **source}
        return persons(client, key, posthog_people, query, "event_count")

    assert who(day="2020-01-01") == {BLUE: 1}
    assert who(day="2020-01-02") == {BLUE: 1, RED: 1}
    assert who(day="2020-01-03") == {RED: 1, GREEN: 1}  # green's pageview was sent as anon-green
    assert who() == {BLUE: 2, RED: 2, GREEN: 1}  # no day: the whole range, as a one-number display
    assert who(day="2020-01-03", compare="previous") == {}
    two_series = trends(series=[PAGEVIEW, SIGN_UP])
    assert persons(
        client, key, posthog_people, {"kind": "InsightActorsQuery", "source": two_series, "series": 1}, "event_count"
    ) == {BLUE: 1, GREEN: 1}
    broken = trends(breakdownFilter={"breakdown": "$browser", "breakdown_type": "event"})
    query = {"kind": "InsightActorsQuery", "source": broken, "day": "2020-01-02", "breakdown": "Safari"}
    assert persons(client, key, posthog_people, query, "event_count") == {RED: 1}
    weekly = trends(series=[{**PAGEVIEW, "math": "weekly_active"}])  # the 7 days ending at the bucket
    query = {"kind": "InsightActorsQuery", "source": weekly, "day": "2020-01-03"}
    assert persons(client, key, posthog_people, query, "event_count") == {BLUE: 2, RED: 2, GREEN: 1}


def test_trends_person_count_matches_the_chart(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    chart = post(client, key, posthog_people, trends(series=[{**PAGEVIEW, "math": "dau"}])).json()["results"][0]
    for day, value in zip(chart["days"], chart["data"], strict=True):
        assert (
            len(persons(client, key, posthog_people, {"kind": "InsightActorsQuery", "source": trends(), "day": day}))
            == value
        )


def test_insight_actors_query_alone_gives_the_ids(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    r = post(client, key, posthog_people, {"kind": "InsightActorsQuery", "source": trends(), "day": "2020-01-02"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["columns"] == ["actor_id", "event_count"] and len(body["results"]) == 2
    everyone = post(client, key, posthog_people, {"kind": "ActorsQuery", "select": ["id", "person"]}).json()["results"]
    ids = {row[0]: tuple(row[1]["distinct_ids"]) for row in everyone}
    assert {ids[actor_id] for actor_id, _ in body["results"]} == {BLUE, RED}


def funnel(**options: Any) -> dict[str, Any]:
    return {
        "kind": "FunnelsQuery",
        "dateRange": RANGE,
        "series": [PAGEVIEW, SIGN_UP],
        "funnelsFilter": {"funnelWindowInterval": 1, "funnelWindowIntervalUnit": "hour", **options},
    }


def test_funnel_persons_by_step_and_drop_off(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    def who(source: dict[str, Any] | None = None, **fields: Any) -> set[tuple[str, ...]]:
        query = {"kind": "FunnelsActorsQuery", "source": source or funnel(), **fields}
        return set(persons(client, key, posthog_people, query))

    assert who(funnelStep=1) == {BLUE, RED, GREEN}
    assert who(funnelStep=2) == {BLUE, GREEN}  # green converts at the window's edge, through anon-green
    assert who(funnelStep=-2) == {RED}
    broken = {**funnel(), "breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"}}
    assert who(broken, funnelStep=1, funnelStepBreakdown=["Safari"]) == {RED}
    assert who(broken, funnelStep=2, funnelStepBreakdown="Chrome") == {BLUE}
    # The step counts shown are the numbers of persons behind them.
    steps = post(client, key, posthog_people, funnel()).json()["results"]
    assert [s["count"] for s in steps] == [len(who(funnelStep=1)), len(who(funnelStep=2))]


def test_funnel_trends_persons(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    source = funnel(funnelVizType="trends")

    def who(day: str, drop_off: bool) -> set[tuple[str, ...]]:
        fields = {"funnelTrendsEntrancePeriodStart": f"{day} 00:00:00", "funnelTrendsDropOff": drop_off}
        return set(persons(client, key, posthog_people, {"kind": "FunnelsActorsQuery", "source": source, **fields}))

    assert who("2020-01-01", False) == {BLUE}
    assert who("2020-01-01", True) == set()
    assert who("2020-01-03", False) == {GREEN}
    assert who("2020-01-03", True) == {RED}


def test_retention_persons_of_a_cohort(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    source = {
        "kind": "RetentionQuery",
        "dateRange": RANGE,
        "retentionFilter": {"period": "Day", "totalIntervals": 3},
    }

    def who(interval: int) -> dict[tuple[str, ...], Any]:
        query = {"kind": "InsightActorsQuery", "source": source, "interval": interval}
        return persons(client, key, posthog_people, query, "appearances")

    assert who(0) == {BLUE: [0, 1]}  # blue came back on day 1
    assert who(1) == {BLUE: [0], RED: [0, 1]}
    assert who(2) == {RED: [0], GREEN: [0]}
    rows = post(client, key, posthog_people, source).json()["results"]
    for interval, row in enumerate(rows):  # the table's counts are the appearances of the cohort's persons
        appearances = list(who(interval).values())
        assert [v["count"] for v in row["values"]] == [
            sum(k in a for a in appearances) for k in range(len(row["values"]))
        ]


def test_lifecycle_persons_by_status(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    source = {"kind": "LifecycleQuery", "dateRange": RANGE, "series": [PAGEVIEW]}

    def who(day: str, status: str) -> set[tuple[str, ...]]:
        query = {"kind": "InsightActorsQuery", "source": source, "day": day, "status": status}
        return set(persons(client, key, posthog_people, query))

    assert who("2020-01-02", "new") == {RED}
    assert who("2020-01-02", "returning") == {BLUE}
    assert who("2020-01-03", "new") == {GREEN}
    assert who("2020-01-03", "returning") == {RED}
    assert who("2020-01-03", "dormant") == {BLUE}
    assert who("2020-01-03", "resurrecting") == set()
    chart = post(client, key, posthog_people, source).json()["results"]
    for series in chart:
        for day, value in zip(series["days"], series["data"], strict=True):
            assert len(who(day, series["status"])) == abs(value)


def test_stickiness_persons_by_intervals(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    source = {"kind": "StickinessQuery", "dateRange": RANGE, "series": [PAGEVIEW]}

    def who(day: int) -> dict[tuple[str, ...], Any]:
        query = {"kind": "InsightActorsQuery", "source": source, "day": day}
        return persons(client, key, posthog_people, query, "event_count")

    assert who(1) == {GREEN: 1}
    assert who(2) == {BLUE: 2, RED: 2}
    assert who(3) == {}


def test_actors_query_lists_searches_filters_and_pages(
    client: TestClient, key: str, posthog_people: dict[str, Any]
) -> None:
    select = ["person", "id", "created_at", "person_display_name -- Person", "properties.plan"]
    body = post(client, key, posthog_people, {"kind": "ActorsQuery", "select": select}).json()
    assert body["columns"] == select and body["limit"] == 100 and body["offset"] == 0
    rows = body["results"]
    # created_at selected: newest persons first (PostHog's default order)
    assert [tuple(r[0]["distinct_ids"]) for r in rows] == [GREEN, RED, BLUE]
    green = rows[0]
    assert green[0]["id"] == green[1] and green[0]["properties"] == {"name": "Green"}
    assert green[2] == "2020-01-03T12:00:00Z"  # the merged person was first seen as anon-green
    assert green[3] == {"display_name": "Green", "id": green[1]}
    assert [r[4] for r in rows] == [None, "free", "pro"]
    assert rows[2][0]["name"] == "blue@example.com" and rows[2][0]["is_identified"] is False

    def ids(**query: Any) -> list[tuple[str, ...]]:
        r = post(client, key, posthog_people, {"kind": "ActorsQuery", "select": ["person"], **query})
        assert r.status_code == 200, r.text
        return [tuple(row[0]["distinct_ids"]) for row in r.json()["results"]]

    assert ids(search="EXAMPLE.com", orderBy=["properties.email DESC"]) == [RED, BLUE]
    assert ids(search="anon-gr") == [GREEN]
    assert ids(properties=[{"key": "plan", "value": "pro", "operator": "exact", "type": "person"}]) == [BLUE]
    assert ids(orderBy=["person"]) == [BLUE, RED, GREEN]  # by email, persons without one last
    page = post(
        client,
        key,
        posthog_people,
        {"kind": "ActorsQuery", "select": ["person"], "orderBy": ["person"], "limit": 1, "offset": 1},
    ).json()
    assert [tuple(r[0]["distinct_ids"]) for r in page["results"]] == [RED] and page["hasMore"]
    default = post(client, key, posthog_people, {"kind": "ActorsQuery"}).json()
    assert default["columns"] == ["person", "id", "person.$delete"] and len(default["results"]) == 3


def test_actors_query_filters_the_persons_behind_a_number(
    client: TestClient, key: str, posthog_people: dict[str, Any]
) -> None:
    query = {
        "kind": "ActorsQuery",
        "select": ["person", "event_count"],
        "source": {"kind": "InsightActorsQuery", "source": trends()},
        "properties": [{"key": "plan", "value": "free", "operator": "exact", "type": "person"}],
        "orderBy": ["event_count DESC, actor_id"],
    }
    rows = post(client, key, posthog_people, query).json()["results"]
    assert [(tuple(r[0]["distinct_ids"]), r[1]) for r in rows] == [(RED, 2)]


def test_persons_are_scoped_to_the_project(
    client: TestClient, runtime: Runtime, key: str, posthog_people: dict[str, Any]
) -> None:
    other = new_project(runtime, "UTC")
    assert post(client, key, other, {"kind": "ActorsQuery"}).json()["results"] == []
    query = {"kind": "InsightActorsQuery", "source": trends(), "day": "2020-01-02"}
    assert post(client, key, other, query).json()["results"] == []
    with runtime.meta.session() as session, session.begin():
        theirs = create_personal_key(session, ["query:read"], "other", [other["id"]])["key"]
    r = post(client, theirs, posthog_people, {"kind": "ActorsQuery"})
    assert r.status_code in (403, 404)


@pytest.mark.parametrize(
    ("query", "attr", "detail"),
    [
        ({"kind": "ActorsQuery", "select": ["sum(properties.x)"]}, "select", "unsupported expression"),
        ({"kind": "ActorsQuery", "select": "person"}, "select", "list of strings"),
        ({"kind": "ActorsQuery", "orderBy": ["created_at; DROP TABLE events"]}, "orderBy", "unsupported"),
        ({"kind": "ActorsQuery", "limit": -1}, "limit", "positive"),
        ({"kind": "ActorsQuery", "limit": "ten"}, "limit", "whole number"),
        (
            {"kind": "ActorsQuery", "source": {"kind": "HogQLQuery", "query": "select 1"}},
            "source",
            "InsightActorsQuery",
        ),
        ({"kind": "ActorsQuery", "select": ["event_count"]}, "select", "event_count"),
        (
            {"kind": "ActorsQuery", "properties": [{"key": "$browser", "value": "x", "type": "event"}]},
            "query",
            "person properties",
        ),
        ({"kind": "FunnelsActorsQuery", "source": funnel(), "funnelStep": -1}, "funnelStep", "funnelStep"),
        ({"kind": "FunnelsActorsQuery", "source": funnel(), "funnelStep": 3}, "funnelStep", "funnelStep"),
        (
            {"kind": "InsightActorsQuery", "source": {"kind": "LifecycleQuery", "series": [PAGEVIEW]}, "status": "x"},
            "status",
            "status",
        ),
        (
            {"kind": "InsightActorsQuery", "source": {"kind": "LifecycleQuery", "series": [PAGEVIEW]}, "status": []},
            "status",
            "status",
        ),
        ({"kind": "ActorsQuery", "source": {"kind": ["InsightActorsQuery"]}}, "source", "InsightActorsQuery"),
        ({"kind": "InsightActorsQuery", "source": {"kind": "RetentionQuery"}}, "interval", "interval"),
        ({"kind": "InsightActorsQuery", "source": {"kind": "StickinessQuery", "series": [PAGEVIEW]}}, "day", "day"),
        ({"kind": "InsightActorsQuery", "source": {"kind": "PathsQuery"}}, "source", "not supported"),
        ({"kind": "InsightActorsQuery", "source": trends(), "day": "someday"}, "day", "date"),
        ({"kind": "InsightActorsQuery", "source": trends(), "series": 5}, "query", "series 5"),
        (
            {"kind": "InsightActorsQuery", "source": trends(trendsFilter={"formula": "A * 2"})},
            "source",
            "formula",
        ),
        (
            {"kind": "InsightActorsQuery", "source": trends(), "breakdown": "$$_posthog_breakdown_other_$$"},
            "breakdown",
            "Other",
        ),
    ],
)
def test_bad_actor_queries_are_400(
    client: TestClient, key: str, posthog_people: dict[str, Any], query: dict[str, Any], attr: str, detail: str
) -> None:
    r = post(client, key, posthog_people, query)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "validation_error" and body["code"] == "invalid_input", body
    assert body["attr"] == attr and detail in body["detail"], body
