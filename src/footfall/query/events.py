"""The one way queries read events: a project's rows, each with `pid`, the person it counts for now."""

from __future__ import annotations

from footfall.query.persons import ZERO_UUID
from footfall.query.sql import Params


def source_sql(p: Params, project_id: int, where: str) -> str:
    """A FROM clause of the project's events matching `where` (a condition on events columns), plus `pid`.

    Merged-away persons are mapped through `person_overrides` (DESIGN rule 4), so a merged person is
    counted once, events from before the merge included.
    """
    project = p(project_id, "UInt32")
    return f"""(
    SELECT e.*, if(o.person_id = toUUID('{ZERO_UUID}'), e.person_id, o.person_id) AS pid
    FROM (SELECT * FROM events WHERE project_id = {project} AND ({where})) AS e
    LEFT ANY JOIN (
        SELECT old_person_id, argMax(person_id, version) AS person_id
        FROM person_overrides WHERE project_id = {project} GROUP BY old_person_id
    ) AS o ON e.person_id = o.old_person_id
)"""
