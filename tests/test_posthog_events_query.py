"""PostHog's EventsQuery on /query/: chosen columns of events, or counts grouped by them, from a whitelist of
HogQL expressions (data set: `posthog_people` in tests/datasets.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import new_project
from tests.test_posthog_actors import post


@pytest.fixture(scope="module")
def key(runtime: Runtime) -> str:
    with runtime.meta.session() as session, session.begin():
        return create_personal_key(session, ["query:read"], "tests")["key"]


def events(client: TestClient, key: str, project: dict[str, Any], **query: Any) -> dict[str, Any]:
    r = post(client, key, project, {"kind": "EventsQuery", "after": "2019-12-31", **query})
    assert r.status_code == 200, r.text
    return r.json()


def test_whole_events_newest_first(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    body = events(client, key, posthog_people, select=["*"], limit=2)
    assert body["columns"] == ["*"] and body["hasMore"] and (body["limit"], body["offset"]) == (2, 0)
    newest = body["results"][0][0]
    assert {k: v for k, v in newest.items() if k != "uuid"} == {
        "event": "$identify",
        "properties": {"$anon_distinct_id": "anon-green"},
        "timestamp": "2020-01-03T13:01:00Z",
        "team_id": posthog_people["id"],
        "distinct_id": "green",
        "elements_chain": "",
    }
    assert len(events(client, key, posthog_people)["results"]) == 8  # no select: "*"
    # Without `after`, PostHog shows the last 24 hours only.
    r = post(client, key, posthog_people, {"kind": "EventsQuery", "select": ["event"]})
    assert r.status_code == 200 and r.json()["results"] == []


def test_columns_order_and_pages(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    select = ["event", "timestamp", "distinct_id", "properties.$browser", "person.properties.email", "properties.nope"]
    body = events(client, key, posthog_people, select=select, orderBy=["timestamp ASC", "event"], limit=2, offset=1)
    assert body["columns"] == select and body["hasMore"]
    assert body["types"][:2] == ["String", "DateTime64(6, 'UTC')"]
    assert body["results"] == [
        ["sign up", "2020-01-01T12:05:00Z", "blue", "Chrome", "blue@example.com", None],
        ["$pageview", "2020-01-02T12:00:00Z", "blue", "Chrome", "blue@example.com", None],
    ]
    same = events(
        client, key, posthog_people, select=["properties['$browser']", "properties.`$browser`"], orderBy=["timestamp"]
    )
    assert same["results"][0] == ["Chrome", "Chrome"]


def test_counts_group_by_the_other_columns(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    by_event = events(client, key, posthog_people, select=["event", "count()"])
    assert by_event["results"] == [["$pageview", 5], ["sign up", 2], ["$identify", 1]]
    by_browser = events(
        client, key, posthog_people, select=["properties.$browser", "count()"], where=["event = '$pageview'"]
    )
    assert by_browser["results"] == [["Chrome", 2], ["Safari", 2], ["Firefox", 1]]
    assert events(client, key, posthog_people, select=["count()"], event="sign up")["results"] == [[2]]
    # A merged person is one row: green's pageview was sent as anon-green.
    by_person = events(client, key, posthog_people, select=["person", "count()"], event="$pageview")["results"]
    assert {row[0]["distinct_id"]: row[1] for row in by_person} == {"blue": 2, "red": 2, "anon-green": 1}
    green = next(row[0] for row in by_person if row[0]["distinct_id"] == "anon-green")
    assert green["properties"] == {"name": "Green"} and green["created_at"] == "2020-01-03T12:00:00Z"


def test_filters_where_and_person(client: TestClient, key: str, posthog_people: dict[str, Any]) -> None:
    def names(**query: Any) -> list[tuple[str, str]]:
        rows = events(client, key, posthog_people, select=["event", "distinct_id"], orderBy=["timestamp"], **query)
        return [tuple(row) for row in rows["results"]]

    safari = [{"key": "$browser", "value": ["Safari"], "operator": "exact", "type": "event"}]
    assert names(properties=safari) == [("$pageview", "red"), ("$pageview", "red")]
    assert names(where=["distinct_id = 'blue'", "properties.$browser != 'Chrome'"]) == []
    assert names(where=["person.properties.plan = 'pro'"], event="sign up") == [("sign up", "blue")]
    assert names(where=["properties.$anon_distinct_id IS NOT NULL"]) == [("$identify", "green")]
    assert names(events=["sign up", "$identify"], before="2020-01-03T13:00:30Z") == [
        ("sign up", "blue"),
        ("sign up", "green"),
    ]
    green_id = events(client, key, posthog_people, select=["person_id"], event="$identify")["results"][0][0]
    assert names(personId=green_id) == [("$pageview", "anon-green"), ("sign up", "green"), ("$identify", "green")]
    shown = events(client, key, posthog_people, select=["person_display_name -- Person"], event="sign up")
    assert sorted(row[0]["display_name"] for row in shown["results"]) == ["Green", "blue@example.com"]


def test_events_are_scoped_to_the_project(
    client: TestClient, runtime: Runtime, key: str, posthog_people: dict[str, Any]
) -> None:
    other = new_project(runtime, "UTC")
    assert events(client, key, other, select=["event", "count()"])["results"] == []
    green_id = events(client, key, posthog_people, select=["person_id"], event="$identify")["results"][0][0]
    assert events(client, key, other, personId=green_id)["results"] == []


@pytest.mark.parametrize(
    ("query", "attr", "detail"),
    [
        ({"select": ["toUpper(event)"]}, "select", "unsupported expression"),
        ({"select": ["properties.a b"]}, "select", "unsupported expression"),
        ({"select": "event"}, "select", "list of strings"),
        ({"select": ["*", "count()"]}, "query", "whole event"),
        ({"select": ["event"], "orderBy": ["count() DESC"]}, "query", "count()"),
        ({"select": ["event", "count()"], "orderBy": ["timestamp"]}, "query", "sort by the count"),
        ({"orderBy": ["timestamp; DROP TABLE events"]}, "orderBy", "unsupported"),
        ({"orderBy": "timestamp"}, "orderBy", "list of strings"),
        ({"where": ["event = 'x' OR 1=1"]}, "where", "unsupported expression"),
        ({"where": ["sleep(3)"]}, "where", "unsupported where"),
        ({"where": ["properties.$browser > 'abc'"]}, "query", "a number is needed"),
        ({"properties": [{"key": "x", "operator": "between"}]}, "query", "unsupported operator"),
        ({"limit": 0}, "limit", "positive"),
        ({"offset": -5}, "offset", "not negative"),
        ({"after": "last tuesday"}, "after", "invalid date"),
        ({"actionId": 3}, "actionId", "not supported"),
        ({"personId": 12}, "personId", "string"),
    ],
)
def test_bad_events_queries_are_400(
    client: TestClient, key: str, posthog_people: dict[str, Any], query: dict[str, Any], attr: str, detail: str
) -> None:
    r = post(client, key, posthog_people, {"kind": "EventsQuery", **query})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["type"] == "validation_error" and body["code"] == "invalid_input", body
    assert body["attr"] == attr and detail in body["detail"], body
