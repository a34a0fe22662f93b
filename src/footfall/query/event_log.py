"""Raw events, newest first (or oldest first), filtered and paged by timestamp: the events list, the live
tail of the UI, a person's timeline, and PostHog's EventsQuery all read them here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import orjson

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql
from footfall.query.spec import FilterGroup, PropertyFilter
from footfall.query.sql import Params, and_all

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class EventLogQuery:
    project_id: int
    event: str | None = None
    distinct_id: str | None = None
    person_id: str | None = None  # the merged person: all of their distinct_ids
    uuid: str | None = None
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()
    before: dt.datetime | None = None  # UTC, exclusive
    after: dt.datetime | None = None  # UTC, exclusive
    ascending: bool = False
    limit: int = 100
    offset: int = 0


@dataclass
class LoggedEvent:
    uuid: str
    event: str
    timestamp: dt.datetime
    distinct_id: str
    person_id: str
    properties: dict[str, Any]
    person_properties: dict[str, Any]
    columns: dict[str, Any] = field(default_factory=dict)


_COLUMNS = (
    "user_id",
    "device_id",
    "session_id",
    "session",  # the session as one string, whichever SDK sent it (Amplitude's is device#session_id)
    "insert_id",
    "app_version",
    "platform",
    "os_name",
    "country",
    "city",
    "library",
    "source",
)


def _moment(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def run_event_log(engine: Engine, query: EventLogQuery) -> list[LoggedEvent]:
    if not 1 <= query.limit <= MAX_LIMIT or query.offset < 0:
        raise ValueError("limit must be 1 to 10000 and offset not negative")
    p = Params()
    conditions = [filters_sql(query.filters, p)]
    if query.event is not None:
        conditions.append(f"event = {p(query.event)}")
    if query.uuid is not None:
        conditions.append(f"uuid = toUUIDOrZero({p(query.uuid)})")
    if query.distinct_id is not None:
        conditions.append(f"distinct_id = {p(query.distinct_id)}")
    if query.before is not None:
        conditions.append(f"timestamp < toDateTime64({p(_moment(query.before))}, 3, 'UTC')")
    if query.after is not None:
        conditions.append(f"timestamp > toDateTime64({p(_moment(query.after))}, 3, 'UTC')")
    person = f"WHERE pid = toUUIDOrZero({p(query.person_id)})" if query.person_id else ""
    order = "ASC" if query.ascending else "DESC"
    sql = f"""
    SELECT toString(uuid), event, toString(timestamp), distinct_id, toString(pid), properties, person_properties,
           {", ".join(_COLUMNS)}
    FROM {source_sql(p, query.project_id, and_all(conditions))}
    {person}
    ORDER BY timestamp {order}, uuid {order}
    LIMIT {p(query.limit, "UInt32")} OFFSET {p(query.offset, "UInt32")}"""
    out = []
    for row in engine.query(sql, p.values):
        out.append(
            LoggedEvent(
                row[0],
                row[1],
                dt.datetime.fromisoformat(row[2]).replace(tzinfo=dt.UTC),
                row[3],
                row[4],
                orjson.loads(row[5] or "{}"),
                orjson.loads(row[6] or "{}"),
                dict(zip(_COLUMNS, row[7:], strict=True)),
            )
        )
    return out
