"""`footfall import amplitude`: Amplitude export zips (footfall's own, or Amplitude's) into a project.

Events go through the write-ahead log and the flusher, so identities merge and duplicates drop exactly
as for live ingestion. What an import keeps, so that exporting again gives the same events: times,
`uuid`, `$insert_id`, user and device ids, event properties, groups, the device and place fields, the
upload times, and the fields Amplitude computes that footfall does not (kept in `extra`). The exported
`user_properties` (the person's properties at the event) are applied as `$set`, so persons get them.

Imported events are deduplicated by their uuid, permanently: importing a file twice, even weeks apart,
stores its events once. The import streams: one gzip entry at a time, one line at a time, a bounded batch
in memory, each batch flushed before the next is read (which also keeps the log small).
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import re
import uuid
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import orjson

from footfall.export.amplitude import FIELDS, KEPT_FIELDS
from footfall.ingest.event import MAX_DEPTH, clip, new_event, too_deep
from footfall.ingest.flusher import dedupe_key, stored_keys
from footfall.runtime import Runtime

BATCH_EVENTS = 5_000
SOURCE = "amplitude-import"
MAX_MS = 10413792000000  # 2300-01-01: the end of what a DateTime64(3) column holds
# Events whose uuid is missing get one derived from their line, so a re-import still deduplicates them.
LINE_NAMESPACE = uuid.UUID("5b1f8a52-3f0e-4c59-9a43-0c7c8d0e6a11")

# Export field -> footfall event field, for the plain string columns.
_STRINGS = {
    "device_carrier": "carrier",
    "city": "city",
    "platform": "platform",
    "os_name": "os_name",
    "os_version": "os_version",
    "device_brand": "device_brand",
    "device_manufacturer": "device_manufacturer",
    "device_model": "device_model",
    "device_type": "device_type",
    "country": "country",
    "region": "region",
    "dma": "dma",
    "language": "language",
    "library": "library",
    "ip_address": "ip",
    "version_name": "app_version",
}
_OBJECTS = ("event_properties", "user_properties", "groups", "group_properties")
_KNOWN = frozenset(FIELDS)
_ENTRY_ORDER = re.compile(r"_(\d{4}-\d{2}-\d{2})_(\d{1,2})#(\d+)\.json(?:\.gz)?$")
_GZIP = (".gz",)
_PLAIN = (".json", ".jsonl", ".ndjson")
_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class Skip(Exception):
    """An event the import leaves out; the message is the reason counted in the report."""


@dataclass
class Report:
    files: int = 0
    entries: int = 0
    events_read: int = 0
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    ignored_fields: Counter[str] = field(default_factory=Counter)
    ignored_entries: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "entries": self.entries,
            "events_read": self.events_read,
            "imported": self.imported,
            "skipped": dict(sorted(self.skipped.items())),
            "ignored_fields": dict(self.ignored_fields.most_common(50)),
            "ignored_entries": self.ignored_entries[:20],
        }


# -- one record ---------------------------------------------------------------------------------------
def _ms(value: Any) -> int | None:
    """Epoch milliseconds of an export time (`2024-03-02 10:59:59.999000`, ISO forms, or integer ms)."""
    if isinstance(value, str) and value:
        return _parse_ms(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < MAX_MS:
        return value
    return None


@functools.lru_cache(maxsize=4096)  # events of one upload share their upload times
def _parse_ms(value: str) -> int | None:
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    # Whole seconds from the float timestamp (exact), milliseconds from the microseconds: no rounding.
    ms = int(parsed.timestamp()) * 1000 + parsed.microsecond // 1000
    return ms if 0 <= ms < MAX_MS and parsed.year >= 1970 else None


def _id(value: Any) -> str:
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _int(value: Any, default: int) -> int:
    """An Int64 column's value (ClickHouse would wrap a larger one silently)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and -(1 << 63) <= value < 1 << 63
    return value if ok else default


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _uuid(value: Any, line: bytes) -> str:
    if isinstance(value, str):
        if _CANONICAL_UUID.fullmatch(value):
            return value.lower()
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    return str(uuid.uuid5(LINE_NAMESPACE, line.decode("utf-8", "replace")))


def to_event(record: dict[str, Any], line: bytes, now_ms: int) -> dict[str, Any]:
    """The footfall event of one export record; raises Skip with the reason when it cannot be kept."""
    event_type = record.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise Skip("missing event_type")
    user_id, device_id = _id(record.get("user_id")), _id(record.get("device_id"))
    personless = not (user_id or device_id)
    if personless and event_type != "$groupidentify":
        raise Skip("missing user_id and device_id")
    timestamp = _ms(record.get("event_time"))
    if timestamp is None:
        timestamp = _ms(record.get("client_event_time"))
    if timestamp is None:
        raise Skip("invalid event_time")
    objects: dict[str, dict[str, Any]] = {}
    for name in _OBJECTS:
        value = record.get(name)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise Skip(f"invalid {name}")
        objects[name] = value
    # Only a line with many brackets can be nested too deeply (one pass for all objects, a level down).
    if line.count(b"{") + line.count(b"[") > MAX_DEPTH and too_deep(record, MAX_DEPTH + 1):
        raise Skip("properties nested too deeply")
    received = _ms(record.get("server_upload_time")) or _ms(record.get("server_received_time")) or now_ms
    session_id = _int(record.get("session_id"), -1)
    event = new_event(
        uuid=_uuid(record.get("uuid"), line),
        client_uuid=True,
        imported=True,
        event=clip(event_type),
        timestamp=timestamp,
        distinct_id=user_id or device_id,
        properties=objects["event_properties"],
        user_id=user_id,
        device_id=device_id,
        # The person's properties as of this event: set them, so the person has them from here on.
        user_properties={"$set": objects["user_properties"]} if objects["user_properties"] else {},
        person_profile=not personless,
        session_id=session_id,
        session=f"{device_id or user_id}#{session_id}" if session_id > 0 else "",
        insert_id=_id(record.get("$insert_id")),
        event_id=_int(record.get("event_id"), 0),
        location_lat=_number(record.get("location_lat")),
        location_lng=_number(record.get("location_lng")),
        groups=objects["groups"],
        group_properties=objects["group_properties"],
        extra={name: record[name] for name in KEPT_FIELDS if record.get(name) is not None},
        client_upload_time=_ms(record.get("client_upload_time")) or received,
        received_at=received,
        source=SOURCE,
    )
    for name, target in _STRINGS.items():
        value = record.get(name)
        if value is not None:
            event[target] = clip(value)
    return event


# -- reading zips -------------------------------------------------------------------------------------
def _order(name: str) -> tuple[str, int, int, str]:
    """Upload order of an entry: by the date, hour and partition in its name (then the name)."""
    match = _ENTRY_ORDER.search(name)
    if match is None:
        return ("", 0, 0, name)
    return (match.group(1), int(match.group(2)), int(match.group(3)), name)


@dataclass(frozen=True)
class _Entry:
    archive: zipfile.ZipFile
    info: zipfile.ZipInfo


def _entries(archives: list[zipfile.ZipFile], report: Report) -> list[_Entry]:
    """Every events file of every archive (in any folder), oldest upload hour first."""
    found = []
    for archive in archives:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = PurePosixPath(info.filename).name.lower()
            if name.endswith(_GZIP + _PLAIN) and not name.startswith("."):
                found.append(_Entry(archive, info))
            else:
                report.ignored_entries.append(info.filename)
    return sorted(found, key=lambda e: _order(e.info.filename))


def _lines(entry: _Entry) -> Iterator[tuple[bytes, int]]:
    """(line, bytes of the entry read so far) of one entry, gunzipped when it is gzip."""
    with entry.archive.open(entry.info) as raw:
        stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if entry.info.filename.lower().endswith(_GZIP) else raw
        for line in stream:
            yield line, raw.tell()


# -- the import ---------------------------------------------------------------------------------------
class _Writer:
    """Batches events into the write-ahead log, leaving out those already stored, and flushes each batch."""

    def __init__(self, rt: Runtime, project_id: int, report: Report) -> None:
        self.rt = rt
        self.project_id = project_id
        self.report = report
        self.events: list[dict[str, Any]] = []

    def add(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if len(self.events) >= BATCH_EVENTS:
            self.write()

    def write(self) -> None:
        if not self.events:
            return
        keys = [dedupe_key(self.project_id, event) for event in self.events]
        # Earlier batches are flushed, so this sees everything imported before (this run included).
        stored = stored_keys(self.rt.engine, self.project_id, {k for k in keys if k is not None})
        fresh, seen = [], set(stored)
        for event, key in zip(self.events, keys, strict=True):
            if key in seen:
                self.report.skipped["already imported"] += 1
                continue
            seen.add(key)
            fresh.append(event)
        self.events = []
        if fresh:
            batch = {"project_id": self.project_id, "events": fresh}  # not touched again: the flusher may use it
            self.rt.wal.append_sync(orjson.dumps(batch), decoded=batch)
            self.report.imported += len(fresh)
        while self.rt.flusher.flush_once():  # also works inside a server (the flusher thread takes turns)
            pass


def import_zips(
    rt: Runtime, project_id: int, paths: list[Path], progress: Callable[[int, int], None] | None = None
) -> Report:
    """Import every events file in the zips at `paths` into the project; returns what was kept and skipped."""
    report = Report(files=len(paths))
    archives = [zipfile.ZipFile(path) for path in paths]
    try:
        entries = _entries(archives, report)
        report.entries = len(entries)
        total = sum(e.info.file_size for e in entries)
        done = 0
        writer = _Writer(rt, project_id, report)
        now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
        for entry in entries:
            try:
                for index, (line, position) in enumerate(_lines(entry)):
                    _read(line, writer, report, now_ms)
                    if progress is not None and index % BATCH_EVENTS == 0:
                        progress(done + position, total)
            except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated entry: keep what was read
                report.skipped["unreadable file"] += 1
                report.ignored_entries.append(f"{entry.info.filename}: {exc}")
            done += entry.info.file_size
        writer.write()
        if progress is not None:
            progress(total, total)
    finally:
        for archive in archives:
            archive.close()
    return report


def _read(line: bytes, writer: _Writer, report: Report, now_ms: int) -> None:
    line = line.strip()
    if not line:
        return
    report.events_read += 1
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        report.skipped["malformed JSON"] += 1
        return
    if not isinstance(record, dict):
        report.skipped["not a JSON object"] += 1
        return
    for name in record.keys() - _KNOWN:
        report.ignored_fields[name] += 1
    try:
        writer.add(to_event(record, line, now_ms))
    except Skip as skip:
        report.skipped[str(skip)] += 1
