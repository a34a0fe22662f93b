"""Actors: the persons behind a number of an insight (or all of a project's persons), described and paged.

Each insight module says who counted in one of its numbers (`*_actors_sql`, the same conditions as the
number itself); this module joins those person ids to the persons' current state, filters them by person
properties, cohorts or a search text, sorts and pages them. Ids are merged persons (DESIGN rule 4), so a
person whose distinct_ids were merged appears once, with all of their distinct_ids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from footfall.engine import Engine
from footfall.query.filters import FilterError, filters_sql, nullable_value_sql
from footfall.query.funnels import funnel_actors_sql
from footfall.query.lifecycle import lifecycle_actors_sql
from footfall.query.persons import ZERO_UUID, current_persons
from footfall.query.retention import retention_actors_sql
from footfall.query.spec import (
    Cell,
    FilterGroup,
    FunnelCell,
    PropertyFilter,
    PropertyRef,
    RetentionCell,
    Source,
    StickinessCell,
    TrendsCell,
)
from footfall.query.sql import Params, and_all
from footfall.query.stickiness import stickiness_actors_sql
from footfall.query.trends import trends_actors_sql

MAX_LIMIT = 10_000
_NO_COUNT, _NO_APPEARANCES = "CAST(NULL, 'Nullable(UInt64)')", "CAST([], 'Array(Int64)')"


class ActorField(StrEnum):
    ID = "id"
    CREATED_AT = "created_at"
    EVENT_COUNT = "event_count"
    PROPERTY = "property"  # a person property (`key`)


@dataclass(frozen=True)
class ActorSort:
    field: ActorField
    key: str = ""
    descending: bool = False


@dataclass(frozen=True)
class ActorsQuery:
    project_id: int
    source: Cell | None = None  # None: every current person of the project
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()  # person properties and cohorts
    search: str = ""  # in the email and name properties, the id and the distinct_ids
    order: tuple[ActorSort, ...] = ()  # then by id
    limit: int = 100
    offset: int = 0


@dataclass
class Actor:
    person_id: str
    created_at: dt.datetime | None  # None: no person record (events sent without person processing)
    properties: dict[str, Any]
    is_identified: bool
    distinct_ids: list[str]
    event_count: int | None = None  # the person's events behind the number (trends, stickiness)
    appearances: list[int] = field(default_factory=list)  # retention: the result columns they count in


@dataclass
class ActorsResult:
    actors: list[Actor]
    has_more: bool


def _source_sql(cell: Cell | None, project: str, p: Params) -> str:
    """Rows of (`pid`, `event_count`, `appearances`) for the persons behind the cell."""
    count, appearances = _NO_COUNT, _NO_APPEARANCES
    if cell is None:
        sql = f"SELECT id AS pid FROM {current_persons(project)}"
    elif isinstance(cell, TrendsCell | StickinessCell):
        sql = trends_actors_sql(cell, p) if isinstance(cell, TrendsCell) else stickiness_actors_sql(cell, p)
        count = "toNullable(toUInt64(event_count))"
    elif isinstance(cell, RetentionCell):
        sql, appearances = retention_actors_sql(cell, p), "CAST(appearances, 'Array(Int64)')"
    else:
        sql = funnel_actors_sql(cell, p) if isinstance(cell, FunnelCell) else lifecycle_actors_sql(cell, p)
    return f"SELECT pid, {count} AS event_count, {appearances} AS appearances FROM ({sql})"


def _check_filters(filters: tuple[PropertyFilter | FilterGroup, ...]) -> None:
    for f in filters:
        if isinstance(f, FilterGroup):
            _check_filters(f.items)
        elif not isinstance(f, PropertyFilter) or f.prop.source not in (Source.PERSON, Source.COHORT):
            raise FilterError("persons are filtered by person properties and cohorts")


def _order_sql(sort: ActorSort, p: Params) -> str:
    column = {
        ActorField.ID: "person_id",
        ActorField.CREATED_AT: "created_at",
        ActorField.EVENT_COUNT: "event_count",
    }.get(sort.field) or nullable_value_sql(PropertyRef(Source.PERSON, sort.key), p)
    return f"{column} {'DESC' if sort.descending else 'ASC'}"


def run_actors(engine: Engine, query: ActorsQuery) -> ActorsResult:
    if not 1 <= query.limit <= MAX_LIMIT or query.offset < 0:
        raise FilterError(f"limit must be 1 to {MAX_LIMIT} and offset not negative")
    _check_filters(query.filters)
    p = Params()
    project = p(query.project_id, "UInt32")
    conditions = [filters_sql(query.filters, p)]
    if query.search:
        text = p(query.search)
        texts = [f"JSONExtractString(person_properties, {p(key)})" for key in ("email", "name")]
        texts.append("toString(person_id)")
        matches = [f"positionCaseInsensitiveUTF8({t}, {text}) > 0" for t in texts]
        matches.append(f"arrayExists(d -> positionCaseInsensitiveUTF8(d, {text}) > 0, distinct_ids)")
        conditions.append(" OR ".join(matches))
    order = ", ".join([*(_order_sql(s, p) for s in query.order), "person_id"])
    # Columns named as filters expect them on person rows: project_id, person_id, person_properties.
    sql = f"""
    SELECT toString(person_id), created_at, person_properties, is_identified, distinct_ids, event_count, appearances
    FROM (
        SELECT {project} AS project_id, a.pid AS person_id, a.event_count AS event_count,
               a.appearances AS appearances,
               if(c.id = toUUID('{ZERO_UUID}'), NULL, toString(c.created_at)) AS created_at,
               c.properties AS person_properties, c.is_identified AS is_identified, d.ids AS distinct_ids
        FROM ({_source_sql(query.source, project, p)}) AS a
        LEFT ANY JOIN {current_persons(project)} AS c ON c.id = a.pid
        LEFT ANY JOIN (
            SELECT owner, arraySort(groupArray(distinct_id)) AS ids FROM (
                SELECT distinct_id, argMax(person_id, version) AS owner FROM person_distinct_ids
                WHERE project_id = {project} GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0
            ) GROUP BY owner
        ) AS d ON d.owner = a.pid
    )
    WHERE {and_all(conditions)}
    ORDER BY {order}
    LIMIT {p(query.limit + 1, "UInt32")} OFFSET {p(query.offset, "UInt64")}"""
    rows = engine.query(sql, p.values)
    actors = [
        Actor(
            person_id,
            dt.datetime.fromisoformat(created).replace(tzinfo=dt.UTC) if created else None,
            orjson.loads(props or "{}"),
            bool(identified),
            list(ids),
            None if count is None else int(count),
            [int(a) for a in appearances],
        )
        for person_id, created, props, identified, ids, count, appearances in rows[: query.limit]
    ]
    return ActorsResult(actors, len(rows) > query.limit)
