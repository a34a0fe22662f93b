"""What ingestion stored, read back exactly: event rows from the engine, persons and groups from metadata.

Shared by the ingestion tests (Amplitude, PostHog, fuzz). Every reader is scoped to one project, so
tests sharing the session runtime never see each other's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import select

from footfall.meta.models import Group, Person, PersonDistinctId
from footfall.query.persons import EVENTS_WITH_PERSON
from footfall.runtime import Runtime
from tests.conftest import flush


def stored_count(runtime: Runtime, project: dict[str, Any]) -> int:
    rows = runtime.engine.query(
        "SELECT count() FROM events WHERE project_id = {project:UInt32}", {"project": project["id"]}
    )
    return int(rows[0][0])


def stored(runtime: Runtime, project: dict[str, Any], columns: str) -> list[list[Any]]:
    """`columns` of the project's events (with `pid`, the merged person), oldest first."""
    return runtime.engine.query(
        f"SELECT {columns} FROM {EVENTS_WITH_PERSON} ORDER BY timestamp, wal_pos", {"project": project["id"]}
    )


def person_of(runtime: Runtime, project: dict[str, Any], distinct_id: str) -> Person | None:
    """The metadata person a distinct_id belongs to (None when no person was created for it)."""
    with runtime.meta.session() as session:
        person_id = session.scalar(
            select(PersonDistinctId.person_id).where(
                PersonDistinctId.project_id == project["id"], PersonDistinctId.distinct_id == distinct_id
            )
        )
        if person_id is None:
            return None
        person = session.get(Person, person_id)
        if person is not None:
            session.expunge(person)
        return person


def person_count(runtime: Runtime, project: dict[str, Any]) -> int:
    with runtime.meta.session() as session:
        return len(list(session.scalars(select(Person.id).where(Person.project_id == project["id"]))))


def group_properties(runtime: Runtime, project: dict[str, Any], group_type: str, group_key: str) -> dict[str, Any]:
    with runtime.meta.session() as session:
        group = session.get(Group, (project["id"], group_type, group_key))
        assert group is not None, f"no group {group_type}/{group_key}"
        return dict(group.properties)


def wal_events(runtime: Runtime, start: int) -> list[tuple[int, dict[str, Any]]]:
    """(project id, event) of every record appended to the write-ahead log since position `start`."""
    return [
        (batch["project_id"], event)
        for record in runtime.wal.read(start, max_bytes=1 << 40)
        for batch in [orjson.loads(record.payload)]
        for event in batch["events"]
    ]


def stored_since(runtime: Runtime, project: dict[str, Any], start: int, columns: str) -> list[list[Any]]:
    """`columns` of the project's events from log records at or after position `start` (`runtime.wal.end`
    taken before the request), in log order: isolates one request's rows in a project shared by tests."""
    return runtime.engine.query(
        f"SELECT {columns} FROM {EVENTS_WITH_PERSON} WHERE wal_pos >= {{start:UInt64}} ORDER BY wal_pos",
        {"project": project["id"], "start": start << 20},
    )


@contextmanager
def nothing_stored(runtime: Runtime, project: dict[str, Any]) -> Iterator[None]:
    """The block's requests are refused whole: nothing reaches the log, no row appears after a flush."""
    flush(runtime)
    before, start = stored_count(runtime, project), runtime.wal.end
    yield
    assert runtime.wal.end == start, "a refused request wrote to the write-ahead log"
    flush(runtime)
    assert stored_count(runtime, project) == before
