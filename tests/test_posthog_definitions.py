"""Event and property definitions: kept as batches flush, typed as PostHog types them, listed and filtered as
PostHog lists them, backfilled from stored events, edited and deleted; scopes and tenancy."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from footfall.ingest.definitions import backfill, property_type
from footfall.meta.accounts import create_personal_key
from footfall.meta.models import EventDefinition, EventProperty, PropertyDefinition
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_posthog_dashboards import url

NOW = dt.datetime.now(dt.UTC)


def _at(days_ago: float) -> str:
    return (NOW - dt.timedelta(days=days_ago)).isoformat()


def send(client: TestClient, project: dict[str, Any], batch: list[dict[str, Any]]) -> None:
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200


@pytest.fixture(scope="module")
def api(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    shop = {"plan": "pro", "price": 9.5, "is_trial": True, "signup_date": "2024-05-01", "utm_source": 123}
    send(
        client,
        project,
        [
            {"event": "$pageview", "distinct_id": "u1", "timestamp": _at(1), "properties": {"$browser": "Chrome"}},
            {"event": "$pageview", "distinct_id": "u2", "timestamp": _at(2), "properties": {"$browser": "Safari"}},
            {"event": "$pageview", "distinct_id": "u1", "timestamp": _at(40), "properties": {"$browser": "Chrome"}},
            {
                "event": "signed_up",
                "distinct_id": "u1",
                "timestamp": _at(3),
                "properties": {**shop, "tags": [1, 2], "nothing": None, "$set": {"email": "u1@example.com", "age": 30}},
            },
            {"event": "old_event", "distinct_id": "u2", "timestamp": _at(90), "properties": {"plan": "free"}},
        ],
    )
    flush(runtime)
    return project, auth


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["results"]]


def test_event_definitions_with_volumes(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    body = client.get(url(project, "event_definitions/"), params={"ordering": "name"}, headers=auth).json()
    assert body["count"] == 3 and body["next"] is None
    assert [(d["name"], d["volume_30_day"]) for d in body["results"]] == [
        ("$pageview", 2),  # the third is 40 days old
        ("old_event", 0),
        ("signed_up", 1),
    ]
    first = body["results"][0]
    assert first["query_usage_30_day"] is None and first["created_at"] and first["last_seen_at"]
    assert first["id"] and first["is_action"] is False and first["tags"] == []
    listed = url(project, "event_definitions/", env=True)
    assert names(client.get(listed, params={"search": "PAGE"}, headers=auth)) == ["$pageview"]
    assert names(client.get(listed, params={"search": "up sign"}, headers=auth)) == ["signed_up"]  # every term
    assert names(client.get(listed, params={"search": "sign view"}, headers=auth)) == []
    custom = client.get(listed, params={"event_type": "event_custom", "ordering": "-name"}, headers=auth)
    assert names(custom) == ["signed_up", "old_event"]
    assert names(client.get(listed, params={"event_type": "event_posthog"}, headers=auth)) == ["$pageview"]
    excluded = client.get(listed, params={"excluded_properties": '["old_event"]', "ordering": "name"}, headers=auth)
    assert names(excluded) == ["$pageview", "signed_up"]
    paged = client.get(listed, params={"ordering": "name", "limit": 1, "offset": 1}, headers=auth).json()
    assert [d["name"] for d in paged["results"]] == ["old_event"] and paged["count"] == 3
    assert "offset=2" in paged["next"] and "offset=0" in paged["previous"]
    one = client.get(url(project, f"event_definitions/{first['id']}/"), headers=auth).json()
    assert one["name"] == "$pageview" and one["volume_30_day"] == 2


def test_property_definitions_types_and_filters(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    listed = url(project, "property_definitions/")
    body = client.get(listed, headers=auth).json()
    types = {d["name"]: (d["property_type"], d["is_numerical"]) for d in body["results"]}
    # $set carries person properties: PostHog does not list it among event properties.
    assert types == {
        "$browser": ("String", False),
        "is_trial": ("Boolean", False),
        "nothing": (None, False),
        "plan": ("String", False),
        "price": ("Numeric", True),
        "signup_date": ("DateTime", False),
        "tags": (None, False),
        "utm_source": ("String", False),  # utm_ keys are strings whatever their first value
    }
    assert body["results"][0]["is_seen_on_filtered_events"] is None
    assert names(client.get(listed, params={"is_numerical": "true"}, headers=auth)) == ["price"]
    persons = client.get(listed, params={"type": "person"}, headers=auth).json()["results"]
    assert [(d["name"], d["property_type"]) for d in persons] == [("age", "Numeric"), ("email", "String")]
    seen = client.get(listed, params={"event_names": '["$pageview"]'}, headers=auth).json()["results"]
    assert [(d["name"], d["is_seen_on_filtered_events"]) for d in seen][:2] == [("$browser", True), ("is_trial", False)]
    only = client.get(listed, params={"event_names": '["old_event"]', "filter_by_event_names": "true"}, headers=auth)
    assert names(only) == ["plan"]
    assert names(client.get(listed, params={"search": "sign"}, headers=auth)) == ["signup_date"]
    assert names(client.get(listed, params={"properties": "plan,price"}, headers=auth)) == ["plan", "price"]
    kept = client.get(listed, params={"excluded_properties": '["plan","tags","nothing"]'}, headers=auth)
    assert names(kept) == ["$browser", "is_trial", "price", "signup_date", "utm_source"]
    together = client.get(
        url(project, "property_definitions/seen_together/"),
        params={"event_names": '["signed_up", "$pageview"]', "property_name": "plan"},
        headers=auth,
    )
    assert together.json() == {"signed_up": True, "$pageview": False}


def test_a_key_gets_its_type_from_its_first_typed_value(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    send(client, project, [{"event": "later", "distinct_id": "u3", "properties": {"nothing": 5, "fresh": "x"}}])
    flush(runtime)
    found = client.get(url(project, "property_definitions/"), params={"properties": "nothing,fresh"}, headers=auth)
    assert [(d["name"], d["property_type"]) for d in found.json()["results"]] == [
        ("fresh", "String"),
        ("nothing", "Numeric"),
    ]


def test_edit_and_delete(client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    events = client.get(url(project, "event_definitions/"), params={"search": "old_event"}, headers=auth).json()
    event_id = events["results"][0]["id"]
    edited = client.patch(
        url(project, f"event_definitions/{event_id}/"), json={"description": "legacy", "tags": ["x"]}, headers=auth
    ).json()
    assert edited["description"] == "legacy" and edited["tags"] == ["x"] and edited["volume_30_day"] == 0
    plan = client.get(url(project, "property_definitions/"), params={"search": "plan"}, headers=auth).json()
    plan_id = plan["results"][0]["id"]
    retyped = client.patch(
        url(project, f"property_definitions/{plan_id}/"), json={"property_type": "Numeric"}, headers=auth
    )
    assert retyped.json()["property_type"] == "Numeric" and retyped.json()["is_numerical"] is True
    bad = client.patch(url(project, f"property_definitions/{plan_id}/"), json={"property_type": "Nope"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["attr"] == "property_type"
    assert client.delete(url(project, f"property_definitions/{plan_id}/"), headers=auth).status_code == 204
    assert client.get(url(project, f"property_definitions/{plan_id}/"), headers=auth).status_code == 404
    assert client.delete(url(project, f"event_definitions/{event_id}/"), headers=auth).status_code == 204
    assert names(client.get(url(project, "event_definitions/"), params={"search": "old_event"}, headers=auth)) == []
    # Ingested again, both come back (the flusher forgot what it had stored).
    send(client, project, [{"event": "old_event", "distinct_id": "u2", "properties": {"plan": "team"}}])
    flush(runtime)
    assert names(client.get(url(project, "event_definitions/"), params={"search": "old_event"}, headers=auth)) == [
        "old_event"
    ]
    back = client.get(url(project, "property_definitions/"), params={"search": "plan"}, headers=auth).json()
    assert [(d["name"], d["property_type"]) for d in back["results"]] == [("plan", "String")]


def test_backfill_from_stored_events(client: TestClient, runtime: Runtime) -> None:
    """Events stored before definitions were kept (or inserted without the flusher) get them from a scan."""
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    send(
        client,
        project,
        [
            # A key longer than PostHog's 400 characters is not kept.
            {"event": "a", "distinct_id": "x", "properties": {"n": 1, "s": "t", "none": None, "k" * 401: 1}},
            {"event": "b", "distinct_id": "y", "properties": {"none": "now a string"}, "$set": {"flag": True}},
        ],
    )
    flush(runtime)

    def snapshot() -> list[tuple[str, ...]]:
        events = client.get(url(project, "event_definitions/"), params={"ordering": "name"}, headers=auth).json()
        props = [
            client.get(url(project, "property_definitions/"), params={"type": kind}, headers=auth).json()
            for kind in ("event", "person")
        ]
        return [(d["name"],) for d in events["results"]] + [
            (d["name"], d["property_type"]) for body in props for d in body["results"]
        ]

    before = snapshot()
    assert before == [("a",), ("b",), ("n", "Numeric"), ("none", "String"), ("s", "String"), ("flag", "Boolean")]
    with runtime.meta.session() as session, session.begin():
        for model in (EventDefinition, PropertyDefinition, EventProperty):
            session.execute(delete(model).where(model.project_id == project["id"]))
    assert snapshot() == []
    with runtime.meta.session() as session, session.begin():
        backfill(runtime.engine, session, project["id"])
    assert snapshot() == before


def test_scopes_tenancy_and_bad_input(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    with runtime.meta.session() as session, session.begin():
        reader = {"Authorization": f"Bearer {create_personal_key(session, ['event_definition:read'])['key']}"}
    assert client.get(url(project, "event_definitions/"), headers=reader).status_code == 200
    assert client.get(url(project, "property_definitions/"), headers=reader).status_code == 403
    event_id = client.get(url(project, "event_definitions/"), headers=auth).json()["results"][0]["id"]
    denied = client.patch(url(project, f"event_definitions/{event_id}/"), json={"tags": []}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    other = new_project(runtime)
    assert client.get(url(other, f"event_definitions/{event_id}/"), headers=auth).status_code == 404
    assert client.delete(url(other, f"event_definitions/{event_id}/"), headers=auth).status_code == 404
    assert client.get(url(other, "event_definitions/"), headers=auth).json()["count"] == 0
    for path, params, attr in [
        ("event_definitions/", {"excluded_properties": "not json"}, "excluded_properties"),
        ("event_definitions/", {"event_type": "action"}, "event_type"),
        ("event_definitions/", {"limit": "x"}, None),
        ("property_definitions/", {"type": "group"}, "group_type_index"),
        ("property_definitions/", {"type": "group", "group_type_index": "0"}, "type"),
        ("property_definitions/", {"type": "session"}, "type"),
        ("property_definitions/", {"type": "person", "event_names": '["a"]'}, "event_names"),
        ("property_definitions/", {"event_names": '{"a": 1}'}, "event_names"),
        ("property_definitions/", {"is_numerical": "maybe"}, "is_numerical"),
        ("property_definitions/seen_together/", {"event_names": '["a"]'}, "property_name"),
    ]:
        r = client.get(url(project, path), params=params, headers=auth)
        assert r.status_code == 400, (path, params, r.text)
        assert r.json()["type"] == "validation_error" and r.json()["attr"] == attr


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("a", "x", "String"),
        ("a", 3, "Numeric"),
        ("a", -1.5, "Numeric"),
        ("a", True, "Boolean"),
        ("a", " TRUE ", "Boolean"),
        ("a", "True", "String"),
        ("a", "2025-04-24", "DateTime"),
        ("a", "04/24/2025", "DateTime"),
        ("a", "2025-04-24T23:21:04+00:00", "DateTime"),
        ("a", "Thu, 24 Apr 2025 23:21:04 +0000", "DateTime"),
        ("a", "1745536864", "String"),  # a Unix time as text stays a string
        ("a", "2024", "String"),
        ("created_at", time.time(), "DateTime"),  # a recent Unix time under a time-like key
        ("created_at", time.time() - 365 * 86400, "Numeric"),  # older than six months
        ("count", time.time(), "Numeric"),
        ("utm_campaign", 5, "String"),
        ("$feature/beta", False, "String"),
        ("a", None, None),
        ("a", [1], None),
        ("a", {"b": 1}, None),
    ],
)
def test_property_type_rules(key: str, value: Any, expected: str | None) -> None:
    assert property_type(key, value, time.time()) == expected
