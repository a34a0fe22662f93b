"""`footfall demo`: the generated data set looks like a real product's, and ingestion can continue on it.

One data set (20k events over 14 days) is generated for the module; the last tests generate again, which
replaces it.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from footfall import demo
from footfall.ingest.event import person_uuid
from footfall.meta.models import Person, PersonDistinctId, PersonOverride, Project
from footfall.query.persons import EVENTS_WITH_PERSON
from footfall.runtime import Runtime
from tests.conftest import flush

EVENTS, DAYS, SEED = 20_000, 14, 11
FUNNEL = ("View Item", "Add To Cart", "Checkout", "Purchase")


@pytest.fixture(scope="module")
def generated(runtime: Runtime) -> dict[str, Any]:
    with runtime.meta.session() as session:
        existed = session.scalar(select(Project.id).where(Project.name == "demo")) is not None
    progress: list[tuple[int, int]] = []
    started_ms = time.time() * 1000
    result = demo.generate(runtime, events=EVENTS, days=DAYS, seed=SEED, progress=lambda *p: progress.append(p))
    return {**result, "existed": existed, "progress": progress, "started_ms": started_ms}


def _query(runtime: Runtime, project_id: int, sql: str) -> list[list[Any]]:
    return runtime.engine.query(sql, {"project": project_id})


def _scalar(runtime: Runtime, project_id: int, sql: str) -> Any:
    return _query(runtime, project_id, sql)[0][0]


def test_result_and_progress(generated: dict[str, Any]) -> None:
    assert generated["events"] == EVENTS and generated["persons"] > 0 and generated["seconds"] >= 0
    assert generated["api_key"] and generated["project_id"]
    assert ("secret_key" in generated) == (not generated["existed"])  # shown once, when created
    progress = generated["progress"]
    assert progress[-1] == (EVENTS, EVENTS)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)


def test_exactly_the_events_asked_for_within_the_window(runtime: Runtime, generated: dict[str, Any]) -> None:
    count, first, last = _query(
        runtime,
        generated["project_id"],
        "SELECT count(), toUnixTimestamp64Milli(min(timestamp)), toUnixTimestamp64Milli(max(timestamp))"
        " FROM events WHERE project_id = {project:UInt32}",
    )[0]
    assert count == EVENTS
    assert generated["started_ms"] - DAYS * 86_400_000 - 60_000 <= first
    assert last <= time.time() * 1000


def test_funnel_converts_at_plausible_rates(runtime: Runtime, generated: dict[str, Any]) -> None:
    """Users reaching each step within a day, in order (windowFunnel): strictly fewer at every step."""
    reached = _query(
        runtime,
        generated["project_id"],
        "SELECT countIf(level >= 1), countIf(level >= 2), countIf(level >= 3), countIf(level >= 4) FROM ("
        " SELECT windowFunnel(86400000)(toUInt64(toUnixTimestamp64Milli(timestamp)),"
        "   event = 'View Item', event = 'Add To Cart', event = 'Checkout', event = 'Purchase') AS level"
        f" FROM {EVENTS_WITH_PERSON} GROUP BY pid)",
    )[0]
    assert reached[0] > reached[1] > reached[2] > reached[3] > 0, reached
    rates = [later / earlier for earlier, later in itertools.pairwise(reached)]
    assert 0.3 < rates[0] < 0.7 and 0.2 < rates[1] < 0.55 and 0.15 < rates[2] < 0.5, rates


def test_retention_decays(runtime: Runtime, generated: dict[str, Any]) -> None:
    """Share of users active N days after their first day, among users first seen at least N days ago."""
    rows = _query(
        runtime,
        generated["project_id"],
        "WITH days AS (SELECT pid, groupUniqArray(toDate(timestamp)) AS active, min(toDate(timestamp)) AS first"
        f" FROM {EVENTS_WITH_PERSON} GROUP BY pid), (SELECT max(first) FROM days) AS last"
        " SELECT n, countIf(has(active, first + n)) / count() FROM days"
        " ARRAY JOIN [1, 3, 7, 11] AS n WHERE first + n <= last GROUP BY n ORDER BY n",
    )
    shares = [share for _, share in rows]
    assert len(shares) == 4 and shares == sorted(shares, reverse=True) and len(set(shares)) == 4, rows
    assert 0.1 < shares[0] < 0.45 and shares[-1] > 0, rows


def test_platforms_countries_and_devices(runtime: Runtime, generated: dict[str, Any]) -> None:
    platforms, countries, cities, oses, versions, sources = _query(
        runtime,
        generated["project_id"],
        "SELECT groupUniqArray(platform), uniqExact(country), uniqExact(city), uniqExact(os_name),"
        " uniqExactIf(app_version, app_version != ''), groupUniqArray(source) FROM events"
        " WHERE project_id = {project:UInt32}",
    )[0]
    assert sorted(platforms) == ["Android", "Web", "iOS"]
    assert countries >= 10 and cities > countries and oses >= 3 and versions >= 2
    assert sorted(sources) == ["amplitude", "posthog"]
    top, share = _query(
        runtime,
        generated["project_id"],
        "SELECT argMax(country, c), max(c) / sum(c) FROM (SELECT country, count() AS c FROM events"
        " WHERE project_id = {project:UInt32} GROUP BY country)",
    )[0]
    assert top == "United States" and 0.2 < share < 0.5  # Zipf: one big country, a long tail


def test_sessions_are_events_about_twenty_seconds_apart(runtime: Runtime, generated: dict[str, Any]) -> None:
    sessions, per_session, gap_s = _query(
        runtime,
        generated["project_id"],
        "SELECT count(), avg(length(ts)), quantileExact(0.5)(arrayJoin(arrayDifference(ts)) / 1000) FROM ("
        " SELECT arraySort(groupArray(toUnixTimestamp64Milli(timestamp))) AS ts FROM events"
        " WHERE project_id = {project:UInt32} AND session != '' GROUP BY session HAVING length(ts) > 1)",
    )[0]
    assert sessions > 500 and 4 < per_session < 16 and 5 < gap_s < 40
    starts = _query(
        runtime,
        generated["project_id"],
        "SELECT groupUniqArray(event) FROM (SELECT argMin(event, timestamp) AS event FROM events"
        " WHERE project_id = {project:UInt32} GROUP BY session)",
    )[0][0]
    assert sorted(starts) == ["$pageview", "session_start"]


def test_posthog_events_carry_their_properties(runtime: Runtime, generated: dict[str, Any]) -> None:
    pageviews, with_url, identifies, with_anon, autocaptures = _query(
        runtime,
        generated["project_id"],
        "SELECT countIf(event = '$pageview'),"
        " countIf(event = '$pageview' AND startsWith(JSONExtractString(properties, '$current_url'), 'https://')"
        "   AND JSONExtractString(properties, '$pathname') LIKE '/%' AND JSONHas(properties, '$session_id')),"
        " countIf(event = '$identify'), countIf(event = '$identify'"
        "   AND JSONExtractString(properties, '$anon_distinct_id') = device_id AND distinct_id != device_id),"
        " countIf(event = '$autocapture') FROM events WHERE project_id = {project:UInt32}",
    )[0]
    assert pageviews > 0 and with_url == pageviews
    assert identifies > 0 and with_anon == identifies
    assert autocaptures > 0
    invalid = "SELECT countIf(NOT isValidJSON(properties)) FROM events WHERE project_id = {project:UInt32}"
    assert _scalar(runtime, generated["project_id"], invalid) == 0


def test_purchases_carry_revenue(runtime: Runtime, generated: dict[str, Any]) -> None:
    purchases, amplitude_style, revenue, posthog_revenue, consistent = _query(
        runtime,
        generated["project_id"],
        "SELECT count(),"
        " countIf(JSONHas(properties, '$price') AND JSONHas(properties, '$quantity')"
        "   AND JSONExtractString(properties, '$productId') != ''),"
        " sum(JSONExtractFloat(properties, '$revenue')), sumIf(JSONExtractFloat(properties, 'revenue'),"
        "   source = 'posthog' AND JSONHas(properties, 'price')),"
        " countIf(abs(JSONExtractFloat(properties, '$price') * JSONExtractFloat(properties, '$quantity')"
        "   - JSONExtractFloat(properties, '$revenue')) < 0.01)"
        " FROM events WHERE project_id = {project:UInt32} AND event = 'Purchase'",
    )[0]
    assert purchases > 0 and amplitude_style == purchases == consistent
    assert revenue > 0 and 0 < posthog_revenue < revenue


def test_identified_anonymous_and_merged_persons(runtime: Runtime, generated: dict[str, Any]) -> None:
    project_id = generated["project_id"]
    identified, anonymous = _query(
        runtime,
        project_id,
        "SELECT countIf(is_identified = 1), countIf(is_identified = 0) FROM persons"
        " WHERE project_id = {project:UInt32}",
    )[0]
    assert identified > 0 and anonymous > 0 and identified + anonymous == generated["persons"]
    per_person = dict(
        _query(
            runtime,
            project_id,
            "SELECT n, count() FROM (SELECT person_id, count() AS n FROM person_distinct_ids"
            " WHERE project_id = {project:UInt32} GROUP BY person_id) GROUP BY n",
        )
    )
    assert per_person.get(1, 0) > 0 and per_person.get(2, 0) > 0  # anonymous devices; device + user id
    overrides = _scalar(runtime, project_id, "SELECT count() FROM person_overrides WHERE project_id = {project:UInt32}")
    assert overrides > 0 and per_person.get(3, 0) == overrides  # a second browser merged in
    # Events of a merged-away person count for the survivor: every event's distinct id is its person's.
    assert (
        _scalar(
            runtime,
            project_id,
            f"SELECT count() FROM {EVENTS_WITH_PERSON} AS e LEFT ANY JOIN (SELECT distinct_id, person_id"
            " FROM person_distinct_ids WHERE project_id = {project:UInt32}) AS d USING distinct_id"
            " WHERE d.person_id != e.pid",
        )
        == 0
    )


def test_person_ids_are_those_ingestion_would_give(runtime: Runtime, generated: dict[str, Any]) -> None:
    """A person's id is person_uuid of the distinct id of its first event, as if ingested live."""
    project_id = generated["project_id"]
    firsts = _query(
        runtime,
        project_id,
        f"SELECT toString(pid), argMin(distinct_id, (timestamp, event_id)) FROM {EVENTS_WITH_PERSON} GROUP BY pid",
    )
    assert len(firsts) == generated["persons"]
    assert all(person_uuid(project_id, distinct_id) == pid for pid, distinct_id in firsts)


def test_metadata_holds_the_same_persons(runtime: Runtime, generated: dict[str, Any]) -> None:
    project_id = generated["project_id"]
    with runtime.meta.session() as session:
        counts = [
            session.scalar(select(func.count()).select_from(model).where(model.project_id == project_id))
            for model in (Person, PersonDistinctId, PersonOverride)
        ]
        identified = session.scalar(
            select(func.count()).where(Person.project_id == project_id, Person.is_identified.is_(True))
        )
    engine_counts = [
        _scalar(runtime, project_id, f"SELECT count() FROM {table} WHERE project_id = {{project:UInt32}}")
        for table in ("persons", "person_distinct_ids", "person_overrides")
    ]
    assert counts == engine_counts and counts[0] == generated["persons"]
    assert identified == _scalar(
        runtime, project_id, "SELECT countIf(is_identified = 1) FROM persons WHERE project_id = {project:UInt32}"
    )


def test_live_events_join_the_generated_persons(
    client: TestClient, runtime: Runtime, generated: dict[str, Any]
) -> None:
    """An Amplitude event from a known user and a PostHog event from a known anonymous browser resolve to
    the persons the generator wrote."""
    project_id = generated["project_id"]
    user_id, user_person = _query(
        runtime,
        project_id,
        "SELECT user_id, toString(person_id) FROM events WHERE project_id = {project:UInt32}"
        " AND source = 'amplitude' AND user_id != '' ORDER BY user_id LIMIT 1",
    )[0]
    device, device_person = _query(
        runtime,
        project_id,
        "SELECT distinct_id, toString(person_id) FROM events WHERE project_id = {project:UInt32}"
        " AND source = 'posthog' AND distinct_id = device_id ORDER BY distinct_id LIMIT 1",
    )[0]
    now_ms = int(time.time() * 1000)
    response = client.post(
        "/2/httpapi",
        json={"api_key": generated["api_key"], "events": [{"user_id": user_id, "event_type": "Live", "time": now_ms}]},
    )
    assert response.status_code == 200
    response = client.post(
        "/batch/",
        json={"api_key": generated["api_key"], "batch": [{"event": "Live", "distinct_id": device}]},
    )
    assert response.status_code == 200
    flush(runtime)
    live = dict(
        _query(
            runtime,
            project_id,
            "SELECT distinct_id, toString(person_id) FROM events WHERE project_id = {project:UInt32}"
            " AND event = 'Live'",
        )
    )
    assert live == {user_id: user_person, device: device_person}


def _fingerprint(runtime: Runtime, project_id: int) -> list[list[Any]]:
    return _query(
        runtime,
        project_id,
        "SELECT event, count(), uniqExact(person_id), uniqExact(country), round(sum(event_id))"
        " FROM events WHERE project_id = {project:UInt32} GROUP BY event ORDER BY event",
    )


def test_same_seed_same_data_and_a_second_run_replaces(runtime: Runtime, generated: dict[str, Any]) -> None:
    def run(seed: int) -> tuple[dict[str, Any], list[list[Any]]]:
        result = demo.generate(runtime, events=5_000, days=7, seed=seed, progress=lambda *_: None)
        return result, _fingerprint(runtime, result["project_id"])

    first, fingerprint = run(5)
    again, same = run(5)
    other, different = run(6)
    assert again["project_id"] == first["project_id"] == generated["project_id"]
    assert "secret_key" not in again  # the project existed: its secret cannot be shown again
    assert same == fingerprint and again["persons"] == first["persons"]
    assert different != fingerprint
    project_id = other["project_id"]
    assert _scalar(runtime, project_id, "SELECT count() FROM events WHERE project_id = {project:UInt32}") == 5_000
    assert (
        _scalar(runtime, project_id, "SELECT count() FROM persons WHERE project_id = {project:UInt32}")
        == other["persons"]
    )
    with runtime.meta.session() as session:
        stored = session.scalar(select(func.count()).where(Person.project_id == project_id))
    assert stored == other["persons"]
