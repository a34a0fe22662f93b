"""The one way queries read events: a project's rows, each with `pid`, the person it counts for now."""

from __future__ import annotations

from footfall.engine.schema import MATERIALIZED
from footfall.query.filters import filters_sql, selector_sql
from footfall.query.persons import ZERO_UUID
from footfall.query.spec import EventSelector, Scope
from footfall.query.sql import Params, and_all

# `*` leaves out materialized columns; the ones a query does not read cost nothing.
_MATERIALIZED = ", ".join(column for column, _ in MATERIALIZED.values())


def source_sql(p: Params, project_id: int, where: str) -> str:
    """A FROM clause of the project's events matching `where` (a condition on events columns), plus `pid`.

    Merged-away persons are mapped through `person_overrides` (DESIGN rule 4), so a merged person is
    counted once, events from before the merge included.
    """
    project = p(project_id, "UInt32")
    return f"""(
    SELECT e.*, if(o.person_id = toUUID('{ZERO_UUID}'), e.person_id, o.person_id) AS pid
    FROM (SELECT *, {_MATERIALIZED} FROM events WHERE project_id = {project} AND ({where})) AS e
    LEFT ANY JOIN (
        SELECT old_person_id, argMax(person_id, version) AS person_id
        FROM person_overrides WHERE project_id = {project} GROUP BY old_person_id
    ) AS o ON e.person_id = o.old_person_id
)"""


def new_persons_sql(p: Params, scope: Scope) -> str:
    """The `pid`s new in the scope's range: their first analytics event ever is in it. As in retention's
    first-ever cohorts (and so /api/2/users' new users), the scope's filters narrow the events read first."""
    rng = scope.date_range
    tz = p(rng.timezone)
    start, end = (f"toDateTime64({p(t.strftime('%Y-%m-%d %H:%M:%S'))}, 3, {tz})" for t in (rng.start, rng.end))
    where = and_all([selector_sql(EventSelector(None), p), filters_sql(scope.filters, p), f"timestamp < {end}"])
    return f"SELECT pid FROM {source_sql(p, scope.project_id, where)} GROUP BY pid HAVING min(timestamp) >= {start}"
