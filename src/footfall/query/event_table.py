"""A table of events: chosen columns of the events matching filters, or counts grouped by those columns.

PostHog's EventsQuery reads it. Columns come from a fixed list (never an expression from the caller);
property keys and every value are bound. With a count among the columns, the other columns group the
events, and a `person` column groups by the merged person, so a person is one row however many
distinct_ids they used (DESIGN rule 4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from footfall.engine import Engine
from footfall.query.event_log import LoggedEvent
from footfall.query.events import source_sql
from footfall.query.filters import FilterError, filters_sql, nullable_value_sql
from footfall.query.persons import current_persons
from footfall.query.spec import FilterGroup, PropertyFilter, PropertyRef, Source
from footfall.query.sql import Params, and_all

MAX_LIMIT = 10_000
_MOMENT = "DateTime64(3, 'UTC')"
_WHOLE_EVENT = (
    "tuple(toString(uuid), event, toString(timestamp), distinct_id, toString(pid), properties, person_properties)"
)


class EventField(StrEnum):
    ALL = "*"  # the whole event
    EVENT = "event"
    TIMESTAMP = "timestamp"
    DISTINCT_ID = "distinct_id"
    UUID = "uuid"
    PERSON_ID = "person_id"  # the merged person
    PERSON = "person"  # the merged person with their current state
    PROPERTY = "property"  # an event property (`key`)
    PERSON_PROPERTY = "person_property"  # a person property as the event recorded it (`key`)
    COUNT = "count"


@dataclass(frozen=True)
class EventColumn:
    field: EventField
    key: str = ""


@dataclass(frozen=True)
class EventSort:
    column: EventColumn
    descending: bool = False


@dataclass(frozen=True)
class EventTableQuery:
    project_id: int
    columns: tuple[EventColumn, ...]
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()
    person_id: str | None = None
    after: dt.datetime | None = None  # exclusive
    before: dt.datetime | None = None  # exclusive
    order: tuple[EventSort, ...] = ()  # empty: by count (descending) with a count, else newest first
    limit: int = 100
    offset: int = 0


@dataclass
class EventPerson:
    person_id: str
    distinct_id: str  # the event's (with a count: the smallest of the person's grouped events)
    created_at: dt.datetime | None  # None: no person record
    properties: dict[str, Any]


@dataclass
class EventTable:
    rows: list[list[Any]]  # per column: LoggedEvent, EventPerson, datetime, str, int or None
    has_more: bool


def _key_sql(column: EventColumn, p: Params) -> str:
    """The column's value to group and sort by."""
    if column.field in (EventField.PROPERTY, EventField.PERSON_PROPERTY):
        ref = PropertyRef(Source.EVENT if column.field is EventField.PROPERTY else Source.PERSON, column.key)
        return nullable_value_sql(ref, p)
    if column.field in (EventField.PERSON, EventField.PERSON_ID):
        return "pid"
    if column.field is EventField.COUNT:
        return "count()"
    if column.field is EventField.ALL:
        raise FilterError("the whole event cannot be grouped or sorted")
    return column.field.value


def _select_sql(column: EventColumn, key: Callable[[EventColumn], str], aggregated: bool) -> str:
    if column.field is EventField.ALL:
        return _WHOLE_EVENT
    if column.field is EventField.PERSON:
        distinct_id = "min(distinct_id)" if aggregated else "distinct_id"
        state = "any(c.created), any(c.state)" if aggregated else "c.created, c.state"
        return f"tuple(toString(pid), {distinct_id}, {state})"
    text = key(column)
    return (
        f"toString({text})" if column.field in (EventField.TIMESTAMP, EventField.UUID, EventField.PERSON_ID) else text
    )


def _value(column: EventColumn, raw: Any) -> Any:
    if column.field is EventField.ALL:
        uuid, event, timestamp, distinct_id, pid, props, person_props = raw
        moment = dt.datetime.fromisoformat(timestamp).replace(tzinfo=dt.UTC)
        return LoggedEvent(
            uuid, event, moment, distinct_id, pid, orjson.loads(props or "{}"), orjson.loads(person_props or "{}")
        )
    if column.field is EventField.PERSON:
        pid, distinct_id, created, state = raw
        moment = dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC) if created else None
        return EventPerson(pid, distinct_id, moment, orjson.loads(state) if created else {})
    if column.field is EventField.TIMESTAMP:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
    return int(raw) if column.field is EventField.COUNT else raw


def run_event_table(engine: Engine, query: EventTableQuery) -> EventTable:
    if not query.columns:
        raise FilterError("select at least one column")
    if not 1 <= query.limit <= MAX_LIMIT or query.offset < 0:
        raise FilterError(f"limit must be 1 to {MAX_LIMIT} and offset not negative")
    aggregated = any(c.field is EventField.COUNT for c in query.columns)
    grouped = [c for c in query.columns if c.field is not EventField.COUNT]
    if aggregated and any(c.field is EventField.ALL for c in grouped):
        raise FilterError("the whole event cannot be counted by; select columns to group by")
    p = Params()
    conditions = [filters_sql(query.filters, p)]
    if query.after is not None:
        conditions.append(f"timestamp > {p(query.after, _MOMENT)}")
    if query.before is not None:
        conditions.append(f"timestamp < {p(query.before, _MOMENT)}")
    keys: dict[EventColumn, str] = {}  # each column's SQL once, so SELECT, GROUP BY and ORDER BY name the same

    def key(column: EventColumn) -> str:
        if column not in keys:
            keys[column] = _key_sql(column, p)
        return keys[column]

    selects = [_select_sql(c, key, aggregated) for c in query.columns]
    person = f"WHERE pid = toUUIDOrZero({p(query.person_id)})" if query.person_id else ""
    join = ""
    if any(c.field is EventField.PERSON for c in query.columns):
        persons = current_persons(p(query.project_id, "UInt32"))
        join = f"""LEFT ANY JOIN (SELECT id, toString(created_at) AS created, properties AS state FROM {persons}) AS c
            ON c.id = pid"""
    if aggregated:
        if any(s.column.field is not EventField.COUNT and s.column not in grouped for s in query.order):
            raise FilterError("with a count, sort by the count or by the columns it groups by")
        groups = list(dict.fromkeys(key(c) for c in grouped))
        default = [EventSort(EventColumn(EventField.COUNT), descending=True)]
        ties = groups
    else:
        if any(s.column.field is EventField.COUNT for s in query.order):
            raise FilterError("sort by count() only when it is selected")
        groups = []
        default = [EventSort(EventColumn(EventField.TIMESTAMP), descending=True)]
        ties = ["uuid"]
    order = [f"{key(s.column)} {'DESC' if s.descending else 'ASC'}" for s in query.order or default]
    sql = f"""
    SELECT {", ".join(selects)}
    FROM {source_sql(p, query.project_id, and_all(conditions))} AS ev
    {join}
    {person}
    {"GROUP BY " + ", ".join(groups) if groups else ""}
    ORDER BY {", ".join([*order, *ties])}
    LIMIT {p(query.limit + 1, "UInt32")} OFFSET {p(query.offset, "UInt64")}"""
    rows = engine.query(sql, p.values)
    table = [[_value(c, raw) for c, raw in zip(query.columns, row, strict=True)] for row in rows[: query.limit]]
    return EventTable(table, len(rows) > query.limit)
