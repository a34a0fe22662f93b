"""Reading an Amplitude export zip the way its real consumers do, checking every rule they depend on.

Shared by the export and import tests. `parse_export` fails on anything a consumer would choke on:
directory or non-gzip entries, names not `<app>/<app>_<YYYY-MM-DD>_<H>#<n>.json.gz`, files not ending in
exactly one newline, blank lines, times not `%Y-%m-%d %H:%M:%S.%f`, null integer ids, non-object dicts.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import re
import uuid
import zipfile
from typing import Any

import orjson

from footfall.ingest.event import new_event
from footfall.meta.models import Project
from footfall.runtime import Runtime
from tests.conftest import flush

ENTRY = re.compile(r"(\d+)/(\d+)_(\d{4}-\d{2}-\d{2})_(\d{1,2})#(\d+)\.json\.gz")
TIME_FIELDS = (
    "server_received_time",
    "event_time",
    "processed_time",
    "client_upload_time",
    "server_upload_time",
    "client_event_time",
)
INT_FIELDS = ("amplitude_id", "app", "event_id", "session_id")
OBJECT_FIELDS = ("event_properties", "user_properties", "group_properties", "groups", "plan", "data")


def parse_export(content: bytes) -> dict[str, list[dict[str, Any]]]:
    """Entry name -> its events, after checking the zip as strict consumers read it."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    out: dict[str, list[dict[str, Any]]] = {}
    for info in archive.infolist():
        assert not info.is_dir(), f"directory entry {info.filename}"
        match = ENTRY.fullmatch(info.filename)
        assert match, f"unexpected entry name {info.filename}"
        assert match.group(1) == match.group(2)
        assert not (len(match.group(4)) == 2 and match.group(4).startswith("0")), "hour must not be zero-padded"
        text = gzip.decompress(archive.read(info)).decode("utf-8")
        assert text.endswith("\n") and not text.endswith("\n\n"), "a file ends with exactly one newline"
        # python-amplitude-export's parser:
        events = json.loads("[" + text.replace("\n", ",")[:-1] + "]")
        assert [json.loads(line) for line in text.splitlines()] == events  # and line by line (Airbyte, PostHog)
        for event in events:
            check_event(event)
        out[info.filename] = events
    return out


def check_event(event: dict[str, Any]) -> None:
    for name in TIME_FIELDS:
        dt.datetime.strptime(event[name], "%Y-%m-%d %H:%M:%S.%f")
    for name in INT_FIELDS:
        assert isinstance(event[name], int) and not isinstance(event[name], bool), (name, event[name])
    for name in OBJECT_FIELDS:
        assert isinstance(event[name], dict), (name, event[name])
    assert event["$schema"] is None and event["sample_rate"] is None
    assert isinstance(event["uuid"], str) and isinstance(event["event_type"], str)
    assert set(event["data"]) >= {"path", "user_properties_updated", "group_first_event", "group_ids"}


def events_by_uuid(files: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    found = {e["uuid"]: e for events in files.values() for e in events}
    assert len(found) == sum(len(events) for events in files.values()), "each event exported once"
    return found


def put_events(runtime: Runtime, project_id: int, *events: dict[str, Any]) -> None:
    """Events through the write-ahead log and the flusher (as an ingest endpoint would), then flushed."""
    rows = [new_event(**{"uuid": str(uuid.uuid4()), **e}) for e in events]
    runtime.wal.append_sync(orjson.dumps({"project_id": project_id, "events": rows}))
    flush(runtime)


def ms(text: str) -> int:
    """Epoch ms of a UTC time like `2024-03-02 10:59:59.999`."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def set_settings(runtime: Runtime, project_id: int, **settings: Any) -> None:
    with runtime.meta.session() as session, session.begin():
        project = session.get(Project, project_id)
        assert project is not None
        project.settings = {**(project.settings or {}), **settings}
