"""The real `posthog` Python SDK against `footfall serve`: events, person merges and groups stored exactly.

One client runs in `sync_mode` (one request per call, so identity is resolved in call order); a second one
batches in its background thread with `gzip=True` and is flushed.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from posthog import Posthog
from posthog.utils import system_context
from posthog.version import VERSION

from footfall.ingest.event import person_uuid
from footfall.query.persons import EVENTS_WITH_PERSON
from tests.conftest import ServerProcess
from tests.stored import engine, meta, query_stored

pytestmark = pytest.mark.slow

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)

# What posthog-python adds to every message it sends; `capture` also adds the system context.
LIB = {"$lib": "posthog-python", "$lib_version": VERSION, "$geoip_disable": True, "$is_server": True}


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def captured(properties: dict[str, Any]) -> dict[str, Any]:
    """The properties a `capture` call sends: the caller's, the system context and the library's."""
    return {**properties, **system_context(), **LIB}


def test_sdk_events_merges_and_groups_are_stored_exactly(server: ServerProcess) -> None:
    server.start()
    project = json.loads(server.cli("project", "create", "posthog-sdk", "--json").stdout)
    other = json.loads(server.cli("project", "create", "posthog-other", "--json").stdout)
    errors: list[Any] = []

    def on_error(error: Exception, batch: list[dict[str, Any]]) -> None:
        errors.append(error)

    client = Posthog(project["api_key"], host=server.url, sync_mode=True, on_error=on_error)
    pageview_props = {"$current_url": "https://example.com/", "plan_viewed": "pro"}
    clicked_props = {"button": "signup", "$set_once": {"initial_referrer": "google"}}
    identify_props = {"$anon_distinct_id": "anon-ph-1", "$set": {"email": "u1@example.com"}}
    # Each call returns the uuid the SDK sent; one request per call, in this order.
    uuids = [
        client.capture("$pageview", distinct_id="anon-ph-1", properties=pageview_props, timestamp=at(1)),
        client.capture("clicked", distinct_id="anon-ph-1", properties=clicked_props, timestamp=at(2)),
        # A user known before the identify: two persons exist, the anonymous one is merged into the user's.
        client.capture("logged_in", distinct_id="user-ph-1", timestamp=at(3)),
        client.capture("$identify", distinct_id="user-ph-1", properties=identify_props, timestamp=at(4)),
        client.set(distinct_id="user-ph-1", properties={"plan": "pro"}, timestamp=at(5)),
        client.set_once(
            distinct_id="user-ph-1", properties={"email": "ignored@example.com", "first_plan": "free"}, timestamp=at(6)
        ),
        # A second anonymous id, aliased to the user afterwards: merged too.
        client.capture("$pageview", distinct_id="anon-ph-2", timestamp=at(7)),
        client.alias(previous_id="user-ph-1", distinct_id="anon-ph-2", timestamp=at(8)),
        client.group_identify(
            "company", "acme", {"name": "Acme", "employees": 11}, timestamp=at(9), distinct_id="user-ph-1"
        ),
        client.capture(
            "purchased",
            distinct_id="user-ph-1",
            properties={"amount": 42},
            groups={"company": "acme"},
            timestamp=at(10),
        ),
        # Personless: no person is created or changed.
        client.capture(
            "server_ping",
            distinct_id="anon-ph-3",
            properties={"$process_person_profile": False, "$set": {"ignored": True}},
            timestamp=at(11),
        ),
    ]
    assert all(isinstance(u, str) for u in uuids), uuids
    # A retry of an event already stored (same uuid, a later request) is dropped.
    retry = client.capture("clicked", distinct_id="anon-ph-1", properties=clicked_props, timestamp=at(2), uuid=uuids[1])
    assert retry == uuids[1]
    client.shutdown()

    # Batched in one gzipped request; the repeated uuid is stored once.
    gz = Posthog(project["api_key"], host=server.url, gzip=True, flush_at=100, flush_interval=60, on_error=on_error)
    repeated = str(uuid.uuid4())
    gz.capture("gz_one", distinct_id="anon-ph-1", properties={"n": 12}, timestamp=at(12))
    gz.capture("gz_two", distinct_id="anon-ph-1", properties={"n": 13}, timestamp=at(13), uuid=repeated)
    gz.capture("gz_two", distinct_id="anon-ph-1", properties={"n": 14}, timestamp=at(14), uuid=repeated)
    # In the same request: an anonymous person, then its identify to an unseen user (who joins it).
    gz.capture("gz_anon", distinct_id="anon-ph-5", timestamp=at(15))
    gz.capture("$identify", distinct_id="user-ph-2", properties={"$anon_distinct_id": "anon-ph-5"}, timestamp=at(16))
    # Personless for a known distinct_id: the event still belongs to that person, who is not changed.
    personless = {"$process_person_profile": False, "$set": {"plan": "ignored"}}
    gz.capture("bg_job", distinct_id="user-ph-1", properties=personless, timestamp=at(17))
    gz.flush()
    gz.shutdown()
    assert errors == []

    server.wait_flushed()
    server.stop()
    p = {"project": project["id"]}
    events, persons, distinct_ids, overrides, other_count, groups = query_stored(
        server.data_dir,
        engine(
            "SELECT event, distinct_id, toString(uuid), toString(pid), properties, person_properties,"
            f" toUnixTimestamp64Milli(timestamp), library FROM {EVENTS_WITH_PERSON} ORDER BY timestamp",
            p,
        ),
        engine(
            "SELECT toString(id), argMax(properties, version), argMax(is_identified, version),"
            " argMax(is_deleted, version) FROM persons WHERE project_id = {project:UInt32} GROUP BY id",
            p,
        ),
        engine(
            "SELECT distinct_id, toString(argMax(person_id, version)) FROM person_distinct_ids"
            " WHERE project_id = {project:UInt32} GROUP BY distinct_id ORDER BY distinct_id",
            p,
        ),
        engine(
            "SELECT toString(old_person_id), toString(argMax(person_id, version)) FROM person_overrides"
            " WHERE project_id = {project:UInt32} GROUP BY old_person_id ORDER BY 1",
            p,
        ),
        engine("SELECT count() FROM events WHERE project_id = {project:UInt32}", {"project": other["id"]}),
        meta(
            "SELECT group_type, group_key, properties FROM groups WHERE project_id = :project",
            {"project": project["id"]},
        ),
    )

    def pu(distinct_id: str) -> str:
        return person_uuid(project["id"], distinct_id)

    user = pu("user-ph-1")
    expected = [
        ("$pageview", "anon-ph-1", user, 1),
        ("clicked", "anon-ph-1", user, 2),
        ("logged_in", "user-ph-1", user, 3),
        ("$identify", "user-ph-1", user, 4),
        ("$set", "user-ph-1", user, 5),
        ("$set_once", "user-ph-1", user, 6),
        ("$pageview", "anon-ph-2", user, 7),
        ("$create_alias", "user-ph-1", user, 8),
        ("$groupidentify", "user-ph-1", user, 9),
        ("purchased", "user-ph-1", user, 10),
        ("server_ping", "anon-ph-3", pu("anon-ph-3"), 11),
        ("gz_one", "anon-ph-1", user, 12),
        ("gz_two", "anon-ph-1", user, 13),
        ("gz_anon", "anon-ph-5", pu("anon-ph-5"), 15),
        ("$identify", "user-ph-2", pu("anon-ph-5"), 16),
        ("bg_job", "user-ph-1", user, 17),
    ]
    assert [(e[0], e[1], e[3]) for e in events] == [x[:3] for x in expected]
    # posthog-python sends `sent_at`; the server corrects the clock skew (now + timestamp - sent_at).
    for row, (*_, second) in zip(events, expected, strict=True):
        assert abs(row[6] - int(at(second).timestamp() * 1000)) < 5000, row
    assert [e[2] for e in events[:11]] == uuids
    assert events[12][2] == repeated
    assert {e[7] for e in events} == {"posthog-python"}

    props = [json.loads(e[4]) for e in events]
    person_props = [json.loads(e[5]) for e in events]
    assert props[0] == captured(pageview_props)
    assert props[1] == captured({"button": "signup", "$set_once": {"initial_referrer": "google"}})
    assert props[3] == captured({"$anon_distinct_id": "anon-ph-1", "$set": {"email": "u1@example.com"}})
    assert props[4] == LIB  # set/set_once carry their maps at the top level
    assert props[7] == {"alias": "anon-ph-2", **LIB}
    group_set = {"$group_type": "company", "$group_key": "acme", "$group_set": {"name": "Acme", "employees": 11}}
    assert props[8] == {**group_set, **LIB}
    assert props[9] == captured({"amount": 42, "$groups": {"company": "acme"}})
    assert props[10] == captured({"$process_person_profile": False, "$set": {"ignored": True}})
    assert props[12] == captured({"n": 13})

    # Person properties as they were at each event.
    assert person_props[0] == {}
    assert person_props[1] == {"initial_referrer": "google"}
    assert person_props[2] == {}
    assert person_props[3] == {"email": "u1@example.com", "initial_referrer": "google"}
    final = {"email": "u1@example.com", "initial_referrer": "google", "plan": "pro", "first_plan": "free"}
    assert person_props[5] == final
    assert person_props[9] == final
    assert person_props[10] == {}  # personless
    assert person_props[15] == {}

    # One person, counted once, including the anonymous events from before the merges.
    assert len({e[3] for e in events if e[1] in ("anon-ph-1", "anon-ph-2", "user-ph-1")}) == 1
    assert len({e[3] for e in events}) == 3
    assert sorted([pid, json.loads(pr), ident, deleted] for pid, pr, ident, deleted in persons) == sorted(
        [
            [user, final, 1, 0],
            [pu("anon-ph-1"), {}, 0, 1],
            [pu("anon-ph-2"), {}, 0, 1],
            [pu("anon-ph-5"), {}, 1, 0],
        ]
    )
    assert distinct_ids == [
        ["anon-ph-1", user],
        ["anon-ph-2", user],
        ["anon-ph-5", pu("anon-ph-5")],
        ["user-ph-1", user],
        ["user-ph-2", pu("anon-ph-5")],
    ]
    assert overrides == sorted([[pu("anon-ph-1"), user], [pu("anon-ph-2"), user]])
    assert groups == [["company", "acme", json.dumps({"name": "Acme", "employees": 11})]]
    assert other_count == [[0]]
