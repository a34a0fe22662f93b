"""Behavioral cohorts: upload, membership, download, the cohort list, and cohort segments in every query.

The data: alice, bob01 and carol are users; dave1 played first on an anonymous device, then signed in
and the device was linked to him, so his anonymous person was merged into his (one person, two ids).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.api import cohorts as service
from footfall.config import Settings
from footfall.ingest.event import person_uuid
from footfall.meta import cohorts as rows
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send

PRO = {"properties": {"type": "OR", "values": [{"type": "AND", "values": [
    {"key": "plan", "type": "person", "value": "pro", "operator": "exact"}]}]}}  # fmt: skip
LIST_KEYS = {
    "appId", "archived", "definition", "description", "finished", "id", "name", "owners", "viewers", "published",
    "size", "type", "lastMod", "createdAt", "lastComputed", "hidden", "metadata", "view_count", "popularity",
    "last_viewed", "chart_id", "edit_id", "is_predictive", "is_official_content", "location_id", "shortcut_ids",
    "syncMetadata",
}  # fmt: skip


def _auth(project: dict[str, Any]) -> tuple[str, str]:
    return project["api_key"], project["secret_key"]


@pytest.fixture(scope="module")
def music(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    plan = "user_properties"
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-01T10:00:00", plan: {"plan": "pro"}},
            {"user_id": "alice", "event_type": "Play", "time": "2024-03-02T10:00:00"},
            {"user_id": "bob01", "event_type": "Play", "time": "2024-03-01T11:00:00", plan: {"plan": "free"}},
            {"user_id": "carol", "event_type": "Search", "time": "2024-03-02T09:00:00", plan: {"plan": "pro"}},
            {"device_id": "dev-dave-0001", "event_type": "Play", "time": "2024-03-01T12:00:00"},
            {"user_id": "dave1", "event_type": "Search", "time": "2024-03-02T12:00:00", plan: {"plan": "pro"}},
            {"user_id": "dave1", "device_id": "dev-dave-0001", "event_type": "Play", "time": "2024-03-02T13:00:00"},
        ],
    )
    flush(runtime)
    return project


@pytest.fixture(scope="module")
def other(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Project B: an alice of its own, who is no member of project A's cohorts."""
    project = new_project(runtime, "UTC")
    send(client, project, [{"user_id": "alice", "event_type": "Play", "time": "2024-03-01T10:00:00"}])
    flush(runtime)
    return project


def amplitude_id(runtime: Runtime, project: dict[str, Any], distinct_id: str) -> int:
    person = person_uuid(project["id"], distinct_id)
    return int(runtime.engine.scalar("SELECT bitShiftRight(cityHash64(toUUID({u:String})), 11)", {"u": person}))


def upload(client: TestClient, project: dict[str, Any], **body: Any) -> Any:
    return client.post("/api/3/cohorts/upload", json=body, auth=_auth(project))


def segmentation(client: TestClient, project: dict[str, Any], segment: list[Any] | None, event: str = "Play") -> Any:
    params = {"e": json.dumps({"event_type": event}), "start": "20240301", "end": "20240302"}
    if segment is not None:
        params["s"] = json.dumps(segment)
    r = client.get("/api/2/events/segmentation", params=params, auth=_auth(project))
    assert r.status_code == 200, r.text
    return r.json()["data"]["series"]


def in_cohort(cohort_id: Any, op: str = "is") -> list[dict[str, Any]]:
    return [{"prop": "userdata_cohort", "op": op, "values": [str(cohort_id)]}]


def test_upload_by_user_id_and_segments(client: TestClient, music: dict[str, Any]) -> None:
    r = upload(client, music, name="Listeners", app_id=music["id"], id_type="BY_USER_ID", ids=["alice", "dave1", "x"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metadata"] == {"matched": 2, "totals": 3, "invalid_ids_sample": ["x"]}
    cohort = body["cohortId"]
    assert segmentation(client, music, None) == [[3, 2]]  # alice, bob01, dave1 ; alice, dave1
    # dave1's anonymous play on March 1st counts for him: he is the same (merged) person.
    assert segmentation(client, music, in_cohort(cohort)) == [[2, 2]]
    assert segmentation(client, music, in_cohort(cohort, "is not")) == [[1, 0]]
    both = [
        {"prop": "userdata_cohort", "op": "is", "values": [cohort]},
        {"prop": "platform", "op": "is not", "values": ["x"]},
    ]
    assert segmentation(client, music, both) == [[2, 2]]  # fmt: skip


def test_cohort_segments_in_other_endpoints(client: TestClient, music: dict[str, Any]) -> None:
    cohort = upload(client, music, name="Funnel", id_type="BY_USER_ID", ids=["alice", "dave1"]).json()["cohortId"]
    auth = _auth(music)
    steps = [("e", json.dumps({"event_type": "Play"})), ("e", json.dumps({"event_type": "Search"}))]
    span = [("start", "20240301"), ("end", "20240302")]
    funnel = client.get("/api/2/funnels", params=steps + span, auth=auth).json()["data"][0]
    assert funnel["cumulativeRaw"] == [3, 1]
    segment = [("s", json.dumps(in_cohort(cohort)))]
    funnel = client.get("/api/2/funnels", params=steps + span + segment, auth=auth).json()["data"][0]
    assert funnel["cumulativeRaw"] == [2, 1]  # alice never searched; dave1 played (anonymously), then searched
    users = client.get("/api/2/users", params=span + segment, auth=auth).json()["data"]
    assert users["series"] == [[2, 2]]
    retention = client.get(
        "/api/2/retention",
        params=[
            ("se", json.dumps({"event_type": "Play"})),
            ("re", json.dumps({"event_type": "_all"})),
            *span,
            *segment,
        ],
        auth=auth,
    ).json()["data"]
    assert retention["series"][0]["combined"][0]["count"] == 2
    composition = client.get("/api/2/composition", params=[("p", "gp:plan"), *span, *segment], auth=auth)
    assert composition.json()["data"]["series"] == [[2]]  # alice and dave1, both pro


def test_upload_by_amplitude_id_follows_merges(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    anonymous_dave = amplitude_id(runtime, music, "dev-dave-0001")  # merged into dave1 since
    bob = amplitude_id(runtime, music, "bob01")
    r = upload(client, music, name="By id", id_type="BY_AMP_ID", ids=[anonymous_dave, str(bob), "12x", 7])
    body = r.json()
    assert body["metadata"] == {"matched": 2, "totals": 4, "invalid_ids_sample": ["12x", 7]}
    assert segmentation(client, music, in_cohort(body["cohortId"])) == [[2, 1]]  # bob01, dave1 ; dave1


def test_dynamic_cohort_by_person_properties(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    with runtime.meta.session() as session, session.begin():
        pro = service.create_dynamic(session, runtime.engine, music["id"], "Pro", PRO)
        assert pro.count == 3  # alice, carol, dave1 (his anonymous person is merged away)
        not_listeners = {"properties": {"type": "AND", "values": [
            {"key": "plan", "type": "person", "value": "pro", "operator": "exact"},
            {"key": "id", "type": "cohort", "value": pro.id, "operator": "not_in"}]}}  # fmt: skip
        nobody = service.create_dynamic(session, runtime.engine, music["id"], "Nobody", not_listeners)
        assert nobody.count == 0
        ids = pro.id, nobody.id
    assert segmentation(client, music, in_cohort(ids[0]), "_all") == [[2, 3]]  # alice, dave1 ; + carol
    assert segmentation(client, music, in_cohort(ids[1]), "_all") == [[0, 0]]
    listed = client.get("/api/3/cohorts", auth=_auth(music)).json()["cohorts"]
    pro_json = next(c for c in listed if c["id"] == str(ids[0]))
    assert set(pro_json) == LIST_KEYS
    assert pro_json["size"] == 3 and pro_json["type"] == "dynamic" and pro_json["definition"] == PRO
    assert pro_json["appId"] == music["id"] and isinstance(pro_json["createdAt"], int)


def test_bad_dynamic_definitions(runtime: Runtime, music: dict[str, Any]) -> None:
    event_rule = {"properties": {"type": "AND", "values": [{"key": "x", "type": "event", "value": "1"}]}}
    behavioral = {"properties": {"type": "AND", "values": [{"key": "Play", "type": "behavioral", "value": "did"}]}}
    for definition in ({}, event_rule, behavioral):
        with runtime.meta.session() as session, session.begin(), pytest.raises(service.CohortError):
            service.create_dynamic(session, runtime.engine, music["id"], "Bad", definition)


def test_membership_add_and_remove(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    cohort = upload(client, music, name="Changing", id_type="BY_USER_ID", ids=["alice"]).json()["cohortId"]
    assert segmentation(client, music, in_cohort(cohort)) == [[1, 1]]
    r = client.post(
        "/api/3/cohorts/membership",
        json={
            "cohort_id": cohort,
            "memberships": [
                {"ids": [amplitude_id(runtime, music, "bob01"), 99], "id_type": "BY_ID", "operation": "ADD"},
                {"ids": ["alice", "ghost"], "id_type": "BY_NAME", "operation": "REMOVE"},
            ],
        },
        auth=_auth(music),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "cohort_id": cohort,
        "memberships_result": [
            {"skipped_ids": [99], "id_type": "BY_ID", "operation": "ADD"},
            {"skipped_ids": ["ghost"], "id_type": "BY_NAME", "operation": "REMOVE"},
        ],
    }
    assert segmentation(client, music, in_cohort(cohort)) == [[1, 0]]  # bob01 only
    replaced = upload(client, music, id_type="BY_USER_ID", ids=["carol", "dave1"], existing_cohort_id=cohort)
    assert replaced.json()["cohortId"] == cohort
    assert segmentation(client, music, in_cohort(cohort)) == [[1, 1]]  # dave1 (carol never played)
    listed = client.get("/api/3/cohorts", auth=_auth(music)).json()["cohorts"]
    assert next(c for c in listed if c["id"] == cohort)["size"] == 2


def test_download(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    cohort = upload(client, music, name="Download", id_type="BY_USER_ID", ids=["alice", "dave1"]).json()["cohortId"]
    auth = _auth(music)
    r = client.get(f"/api/5/cohorts/request/{cohort}", params=[("props", "1"), ("propKeys", "gp:plan")], auth=auth)
    assert r.status_code == 202, r.text
    request_id = r.json()["request_id"]
    assert r.json()["cohort_id"] == cohort
    status = client.get(f"/api/5/cohorts/request-status/{request_id}", auth=auth)
    assert status.status_code == 200
    assert status.json() == {"request_id": request_id, "cohort_id": cohort, "async_status": "JOB COMPLETED"}
    file = client.get(f"/api/5/cohorts/request/{request_id}/file", auth=auth)
    assert file.status_code == 200 and file.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(file.text)))
    rows = [[str(amplitude_id(runtime, music, user)), user, "pro"] for user in ("alice", "dave1")]
    expected = sorted(rows, key=lambda row: int(row[0]))
    assert table == [["amplitude_id", "user_id", "gp:plan"], *expected]
    everything = client.get(f"/api/5/cohorts/request/{cohort}", params={"props": "1"}, auth=auth).json()
    table = list(
        csv.reader(io.StringIO(client.get(f"/api/5/cohorts/request/{everything['request_id']}/file", auth=auth).text))
    )
    assert table[0] == ["amplitude_id", "user_id", "plan"]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "ids": ["alice"]}, "id_type"),
        ({"name": "x", "id_type": "BY_EMAIL", "ids": ["alice"]}, "id_type"),
        ({"name": "x", "id_type": "BY_USER_ID", "ids": "alice"}, "ids must be a list"),
        ({"id_type": "BY_USER_ID", "ids": ["alice"]}, "name is required"),
        ({"name": "x", "id_type": "BY_USER_ID", "ids": ["alice"], "skip_invalid_ids": "no"}, "skip_invalid_ids"),
        ({"name": "x", "id_type": "BY_USER_ID", "ids": [{"a": 1}, "zed"], "skip_invalid_ids": False}, "match no user"),
        ({"name": "x", "id_type": "BY_USER_ID", "ids": ["alice"], "existing_cohort_id": "99999999"}, "not found"),
    ],
)
def test_bad_uploads(client: TestClient, music: dict[str, Any], body: dict[str, Any], message: str) -> None:
    r = upload(client, music, **body)
    assert r.status_code in (400, 404), r.text
    error = r.json()
    assert error["http_code"] == r.status_code and message in error["message"]
    if "match no user" in message:
        assert error["metadata"] == {"invalid_ids_sample": [{"a": 1}, "zed"]}


def test_bad_requests_are_400s(client: TestClient, runtime: Runtime, music: dict[str, Any]) -> None:
    auth = _auth(music)
    assert client.post("/api/3/cohorts/upload", content=b"{nope", auth=auth).status_code == 400
    assert client.post("/api/3/cohorts/upload", json=[1], auth=auth).status_code == 400
    with runtime.meta.session() as session, session.begin():
        dynamic = service.create_dynamic(session, runtime.engine, music["id"], "Pro again", PRO).id
    change = {"ids": ["alice"], "id_type": "BY_NAME", "operation": "ADD"}
    for body in (
        {"cohort_id": dynamic, "memberships": [change]},
        {"cohort_id": dynamic, "memberships": []},
        {"cohort_id": dynamic, "memberships": [{**change, "operation": "MOVE"}]},
        {"cohort_id": dynamic, "memberships": [change], "count_group": "Company"},
    ):
        r = client.post("/api/3/cohorts/membership", json=body, auth=auth)
        assert r.status_code == 400 and r.json()["http_code"] == 400, (body, r.text)
    for segment in (
        [{"prop": "userdata_cohort", "op": "contains", "values": ["1"]}],
        [{"prop": "userdata_cohort", "op": ["is"], "values": ["1"]}],
        [{"prop": "userdata_cohort", "op": "is", "values": ["abc"]}],
        [{"prop": "userdata_cohort", "op": "is", "values": []}],
    ):
        params = {
            "e": json.dumps({"event_type": "Play"}),
            "start": "20240301",
            "end": "20240302",
            "s": json.dumps(segment),
        }
        r = client.get("/api/2/events/segmentation", params=params, auth=auth)
        assert r.status_code == 400 and r.text.startswith("HTTP 400: Bad Request ("), r.text
    assert client.get("/api/5/cohorts/request-status/nope", auth=auth).status_code == 404
    assert client.get("/api/5/cohorts/request/nope/file", auth=auth).status_code == 404
    assert client.get("/api/5/cohorts/request/abc", auth=auth).status_code == 404


def test_auth_required(client: TestClient, music: dict[str, Any]) -> None:
    for method, path in (
        ("GET", "/api/3/cohorts"),
        ("GET", "/api/5/cohorts/request/1"),
        ("GET", "/api/5/cohorts/request-status/x"),
        ("GET", "/api/5/cohorts/request/x/file"),
        ("POST", "/api/3/cohorts/upload"),
        ("POST", "/api/3/cohorts/membership"),
    ):
        assert client.request(method, path).status_code == 401
        assert client.request(method, path, auth=(music["api_key"], "wrong")).status_code == 401


def test_tenancy(client: TestClient, music: dict[str, Any], other: dict[str, Any]) -> None:
    cohort = upload(client, music, name="Mine", id_type="BY_USER_ID", ids=["alice"]).json()["cohortId"]
    request_id = client.get(f"/api/5/cohorts/request/{cohort}", auth=_auth(music)).json()["request_id"]
    theirs = _auth(other)
    assert client.get(f"/api/5/cohorts/request/{cohort}", auth=theirs).status_code == 404
    assert client.get(f"/api/5/cohorts/request-status/{request_id}", auth=theirs).status_code == 404
    assert client.get(f"/api/5/cohorts/request/{request_id}/file", auth=theirs).status_code == 404
    assert upload(client, other, id_type="BY_USER_ID", ids=["alice"], existing_cohort_id=cohort).status_code == 404
    change = {"cohort_id": cohort, "memberships": [{"ids": ["alice"], "id_type": "BY_NAME", "operation": "REMOVE"}]}
    assert client.post("/api/3/cohorts/membership", json=change, auth=theirs).status_code == 404
    assert all(c["id"] != cohort for c in client.get("/api/3/cohorts", auth=theirs).json()["cohorts"])
    # Project B's own alice is not a member of project A's cohort.
    assert segmentation(client, other, None) == [[1, 0]]
    assert segmentation(client, other, in_cohort(cohort)) == [[0, 0]]
    assert segmentation(client, music, in_cohort(cohort)) == [[1, 1]]


def test_dynamic_cohort_refreshes_in_the_background(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person who comes to match a dynamic cohort counts in it once the server's refresher has run: no one
    asks for a refresh. The server's refresher waits FOOTFALL_COHORT_REFRESH_SECONDS; this one 0.2 s."""
    monkeypatch.setenv("FOOTFALL_COHORT_REFRESH_SECONDS", "7")
    assert Settings().cohort_refresh_seconds == 7
    assert runtime.cohort_refresher.max_age == dt.timedelta(seconds=runtime.settings.cohort_refresh_seconds)
    project = new_project(runtime, "UTC")
    pro = {"user_properties": {"plan": "pro"}}
    send(client, project, [{"user_id": "alice", "event_type": "Play", "time": "2024-03-01T10:00:00", **pro}])
    flush(runtime)
    with runtime.meta.session() as session, session.begin():
        cohort_id = service.create_dynamic(session, runtime.engine, project["id"], "Pro", PRO).id
    send(client, project, [{"user_id": "erin1", "event_type": "Play", "time": "2024-03-02T10:00:00", **pro}])
    flush(runtime)
    assert segmentation(client, project, in_cohort(cohort_id)) == [[1, 0]]  # computed before erin was pro
    refresher = service.Refresher(runtime.meta, runtime.engine, dt.timedelta(seconds=0.2))
    refresher.start()
    try:
        deadline = time.monotonic() + 20
        while segmentation(client, project, in_cohort(cohort_id)) != [[1, 1]] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        refresher.stop()
    assert segmentation(client, project, in_cohort(cohort_id)) == [[1, 1]]
    with runtime.meta.session() as session:
        assert rows.get_cohort(session, project["id"], cohort_id).count == 2
