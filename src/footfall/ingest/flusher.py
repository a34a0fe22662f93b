"""The flusher: moves acknowledged events from the write-ahead log into the engine, exactly once.

One batch is a range [start, end) of log positions. Its steps:
1. the checkpoint records the range as in flight (so a restart replays exactly that range);
2. identity is resolved in one metadata transaction (skipped mutations if already applied), which also
   records the batch's event names and property keys (`footfall.ingest.definitions`);
3. person mirrors, events and dedupe keys are inserted with deduplication tokens named by the range,
   so a replay after a crash inserts nothing twice;
4. the metadata transaction commits, with `identity_applied` = end;
5. the checkpoint moves to `end` and whole log segments before it are deleted.
A crash between any two steps replays the same range and ends in the same state.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from footfall.engine.base import Engine
from footfall.ingest.definitions import Definitions
from footfall.ingest.event import DEVICE_FIELDS
from footfall.ingest.identity import Changes, Identity
from footfall.ingest.wal import Record, WriteAheadLog
from footfall.meta.db import MetaDB
from footfall.meta.models import IngestState

log = logging.getLogger("footfall.flusher")

DEDUPE_DAYS = 7


@dataclass
class Checkpoint:
    flushed: int = 0
    inflight: tuple[int, int] | None = None

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        if not path.exists():
            return cls()
        data = orjson.loads(path.read_bytes())
        inflight = data.get("inflight")
        return cls(data["flushed"], tuple(inflight) if inflight else None)  # type: ignore[arg-type]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(orjson.dumps({"flushed": self.flushed, "inflight": self.inflight}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def dedupe_key(project_id: int, event: dict[str, Any]) -> int | None:
    """Amplitude: insert_id per device (or user); PostHog: the event uuid when the client sent one.

    Imported events: their exported uuid, which names the stored event (and is kept permanently)."""
    if event.get("imported"):
        basis = f"u\x00{event['uuid']}"
    elif event["insert_id"]:
        basis = f"i\x00{event['device_id'] or event['user_id']}\x00{event['insert_id']}"
    elif event["client_uuid"]:
        basis = f"u\x00{event['uuid']}"
    else:
        return None
    digest = hashlib.blake2b(f"{project_id}\x00{basis}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class Flusher:
    def __init__(self, wal: WriteAheadLog, engine: Engine, meta: MetaDB, max_bytes: int, interval_ms: int) -> None:
        self.wal = wal
        self.engine = engine
        self.meta = meta
        self.identity = Identity()
        self.definitions = Definitions()
        self.max_bytes = max_bytes
        self.interval = interval_ms / 1000
        self.checkpoint_path = wal.directory / "checkpoint.json"
        self.checkpoint = Checkpoint.load(self.checkpoint_path)
        self.last_flush_at: float | None = None
        self.last_error: str | None = None
        self.events_flushed = 0
        self.duplicates_dropped = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one batch at a time (thread, shutdown drain, tests)
        wal.on_append(self._wake.set)

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flusher", daemon=True)
        self._thread.start()

    def stop(self, drain: bool = True) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join()
        if drain:
            while self.flush_once():
                pass

    @property
    def lag_bytes(self) -> int:
        return self.wal.end - self.checkpoint.flushed

    @property
    def behind(self) -> bool:
        """Running, healthy and more than two batches behind: ingestion should wait for it (see routes)."""
        running = self._thread is not None and self._thread.is_alive()
        return running and self.last_error is None and self.lag_bytes > 2 * self.max_bytes

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            if self._stop.is_set():
                break
            # Gather for one interval after the first pending record, so inserts are large.
            time.sleep(self.interval)
            self._wake.clear()
            try:
                while self.flush_once() and not self._stop.is_set():
                    pass
                self.last_error = None
            except Exception as exc:  # keep the thread alive; the batch is replayed on the next wake
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("flush failed; will retry")
                self.identity.reset_cache()
                self._stop.wait(1.0)
                self._wake.set()

    # -- one batch ----------------------------------------------------------------------------------
    def flush_once(self) -> int:
        """Flush one batch; returns how many log records it covered (0 when nothing is pending)."""
        with self._lock:
            cp = self.checkpoint
            if cp.inflight:
                records = self.wal.read(cp.inflight[0], max_bytes=1 << 62, stop=cp.inflight[1])
            else:
                records = self.wal.read(cp.flushed, max_bytes=self.max_bytes)
            if not records:
                return 0
            start, end = records[0].position, records[-1].end
            if cp.inflight != (start, end):
                self.checkpoint = Checkpoint(cp.flushed, (start, end))
                self.checkpoint.save(self.checkpoint_path)
            self._flush(records, start, end)
            self.checkpoint = Checkpoint(end, None)
            self.checkpoint.save(self.checkpoint_path)
            self.wal.trim(end)
            self.last_flush_at = time.time()
            return len(records)

    def _flush(self, records: list[Record], start: int, end: int) -> None:
        # Events are read-only from here on: they may be the request handler's own objects (see the WAL).
        batches = [(r.position, orjson.loads(r.payload) if r.decoded is None else r.decoded) for r in records]
        token = f"{start}-{end}"
        with self.meta.session() as session, session.begin():
            state = session.get(IngestState, "identity_applied")
            if state is None:
                state = IngestState(key="identity_applied", value=0)
                session.add(state)
            mutate = state.value < end
            changes = Changes() if mutate else None
            keys = set()
            for _, batch in batches:
                project_id = batch["project_id"]
                for event in batch["events"]:
                    for distinct_id in (
                        event["distinct_id"],
                        event["anon_distinct_id"],
                        event["alias"],
                        event["device_id"],
                    ):
                        if distinct_id:
                            keys.add((project_id, distinct_id))
            self.identity.preload(session, keys)
            rows, dedupe_rows, dropped = self._event_rows(session, batches, changes)
            if changes:
                self.identity.persist(session, changes)
                for table, data in Identity.mirror_rows(changes, end).items():
                    self.engine.insert_json(table, data, dedup_token=f"{table}-{token}")
            if rows:
                self.engine.insert_json(
                    "events", _EVENT_HEADER + b"".join(rows), f"events-{token}", "JSONCompactEachRowWithNames"
                )
            if dedupe_rows:
                self.engine.insert_json("dedupe_keys", b"".join(dedupe_rows), dedup_token=f"dedupe-{token}")
            self.definitions.record(session, batches, changes.persons.values() if changes else ())
            state.value = max(state.value, end)
        self.definitions.commit()
        self.events_flushed += len(rows)
        self.duplicates_dropped += dropped

    def _event_rows(
        self, session: Any, batches: list[tuple[int, dict[str, Any]]], changes: Changes | None
    ) -> tuple[list[bytes], list[bytes], int]:
        event_keys = [[dedupe_key(batch["project_id"], event) for event in batch["events"]] for _, batch in batches]
        seen = self._seen_keys(batches, event_keys)
        rows: list[bytes] = []
        dedupe_rows: list[bytes] = []
        batch_keys: set[tuple[int, int]] = set()
        dropped = 0
        for (position, batch), keys in zip(batches, event_keys, strict=True):
            project_id = batch["project_id"]
            for index, (event, key) in enumerate(zip(batch["events"], keys, strict=True)):
                wal_pos = (position << 20) | index  # unique per event: batches hold < 2**20 events
                if key is not None:
                    first = seen.get((project_id, key))
                    if (first is not None and first != wal_pos) or (project_id, key) in batch_keys:
                        dropped += 1
                        continue
                    batch_keys.add((project_id, key))
                    if first is None:
                        dedupe_rows.append(
                            orjson.dumps(
                                {
                                    "project_id": project_id,
                                    "key": key,
                                    "wal_pos": wal_pos,
                                    "seen_at": event["received_at"] // 1000,
                                    "permanent": 1 if event.get("imported") else 0,
                                }
                            )
                            + b"\n"
                        )
                person_id, person_props = self.identity.resolve(session, project_id, event, changes)
                rows.append(_row(project_id, event, person_id, person_props, wal_pos))
        return rows, dedupe_rows, dropped

    def _seen_keys(
        self, batches: list[tuple[int, dict[str, Any]]], event_keys: list[list[int | None]]
    ) -> dict[tuple[int, int], int]:
        """Keys of this batch already stored within the dedupe window, with the log position they came from."""
        wanted: dict[int, set[int]] = {}
        for (_, batch), keys in zip(batches, event_keys, strict=True):
            present = [key for key in keys if key is not None]
            if present:
                wanted.setdefault(batch["project_id"], set()).update(present)
        seen: dict[tuple[int, int], int] = {}
        for project_id, keys in wanted.items():
            seen.update({(project_id, k): pos for k, pos in stored_keys(self.engine, project_id, keys).items()})
        return seen


def stored_keys(engine: Engine, project_id: int, keys: Iterable[int]) -> dict[int, int]:
    """Which of `keys` still deduplicate (permanent, or seen within the window), with their first log position."""
    rows = engine.query(
        "SELECT key, min(wal_pos) FROM dedupe_keys WHERE project_id = {p:UInt32} AND key IN {k:Array(UInt64)}"
        " AND (permanent = 1 OR seen_at >= now() - INTERVAL {d:UInt32} DAY) GROUP BY key",
        {"p": project_id, "k": sorted(keys), "d": DEDUPE_DAYS},
    )
    return {int(k): int(pos) for k, pos in rows}


# The columns `_row` writes, in its order: the header line of the JSONCompactEachRowWithNames insert.
EVENT_ROW_COLUMNS = (
    "project_id",
    "uuid",
    "event",
    "timestamp",
    "distinct_id",
    "person_id",
    "properties",
    "person_properties",
    "user_id",
    "device_id",
    "session_id",
    "session",
    "insert_id",
    "event_id",
    *DEVICE_FIELDS,
    "ip",
    "location_lat",
    "location_lng",
    "library",
    "groups",
    "group_properties",
    "user_properties",
    "extra",
    "client_upload_time",
    "received_at",
    "source",
    "wal_pos",
)
_EVENT_HEADER = orjson.dumps(EVENT_ROW_COLUMNS) + b"\n"


def _json_text(value: Any) -> Any:
    """A JSON-text column's value: a dict as an object (the engine stores its JSON text), else its JSON text."""
    return value if type(value) is dict else orjson.dumps(value).decode()


def _row(project_id: int, event: dict[str, Any], person_id: str, person_props: bytes, wal_pos: int) -> bytes:
    """One events row as a JSON array in EVENT_ROW_COLUMNS order.

    This runs for every event: an array has no keys to write (or for the engine to match), and JSON-text
    columns go in as objects, not as escaped strings, which halves the cost of a keyed row.
    """
    return (
        orjson.dumps(
            [
                project_id,
                event["uuid"],
                event["event"],
                event["timestamp"] / 1000,
                event["distinct_id"],
                person_id,
                _json_text(event["properties"]),
                orjson.Fragment(person_props),
                event["user_id"],
                event["device_id"],
                event["session_id"],
                event["session"],
                event["insert_id"],
                event["event_id"],
                *map(event.__getitem__, DEVICE_FIELDS),
                event["ip"],
                event["location_lat"],
                event["location_lng"],
                event["library"],
                _json_text(event["groups"]),
                _json_text(event["group_properties"]),
                _json_text(event["user_properties"]),
                _json_text(event["extra"]),
                event["client_upload_time"] / 1000,
                event["received_at"] / 1000,
                event["source"],
                wal_pos,
            ]
        )
        + b"\n"
    )


def identity_applied(meta: MetaDB) -> int:
    with meta.session() as session:
        return session.scalar(select(IngestState.value).where(IngestState.key == "identity_applied")) or 0
