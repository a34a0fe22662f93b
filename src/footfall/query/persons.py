"""Query-time identity: events count for the person they were merged into (DESIGN rule 4).

Events keep the person_id they were ingested with; `person_overrides` maps merged-away persons to the
survivor. Every query reads events through `EVENTS_WITH_PERSON`, which applies that map.
"""

from __future__ import annotations

ZERO_UUID = "00000000-0000-0000-0000-000000000000"

# A FROM clause exposing every events column plus `pid`, the merged person; scoped by {project:UInt32}.
EVENTS_WITH_PERSON = f"""(
    SELECT e.*, if(o.person_id = toUUID('{ZERO_UUID}'), e.person_id, o.person_id) AS pid
    FROM events AS e
    LEFT ANY JOIN (
        SELECT old_person_id, argMax(person_id, version) AS person_id
        FROM person_overrides WHERE project_id = {{project:UInt32}} GROUP BY old_person_id
    ) AS o ON e.person_id = o.old_person_id
    WHERE e.project_id = {{project:UInt32}}
)"""


def current_persons(project: str) -> str:
    """Current persons (newest version, not deleted) of the project bound at `project` (a placeholder).

    FINAL merges each person's versions while reading, in sorting-key order, about 5× cheaper than an
    argMax aggregation over every person; the `is_deleted` condition applies after it, to the newest version."""
    return f"""(
    SELECT id, created_at, properties, is_identified
    FROM persons FINAL WHERE project_id = {project} AND is_deleted = 0
)"""


CURRENT_PERSONS = current_persons("{project:UInt32}")


def amplitude_id(person: str = "pid") -> str:
    """Amplitude's integer user id (`amplitude_id`) of a merged person, as SQL over a UUID expression.

    A hash of the person's UUID cut to 53 bits, so JavaScript clients read it exactly; every API that
    shows or accepts an amplitude_id uses this one definition.
    """
    return f"bitShiftRight(cityHash64({person}), 11)"
