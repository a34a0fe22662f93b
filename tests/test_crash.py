"""kill -9 under load: every acknowledged event is stored exactly once (DESIGN rule 3).

Load threads post many small batches, mixing PostHog /batch/ and Amplitude /2/httpapi (with identity
merges in both), while the server is SIGKILLed several times at random moments and restarted on the same
data dir. A request that gets no answer is retried with the same payload, as the SDKs do, so an event may
reach the log twice and the dedupe must keep one. Each event carries a unique key (the PostHog uuid or the
Amplitude insert_id, copied into a property) and the test records exactly which requests got a 200.

At the end: stored keys == acknowledged keys (+ possibly keys of requests that never got an answer), each
exactly once, and every event counts for the person its distinct_id belongs to now.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from footfall.query.persons import EVENTS_WITH_PERSON
from tests.conftest import ServerProcess
from tests.stored import engine, query_stored

KILLS = int(os.environ.get("FOOTFALL_CRASH_KILLS", "4"))  # raise it locally to stress harder
THREADS = 3


@dataclass
class Ledger:
    """What the clients know: acknowledged keys, keys whose request never got an answer, and what was sent."""

    acked: set[str] = field(default_factory=set)
    unanswered: set[str] = field(default_factory=set)
    sent: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (event, distinct_id)
    refused: list[str] = field(default_factory=list)  # non-200 answers (none are expected)
    requests: int = 0
    ambiguous: int = 0  # attempts cut off by a kill after reaching the server
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _batch(rng: random.Random, thread: int, api_key: str) -> tuple[str, dict[str, Any], dict[str, tuple[str, str]]]:
    """One small request: (path, body, {key: (event, distinct_id)})."""
    now = dt.datetime.now(dt.UTC)
    events: dict[str, tuple[str, str]] = {}
    size = rng.randint(1, 8)
    if rng.random() < 0.5:
        batch = []
        for _ in range(size):
            key = str(uuid.uuid4())
            anon = f"t{thread}-anon-{rng.randrange(30)}"
            if rng.random() < 0.15:
                user = f"t{thread}-user-{rng.randrange(6)}"
                props = {"k": key, "$anon_distinct_id": anon}
                event = {"event": "$identify", "distinct_id": user, "properties": props, "$set": {"seen_by": thread}}
                events[key] = ("$identify", user)
            else:
                event = {"event": "ph_event", "distinct_id": anon, "properties": {"k": key}}
                events[key] = ("ph_event", anon)
            batch.append({**event, "uuid": key, "timestamp": now.isoformat()})
        return "/batch/", {"api_key": api_key, "batch": batch}, events
    amp = []
    for _ in range(size):
        key = str(uuid.uuid4())
        event: dict[str, Any] = {
            "event_type": "amp_event",
            "device_id": f"t{thread}-device-{rng.randrange(30)}",
            "insert_id": key,
            "time": int(now.timestamp() * 1000),
            "event_properties": {"k": key},
        }
        if rng.random() < 0.15:
            event["user_id"] = f"t{thread}-amp-user-{rng.randrange(6)}"
        amp.append(event)
        events[key] = ("amp_event", event.get("user_id") or event["device_id"])
    return "/2/httpapi", {"api_key": api_key, "events": amp}, events


def _generate(url: str, api_key: str, thread: int, seed: int, stop: threading.Event, ledger: Ledger) -> None:
    rng = random.Random(seed * 100 + thread)
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            path, body, events = _batch(rng, thread, api_key)
            content = orjson.dumps(body)
            with ledger.lock:
                ledger.sent.update(events)
            attempts = 0
            while True:
                attempts += 1
                try:
                    response = client.post(url + path, content=content, headers={"content-type": "application/json"})
                except httpx.ConnectError:  # the server is down: this attempt never reached it
                    time.sleep(0.05)
                    if not stop.is_set():
                        continue
                    with ledger.lock:
                        ledger.unanswered.update(events)
                    break
                except httpx.HTTPError:  # killed mid-request: the batch may or may not be in the log
                    with ledger.lock:
                        ledger.ambiguous += 1
                    if stop.is_set() or rng.random() < 0.5:  # give up on it, or send the same payload again
                        with ledger.lock:
                            ledger.unanswered.update(events)
                        break
                    time.sleep(0.05)
                    continue
                with ledger.lock:
                    ledger.requests += 1
                    ledger.retries += attempts - 1
                    if response.status_code == 200:
                        ledger.acked.update(events)
                    else:
                        ledger.refused.append(f"{response.status_code} {response.text[:200]}")
                        ledger.unanswered.update(events)
                break


@pytest.mark.slow
def test_acknowledged_events_survive_kill_9_exactly_once(tmp_path: Path) -> None:
    seed = int(os.environ.get("FOOTFALL_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    # Frequent small flushes, so kills land in the middle of flushes as well as of requests.
    server = ServerProcess(tmp_path / "data", env={"FOOTFALL_FLUSH_INTERVAL_MS": "20"})
    project = json.loads(server.cli("project", "create", "crash", "--json").stdout)
    ledger = Ledger()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_generate, args=(server.url, project["api_key"], t, seed, stop, ledger), daemon=True)
        for t in range(THREADS)
    ]
    try:
        server.start()
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.4, 2.0))
            server.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            server.start()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        server.wait_flushed(timeout=60)
    finally:
        stop.set()
        server.stop()

    rows, other_projects, distinct_ids = query_stored(
        server.data_dir,
        engine(
            f"SELECT JSONExtractString(properties, 'k'), event, distinct_id, toString(pid) FROM {EVENTS_WITH_PERSON}",
            {"project": project["id"]},
        ),
        engine("SELECT count() FROM events WHERE project_id != {project:UInt32}", {"project": project["id"]}),
        engine(
            "SELECT distinct_id, toString(argMax(person_id, version)) FROM person_distinct_ids"
            " WHERE project_id = {project:UInt32} GROUP BY distinct_id",
            {"project": project["id"]},
        ),
    )
    context = (
        f"seed={seed} requests={ledger.requests} retries={ledger.retries} acked={len(ledger.acked)}"
        f" ambiguous={ledger.ambiguous} unanswered={len(ledger.unanswered)} stored={len(rows)}"
    )
    print(context)  # shown with -s or on failure
    assert ledger.refused == [], context
    assert len(ledger.acked) > 50, context  # the load really ran
    stored = collections.Counter(row[0] for row in rows)
    duplicated = {key: n for key, n in stored.items() if n > 1}
    assert duplicated == {}, context
    lost = ledger.acked - stored.keys()
    assert lost == set(), context
    # Beyond the acknowledged ones, only events of requests that got no answer (each at most once).
    assert stored.keys() - ledger.acked <= ledger.unanswered, context
    assert other_projects == [[0]]
    # Rows are what was sent, and identity replayed consistently: each event counts for the person its
    # distinct_id belongs to now (merges applied to older events too).
    assert all(ledger.sent[key] == (event, distinct_id) for key, event, distinct_id, _ in rows), context
    person_of = dict(distinct_ids)
    wrong = [row for row in rows if person_of.get(row[2]) != row[3]]
    assert wrong == [], context
