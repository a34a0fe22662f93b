"""Tenancy and ownership of the data dir.

- A project's key writes into that project only, whatever else the body says; queries scoped by project
  see only that project's rows, persons and merges.
- The CLI creates projects and keys with the server running (routed through its admin channel) and
  without it (taking the data-dir lock, one command after the other).
- A second `footfall serve` on a data dir in use refuses to start, says why, and harms nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from footfall.ingest.event import person_uuid
from footfall.query.persons import CURRENT_PERSONS, EVENTS_WITH_PERSON
from tests.conftest import ServerProcess, free_port
from tests.stored import engine, meta, query_stored

pytestmark = pytest.mark.slow

T0 = 1_709_251_200_000  # 2024-03-01T00:00:00Z


def _plain(stderr: str) -> str:
    """CLI error text without rich's box drawing and line wrapping."""
    return re.sub(r"[\s│╭╮╰╯─]+", " ", stderr)


def _project(server: ServerProcess, name: str) -> dict[str, Any]:
    return json.loads(server.cli("project", "create", name, "--json").stdout)


def _amplitude(
    server: ServerProcess, key: str, events: list[dict[str, Any]], path: str = "/2/httpapi"
) -> httpx.Response:
    return httpx.post(server.url + path, json={"api_key": key, "events": events}, timeout=30)


def _identify(server: ServerProcess, key: str, identification: dict[str, Any]) -> httpx.Response:
    form = {"api_key": key, "identification": json.dumps(identification)}
    return httpx.post(server.url + "/identify", data=form, timeout=30)


def _posthog(server: ServerProcess, path: str, body: Any) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30)


def test_a_key_writes_only_into_its_project_and_queries_see_only_their_project(server: ServerProcess) -> None:
    server.start()
    a, b = _project(server, "tenant-a"), _project(server, "tenant-b")
    ka, kb = a["api_key"], b["api_key"]
    ok = []
    # The same ids in both projects.
    ok.append(_amplitude(server, ka, [{"device_id": "dev-shared", "event_type": "A-open", "time": T0 + 1}]))
    ok.append(_amplitude(server, kb, [{"device_id": "dev-shared", "event_type": "B-open", "time": T0 + 2}]))
    ok.append(
        _amplitude(
            server,
            ka,
            [{"user_id": "user-shared", "device_id": "dev-shared", "event_type": "A-login", "time": T0 + 3}],
            "/batch",
        )
    )
    # The batch's api_key decides; per-event tokens of another project are ignored.
    ok.append(
        _posthog(
            server,
            "/batch/",
            {
                "api_key": ka,
                "batch": [
                    {
                        "event": "A-batch",
                        "distinct_id": "anon-shared",
                        "token": kb,
                        "properties": {"token": kb, "$token": kb},
                        "timestamp": "2024-03-01T00:00:00.004Z",
                    }
                ],
            },
        )
    )
    ok.append(
        _posthog(
            server,
            "/i/v0/e/",
            {"event": "B-e", "distinct_id": "anon-shared", "token": kb, "timestamp": "2024-03-01T00:00:00.005Z"},
        )
    )
    ok.append(_identify(server, kb, {"user_id": "user-shared", "user_properties": {"$set": {"team": "b"}}}))
    ok.append(_identify(server, ka, {"user_id": "user-shared", "user_properties": {"$set": {"team": "a"}}}))
    # In B only: the anonymous id is merged into B's user.
    ok.append(
        _posthog(
            server,
            "/e/",
            {
                "event": "$identify",
                "distinct_id": "user-shared",
                "properties": {"$anon_distinct_id": "anon-shared", "token": kb},
                "timestamp": "2024-03-01T00:00:00.006Z",
            },
        )
    )
    assert [r.status_code for r in ok] == [200] * len(ok), [r.text for r in ok]

    # Refused outright, nothing stored: unknown keys, a secret key, a personal key, mixed tokens.
    refused = [
        _amplitude(server, "no-such-key", [{"device_id": "dev-shared", "event_type": "X", "time": T0}]),
        _amplitude(server, a["secret_key"], [{"device_id": "dev-shared", "event_type": "X", "time": T0}]),
        _posthog(server, "/batch/", {"api_key": "no-such-key", "batch": [{"event": "X", "distinct_id": "d"}]}),
        _posthog(server, "/e/", {"event": "X", "distinct_id": "d", "token": "phx_notaprojectkey"}),
        _posthog(server, "/e/", [{"event": "X", "distinct_id": "d", "token": k} for k in (ka, kb)]),
    ]
    assert [r.status_code for r in refused] == [400, 400, 403, 401, 400]
    assert refused[0].json() == {"code": 400, "error": "Invalid API key: no-such-key"}

    server.wait_flushed()
    server.stop()

    def scoped(project: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        p = {"project": project["id"]}
        return [
            engine(f"SELECT event, distinct_id, toString(pid) FROM {EVENTS_WITH_PERSON} ORDER BY timestamp", p),
            engine(
                "SELECT distinct_id, toString(argMax(person_id, version)) FROM person_distinct_ids"
                " WHERE project_id = {project:UInt32} GROUP BY distinct_id ORDER BY distinct_id",
                p,
            ),
            engine(
                "SELECT toString(old_person_id), toString(argMax(person_id, version)) FROM person_overrides"
                " WHERE project_id = {project:UInt32} GROUP BY old_person_id",
                p,
            ),
            meta("SELECT id, properties FROM persons WHERE project_id = :project ORDER BY id", p),
            engine(f"SELECT toString(id), properties FROM {CURRENT_PERSONS}", p),
        ]

    (ev_a, dids_a, over_a, persons_a, current_a, ev_b, dids_b, over_b, persons_b, current_b, per_project) = (
        query_stored(
            server.data_dir,
            *scoped(a),
            *scoped(b),
            engine("SELECT project_id, count() FROM events GROUP BY project_id ORDER BY project_id"),
        )
    )

    def pa(d: str) -> str:
        return person_uuid(a["id"], d)

    def pb(d: str) -> str:
        return person_uuid(b["id"], d)

    # A: the device got a user_id (joins the device's person); "anon-shared" is a person of its own.
    assert ev_a == [
        ["A-open", "dev-shared", pa("dev-shared")],
        ["A-login", "user-shared", pa("dev-shared")],
        ["A-batch", "anon-shared", pa("anon-shared")],
        ["$identify", "user-shared", pa("dev-shared")],
    ]
    assert dids_a == [
        ["anon-shared", pa("anon-shared")],
        ["dev-shared", pa("dev-shared")],
        ["user-shared", pa("dev-shared")],
    ]
    assert over_a == []
    assert [[pid, json.loads(props)] for pid, props in persons_a] == sorted(
        [[pa("dev-shared"), {"team": "a"}], [pa("anon-shared"), {}]]
    )
    # B: the anonymous person was merged into the user's; the override applies to B's query only.
    assert [row[:2] for row in ev_b] == [
        ["B-open", "dev-shared"],
        ["B-e", "anon-shared"],
        ["$identify", "user-shared"],
        ["$identify", "user-shared"],
    ]
    assert [row[2] for row in ev_b] == [pb("dev-shared"), pb("user-shared"), pb("user-shared"), pb("user-shared")]
    assert dids_b == [
        ["anon-shared", pb("user-shared")],
        ["dev-shared", pb("dev-shared")],
        ["user-shared", pb("user-shared")],
    ]
    assert over_b == [[pb("anon-shared"), pb("user-shared")]]
    assert [[pid, json.loads(props)] for pid, props in persons_b] == sorted(
        [[pb("dev-shared"), {}], [pb("user-shared"), {"team": "b"}]]
    )
    assert {row[2] for row in ev_a}.isdisjoint({row[2] for row in ev_b})
    # The engine's person mirror, read through the scoped query, agrees with the metadata store.
    for current, persons in ((current_a, persons_a), (current_b, persons_b)):
        assert sorted([pid, json.loads(props)] for pid, props in current) == [[p, json.loads(x)] for p, x in persons]
    assert per_project == [[a["id"], 4], [b["id"], 4]]


def test_cli_creates_projects_and_keys_with_and_without_the_server(server: ServerProcess) -> None:
    # No server: each command takes the data-dir lock; concurrent commands wait for each other.
    offline = _project(server, "offline-1")
    offline_key = json.loads(server.cli("key", "create", "--scopes", "query:read", "--json").stdout)
    assert set(offline_key) == {"key"} and offline_key["key"].startswith("phx_")
    with ThreadPoolExecutor(2) as pool:
        concurrent = list(pool.map(lambda i: _project(server, f"offline-c{i}"), range(2)))
    assert sorted(p["name"] for p in concurrent) == ["offline-c0", "offline-c1"]

    # With the server holding the data dir, the same commands run inside it.
    server.start()
    online = _project(server, "online-1")
    online_key = json.loads(server.cli("key", "create", "--json").stdout)
    assert online_key["key"].startswith("phx_") and online_key["key"] != offline_key["key"]
    for project in (offline, online):  # both keys work for ingestion right away
        r = _amplitude(server, project["api_key"], [{"device_id": "device-1", "event_type": "E", "time": T0}])
        assert r.status_code == 200, r.text
    with pytest.raises(subprocess.CalledProcessError) as failed:
        server.cli("project", "create", "online-1")
    assert "a project named 'online-1' exists already" in _plain(failed.value.stderr)
    server.wait_flushed()
    server.stop()
    with pytest.raises(subprocess.CalledProcessError) as failed:
        server.cli("project", "create", "offline-1")
    assert "a project named 'offline-1' exists already" in _plain(failed.value.stderr)

    projects, keys, counts = query_stored(
        server.data_dir,
        meta("SELECT id, name, api_key FROM projects ORDER BY id"),
        meta("SELECT lookup, scopes FROM personal_api_keys ORDER BY id"),
        engine("SELECT project_id, count() FROM events GROUP BY project_id ORDER BY project_id"),
    )
    created = [offline, *sorted(concurrent, key=lambda p: p["id"]), online]
    assert projects == [[p["id"], p["name"], p["api_key"]] for p in created]
    assert keys == [[offline_key["key"][:12], '["query:read"]'], [online_key["key"][:12], '["*"]']]
    assert counts == [[offline["id"], 1], [online["id"], 1]]


def test_a_second_server_on_the_same_data_dir_refuses_to_start(server: ServerProcess) -> None:
    server.start()
    assert server.proc is not None
    project = _project(server, "owner")

    def send(n: int) -> None:
        events = [
            {"device_id": "device-1", "event_type": "E", "insert_id": f"e-{n}-{i}", "time": T0 + i} for i in range(5)
        ]
        r = _amplitude(server, project["api_key"], events)
        assert r.status_code == 200, r.text

    send(0)
    second = subprocess.run(
        [sys.executable, "-m", "footfall", "serve", "--port", str(free_port()), "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=server.env,
        timeout=120,
        check=False,
    )
    assert second.returncode == 1
    assert f"is in use by pid {server.proc.pid}" in _plain(second.stderr), second.stderr

    # The first server is unharmed: it still ingests and still runs CLI commands.
    assert httpx.get(server.url + "/_health", timeout=5).json()["status"] == "ok"
    send(1)
    assert _project(server, "after-second")["name"] == "after-second"
    server.wait_flushed()
    # Killed, the server leaves its admin.json behind; the CLI must not mistake it for a running server.
    server.kill()
    assert (server.data_dir / "admin.json").exists()
    assert _project(server, "after-kill")["name"] == "after-kill"
    server.start()  # the lock died with the first server
    send(2)
    server.wait_flushed()
    server.stop()
    rows, projects = query_stored(
        server.data_dir,
        engine("SELECT insert_id FROM events WHERE project_id = {p:UInt32} ORDER BY insert_id", {"p": project["id"]}),
        meta("SELECT name FROM projects ORDER BY id"),
    )
    assert [r[0] for r in rows] == sorted(f"e-{n}-{i}" for n in range(3) for i in range(5))
    assert projects == [["owner"], ["after-second"], ["after-kill"]]
