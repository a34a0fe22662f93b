"""PostHog cohorts: dynamic (person properties, behavioral filters, negation, nesting), static (person ids, CSV,
membership changes), members, soft delete, cohorts as query filters, and the same cohorts in Amplitude's API.

The people: alice (pro) viewed pages 1, 2 and 3 days ago and bought 5 days ago; bob (free) viewed a page 40
days ago and bought 60 days ago; carol (pro) only set her plan; dave (pro) viewed a page 2 days ago on an
anonymous device before signing in, so his anonymous person was merged into his (one person, two ids).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.ingest.event import person_uuid
from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_posthog_dashboards import url

NOW = dt.datetime.now(dt.UTC)
PRO = {"key": "plan", "type": "person", "value": "pro", "operator": "exact"}


def _at(days_ago: float) -> str:
    return (NOW - dt.timedelta(days=days_ago)).isoformat()


def _event(distinct_id: str, event: str, days_ago: float, **fields: Any) -> dict[str, Any]:
    return {"event": event, "distinct_id": distinct_id, "timestamp": _at(days_ago), **fields}


@pytest.fixture(scope="module")
def api(client: TestClient, runtime: Runtime) -> tuple[dict[str, Any], dict[str, str]]:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['*'])['key']}"}
    batch = [
        _event("alice", "$pageview", 1, **{"$set": {"plan": "pro", "email": "alice@example.com"}}),
        _event("alice", "$pageview", 2),
        _event("alice", "$pageview", 3),
        _event("alice", "purchase", 5, properties={"amount": 20}),
        _event("bob", "$pageview", 40, **{"$set": {"plan": "free"}}),
        _event("bob", "purchase", 60, properties={"amount": 5}),
        _event("carol", "settings", 50, **{"$set": {"plan": "pro"}}),
        _event("anon-d", "$pageview", 2),
        _event("dave", "$identify", 1, properties={"$anon_distinct_id": "anon-d"}, **{"$set": {"plan": "pro"}}),
    ]
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project, auth


def dynamic(*values: dict[str, Any], kind: str = "AND") -> dict[str, Any]:
    return {"properties": {"type": "OR", "values": [{"type": kind, "values": list(values)}]}}


def pageviews(days: int | None = 30, **extra: Any) -> dict[str, Any]:
    window = {"time_value": days, "time_interval": "day"} if days else {}
    return {
        "key": "$pageview",
        "type": "behavioral",
        "value": "performed_event",
        "event_type": "events",
        **window,
        **extra,
    }


def create(client: TestClient, api: tuple[dict[str, Any], dict[str, str]], **body: Any) -> Any:
    project, auth = api
    return client.post(url(project, "cohorts/"), json={"name": "c", **body}, headers=auth)


def members(client: TestClient, api: tuple[dict[str, Any], dict[str, str]], cohort_id: int) -> list[str]:
    project, auth = api
    r = client.get(url(project, f"cohorts/{cohort_id}/persons/"), headers=auth)
    assert r.status_code == 200, r.text
    return sorted("/".join(p["distinct_ids"]) for p in r.json()["results"])


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (dynamic(PRO), ["alice", "anon-d/dave", "carol"]),
        (dynamic({**PRO, "negation": True}), ["bob"]),
        (dynamic(pageviews()), ["alice", "anon-d/dave"]),  # dave's anonymous view counts for him
        (dynamic(pageviews(negation=True)), ["bob", "carol"]),
        (dynamic(pageviews(None, explicit_datetime="-45d")), ["alice", "anon-d/dave", "bob"]),
        (dynamic(pageviews(None, explicit_datetime=_at(2.5))), ["alice", "anon-d/dave"]),
        (dynamic(pageviews(value="performed_event_multiple", operator="gte", operator_value=3)), ["alice"]),
        # At most once: persons who never did it count too.
        (
            dynamic(pageviews(value="performed_event_multiple", operator="lte", operator_value=1)),
            ["anon-d/dave", "bob", "carol"],
        ),
        (dynamic(pageviews(value="performed_event_multiple", operator="exact", operator_value=0)), ["bob", "carol"]),
        (
            dynamic({"key": "purchase", "type": "behavioral", "value": "performed_event_first_time", "time_value": 10}),
            ["alice"],  # bob's first purchase was 60 days ago
        ),
        (
            dynamic(
                {
                    "key": "purchase",
                    "type": "behavioral",
                    "value": "performed_event",
                    "time_value": 3,
                    "time_interval": "month",
                    "event_filters": [{"key": "amount", "type": "event", "value": 10, "operator": "gt"}],
                }
            ),
            ["alice"],
        ),
        (dynamic(PRO, pageviews(negation=True)), ["carol"]),
        (
            dynamic(
                {"key": "plan", "type": "person", "value": ["free"]},
                pageviews(value="performed_event_multiple", operator="gte", operator_value=3),
                kind="OR",
            ),
            ["alice", "bob"],
        ),
    ],
)
def test_dynamic_cohorts(
    client: TestClient, api: tuple[dict[str, Any], dict[str, str]], filters: dict[str, Any], expected: list[str]
) -> None:
    r = create(client, api, filters=filters)
    assert r.status_code == 201, r.text
    cohort = r.json()
    assert cohort["count"] == len(expected) and cohort["is_static"] is False and cohort["is_calculating"] is False
    assert cohort["filters"] == filters and cohort["last_calculation"]
    behavioral = "behavioral" in json.dumps(filters)
    assert cohort["cohort_type"] == ("behavioral" if behavioral else "person_property")
    assert members(client, api, cohort["id"]) == expected


def test_cohorts_of_cohorts(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    pro = create(client, api, filters=dynamic(PRO)).json()
    inside = {"key": "id", "type": "cohort", "value": pro["id"]}
    assert members(client, api, create(client, api, filters=dynamic(inside, pageviews())).json()["id"]) == [
        "alice",
        "anon-d/dave",
    ]
    outside = create(client, api, filters=dynamic({**inside, "negation": True})).json()
    assert members(client, api, outside["id"]) == ["bob"]
    # A loop, direct or through another cohort, has no members to compute.
    project, auth = api
    for filters in (dynamic({**inside, "value": outside["id"]}), dynamic(inside)):
        r = client.patch(url(project, f"cohorts/{pro['id']}/"), json={"filters": filters}, headers=auth)
        assert r.status_code == 400 and "refer to itself" in r.json()["detail"], r.text
    assert "not a cohort of this project" in create(client, api, filters=dynamic({**inside, "value": 10**9})).text


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"filters": dynamic(pageviews(value="performed_event_sequence"))},
            "performed_event_sequence are not supported",
        ),
        ({"filters": dynamic(pageviews(event_type="actions"))}, "actions are not supported"),
        ({"filters": dynamic(pageviews(value="performed_event_multiple", operator="between"))}, "count operator"),
        ({"filters": dynamic(pageviews(value="performed_event_multiple", operator=["gte"]))}, "count operator"),
        ({"filters": dynamic(pageviews(time_value=2**31 - 1))}, "before year 1"),
        ({"filters": dynamic(pageviews(time_value="²"))}, "time_value"),
        ({"filters": dynamic(pageviews(time_interval="fortnight"))}, "time_interval"),
        ({"filters": dynamic(pageviews(time_value="soon"))}, "time_value"),
        ({"filters": dynamic(pageviews(None, explicit_datetime="yesterday"))}, "explicit_datetime"),
        ({"filters": dynamic({**PRO, "operator": "is_date_before", "negation": True})}, "cannot be computed exactly"),
        ({"filters": dynamic({"key": "$browser", "type": "event", "value": "x"})}, "person properties"),
        ({"filters": dynamic({**PRO, "operator": "regex", "value": "("})}, "regular expression"),
        ({"filters": {"properties": {"type": "AND", "values": "nope"}}}, "list of values"),
        ({}, "needs filters"),
        ({"query": {"kind": "ActorsQuery"}}, "from a query"),
        ({"groups": [{"action_id": 3, "days": 7}]}, "legacy groups"),
    ],
)
def test_what_cannot_be_computed_is_refused(
    client: TestClient, api: tuple[dict[str, Any], dict[str, str]], body: dict[str, Any], reason: str
) -> None:
    r = create(client, api, **body)
    assert r.status_code == 400, r.text
    assert r.json()["type"] == "validation_error" and reason in r.json()["detail"]


def test_legacy_groups_of_person_properties(client: TestClient, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    r = create(
        client,
        api,
        groups=[{"properties": [PRO]}, {"properties": [{"key": "plan", "value": "free", "type": "person"}]}],
    )
    assert r.status_code == 201, r.text
    assert members(client, api, r.json()["id"]) == ["alice", "anon-d/dave", "bob", "carol"]


def test_static_cohorts(client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    ids = [person_uuid(project["id"], "alice"), person_uuid(project["id"], "anon-d"), "not-a-person"]
    made = create(client, api, is_static=True, _create_static_person_ids=ids).json()
    # The anonymous person was merged into dave: he is the member.
    assert made["count"] == 2 and made["cohort_type"] == "static" and made["filters"] is None
    assert members(client, api, made["id"]) == ["alice", "anon-d/dave"]
    upload = client.post(
        url(project, "cohorts/"),
        data={"name": "From CSV", "is_static": "true"},
        files={"csv": ("ids.csv", b"distinct_id\nbob\ncarol\nnobody\n", "text/csv")},
        headers=auth,
    )
    assert upload.status_code == 201, upload.text
    csv_cohort = upload.json()
    assert csv_cohort["name"] == "From CSV" and members(client, api, csv_cohort["id"]) == ["bob", "carol"]
    more = client.patch(
        url(project, f"cohorts/{csv_cohort['id']}/"),
        files={"csv": ("more.csv", b"alice\n", "text/csv")},  # no header: distinct ids in the first column
        headers=auth,
    )
    assert more.status_code == 200, more.text
    assert more.json()["count"] == 3
    change = url(project, f"cohorts/{made['id']}/add_persons_to_static_cohort/")
    added = client.patch(change, json={"person_ids": [person_uuid(project["id"], "carol"), "nobody"]}, headers=auth)
    assert added.status_code == 200 and added.json() == {"success": True}
    assert client.patch(change, json={"person_ids": []}, headers=auth).status_code == 400
    assert client.patch(change, json={"person_ids": ["nobody"]}, headers=auth).json()["detail"] == (
        "No valid users to add to cohort"
    )
    remove = url(project, f"cohorts/{made['id']}/remove_person_from_static_cohort/")
    removed = client.patch(remove, json={"person_id": person_uuid(project["id"], "alice")}, headers=auth)
    assert removed.json() == {"success": True}
    assert client.patch(remove, json={"person_id": "nobody"}, headers=auth).status_code == 400
    assert client.patch(remove, json={"person_id": person_uuid(project["id"], "zed")}, headers=auth).status_code == 404
    assert client.get(url(project, f"cohorts/{made['id']}/"), headers=auth).json()["count"] == 2
    assert members(client, api, made["id"]) == ["anon-d/dave", "carol"]
    emails = client.post(
        url(project, "cohorts/"),
        data={"name": "x", "is_static": "true"},
        files={"csv": ("e.csv", b"email\na@example.com\n", "text/csv")},
        headers=auth,
    )
    assert emails.status_code == 400 and emails.json()["attr"] == "csv"
    dynamic_one = create(client, api, filters=dynamic(PRO)).json()
    refused = client.patch(
        url(project, f"cohorts/{dynamic_one['id']}/add_persons_to_static_cohort/"),
        json={"person_ids": []},
        headers=auth,
    )
    assert refused.status_code == 400
    flip = client.patch(url(project, f"cohorts/{dynamic_one['id']}/"), json={"is_static": True}, headers=auth)
    assert flip.status_code == 400 and flip.json()["attr"] == "is_static"


def test_list_update_and_soft_delete(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    with runtime.meta.session() as session, session.begin():
        auth = {"Authorization": f"Bearer {create_personal_key(session, ['cohort:write'])['key']}"}
    api = (project, auth)
    batch = [_event("x", "$pageview", 1, **{"$set": {"plan": "pro"}}), _event("y", "$pageview", 1)]
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    first = create(client, api, name="First", filters=dynamic(PRO)).json()
    second = create(client, api, name="Second", filters=dynamic(pageviews())).json()
    listed = client.get(url(project, "cohorts/", env=True), headers=auth).json()
    assert listed["count"] == 2 and [c["name"] for c in listed["results"]] == ["Second", "First"]  # newest first
    paged = client.get(url(project, "cohorts/"), params={"limit": 1}, headers=auth).json()
    assert [c["name"] for c in paged["results"]] == ["Second"] and "offset=1" in paged["next"]
    changed = client.patch(
        url(project, f"cohorts/{first['id']}/"),
        json={"name": "Everyone", "description": "all", "filters": dynamic(pageviews())},
        headers=auth,
    ).json()
    assert (changed["name"], changed["description"], changed["count"]) == ("Everyone", "all", 2)
    assert client.delete(url(project, f"cohorts/{second['id']}/"), headers=auth).status_code == 405
    gone = client.patch(url(project, f"cohorts/{second['id']}/"), json={"deleted": True}, headers=auth)
    assert gone.json()["deleted"] is True
    assert [c["id"] for c in client.get(url(project, "cohorts/"), headers=auth).json()["results"]] == [first["id"]]
    assert client.get(url(project, f"cohorts/{second['id']}/"), headers=auth).json()["deleted"] is True
    client.patch(url(project, f"cohorts/{second['id']}/"), json={"deleted": False}, headers=auth)
    assert client.get(url(project, "cohorts/"), headers=auth).json()["count"] == 2


def test_cohort_filters_in_queries_and_amplitude(
    client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]
) -> None:
    project, auth = api
    pro = create(client, api, name="Pro", filters=dynamic(PRO)).json()
    trends = {
        "kind": "TrendsQuery",
        "dateRange": {"date_from": "-90d"},
        "series": [{"kind": "EventsNode", "event": "$pageview"}],
    }

    def views(properties: list[dict[str, Any]]) -> int:
        body = {"query": {"kind": "InsightVizNode", "source": {**trends, "properties": properties}}, "refresh": True}
        r = client.post(url(project, "query/"), json=body, headers=auth)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]["count"]

    assert views([]) == 5
    assert views([{"type": "cohort", "key": "id", "value": pro["id"]}]) == 4  # alice 3, dave 1 (before his merge)
    assert views([{"type": "cohort", "key": "id", "value": pro["id"], "operator": "not_in"}]) == 1
    # Amplitude lists it, and segments by it.
    amplitude = (project["api_key"], project["secret_key"])
    listed = client.get("/api/3/cohorts", auth=amplitude).json()["cohorts"]
    assert {c["id"]: c["size"] for c in listed}[str(pro["id"])] == 3
    days = {"start": (NOW - dt.timedelta(days=90)).strftime("%Y%m%d"), "end": NOW.strftime("%Y%m%d")}
    segment = [{"prop": "userdata_cohort", "op": "is", "values": [str(pro["id"])]}]
    params = {"e": json.dumps({"event_type": "$pageview"}), "m": "totals", "s": json.dumps(segment), **days}
    series = client.get("/api/2/events/segmentation", params=params, auth=amplitude).json()["data"]["series"]
    assert sum(series[0]) == 4
    # A cohort uploaded through Amplitude is a PostHog cohort too.
    uploaded = client.post(
        "/api/3/cohorts/upload", json={"name": "Upload", "id_type": "BY_USER_ID", "ids": ["alice"]}, auth=amplitude
    ).json()["cohortId"]
    found = client.get(url(project, f"cohorts/{uploaded}/"), headers=auth).json()
    assert (found["name"], found["is_static"], found["count"]) == ("Upload", True, 1)
    assert members(client, api, int(uploaded)) == ["alice"]
    assert views([{"type": "cohort", "key": "id", "value": int(uploaded)}]) == 3


def test_scopes_and_tenancy(client: TestClient, runtime: Runtime, api: tuple[dict[str, Any], dict[str, str]]) -> None:
    project, auth = api
    cohort = create(client, api, filters=dynamic(PRO)).json()
    with runtime.meta.session() as session, session.begin():
        reader = {"Authorization": f"Bearer {create_personal_key(session, ['cohort:read'])['key']}"}
        other_scope = {"Authorization": f"Bearer {create_personal_key(session, ['annotation:read'])['key']}"}
    assert client.get(url(project, f"cohorts/{cohort['id']}/persons/"), headers=reader).status_code == 200
    denied = client.post(url(project, "cohorts/"), json={"name": "x", "filters": dynamic(PRO)}, headers=reader)
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    assert client.patch(url(project, f"cohorts/{cohort['id']}/"), json={"name": "y"}, headers=reader).status_code == 403
    assert client.get(url(project, "cohorts/"), headers=other_scope).status_code == 403
    other = new_project(runtime)
    for path in (f"cohorts/{cohort['id']}/", f"cohorts/{cohort['id']}/persons/"):
        assert client.get(url(other, path), headers=auth).status_code == 404
    assert client.patch(url(other, f"cohorts/{cohort['id']}/"), json={"deleted": True}, headers=auth).status_code == 404
    assert client.get(url(other, "cohorts/"), headers=auth).json()["count"] == 0
    # Another project's cohort is no cohort there.
    nested = client.post(
        url(other, "cohorts/"),
        json={"name": "n", "filters": dynamic({"key": "id", "type": "cohort", "value": cohort["id"]})},
        headers=auth,
    )
    assert nested.status_code == 400 and "not a cohort of this project" in nested.json()["detail"]
    assert client.get(url(project, "cohorts/not-a-number/"), headers=auth).status_code == 400
    assert client.get(url(project, "cohorts/99999999999999999999/"), headers=auth).status_code == 404
    assert client.post(url(project, "cohorts/"), content=b"{", headers=auth).status_code == 400
