"""Cohorts for both APIs: create them, change static members, compute dynamic ones.

Each change goes to the metadata store and to the engine's `cohort_members` in one step (the engine
write happens before the metadata commit, so a failed write leaves nothing half done). Dynamic cohorts
are definitions in PostHog's form, translated by `footfall.api.posthog.translate` into person-property
rules and computed by `footfall.query.cohorts`; they are recomputed when created or changed, and by
`refresh` when older than a given age.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from footfall.api.posthog import translate
from footfall.engine.base import Engine
from footfall.meta import cohorts as rows
from footfall.meta.models import Cohort, utcnow
from footfall.query import cohorts as membership
from footfall.query.spec import FilterGroup, PropertyFilter, QueryError

STALE_AFTER = dt.timedelta(minutes=15)


class CohortError(QueryError):
    """A cohort definition or change the caller got wrong (a 400)."""


def rules(definition: Any) -> tuple[PropertyFilter | FilterGroup, ...]:
    """A dynamic cohort's rules from `{"properties": {"type": "AND"|"OR", "values": [...]}}`."""
    if not isinstance(definition, dict) or not definition.get("properties"):
        raise CohortError("a dynamic cohort needs a definition {'properties': {'type': 'AND'|'OR', 'values': [...]}}")
    try:
        found = translate.properties(definition["properties"])
        membership.check_rules(found)
    except QueryError as exc:
        raise CohortError(str(exc)) from exc
    return found


def create_static(
    session: Session, engine: Engine, project_id: int, name: str, person_ids: Iterable[str], **fields: Any
) -> Cohort:
    cohort = Cohort(project_id=project_id, name=name, is_static=True, definition={}, **fields)
    session.add(cohort)
    session.flush()
    change_members(session, engine, cohort, add=person_ids)
    return cohort


def create_dynamic(
    session: Session, engine: Engine, project_id: int, name: str, definition: dict[str, Any], **fields: Any
) -> Cohort:
    found = rules(definition)
    cohort = Cohort(project_id=project_id, name=name, is_static=False, definition=definition, **fields)
    session.add(cohort)
    session.flush()
    _compute(engine, cohort, found)
    return cohort


def redefine(session: Session, engine: Engine, cohort: Cohort, definition: dict[str, Any]) -> None:
    """A dynamic cohort's new definition, computed at once."""
    found = rules(definition)
    cohort.definition = definition
    _compute(engine, cohort, found)
    session.flush()


def change_members(
    session: Session,
    engine: Engine,
    cohort: Cohort,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: bool = False,
) -> tuple[set[str], set[str]]:
    """Add and remove persons of a static cohort (`replace`: the added become all the members).

    Returns (added, removed): the persons whose membership actually changed.
    """
    if not cohort.is_static:
        raise CohortError("only static cohorts have members added or removed")
    add = set(add)
    remove = set(remove) - add
    if replace:
        remove |= rows.static_members(session, cohort) - add
    removed = rows.remove_members(session, cohort, remove)
    added = rows.add_members(session, cohort, add)
    membership.write_members(engine, cohort.project_id, cohort.id, sorted(removed), removed=True)
    membership.write_members(engine, cohort.project_id, cohort.id, sorted(added), removed=False)
    cohort.count = membership.size(engine, cohort.project_id, cohort.id)
    cohort.last_computed = utcnow()
    session.flush()
    return added, removed


def recompute(session: Session, engine: Engine, cohort: Cohort) -> int:
    """Compute a dynamic cohort now (a static one just has its size counted); the size."""
    if cohort.is_static:
        cohort.count = membership.size(engine, cohort.project_id, cohort.id)
        cohort.last_computed = utcnow()
    else:
        _compute(engine, cohort, rules(cohort.definition))
    session.flush()
    return cohort.count or 0


def refresh(session: Session, engine: Engine, cohorts: Iterable[Cohort], max_age: dt.timedelta = STALE_AFTER) -> None:
    """Recompute the dynamic cohorts computed longer than `max_age` ago (or never)."""
    now = utcnow()
    for cohort in cohorts:
        last = cohort.last_computed
        if last is not None and last.tzinfo is None:  # SQLite returns naive UTC
            last = last.replace(tzinfo=dt.UTC)
        if not cohort.is_static and (last is None or now - last > max_age):
            recompute(session, engine, cohort)


def _compute(engine: Engine, cohort: Cohort, found: tuple[PropertyFilter | FilterGroup, ...]) -> None:
    cohort.count = membership.compute(engine, cohort.project_id, cohort.id, found)
    cohort.last_computed = utcnow()
