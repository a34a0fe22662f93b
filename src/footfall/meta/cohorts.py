"""Cohort rows and static membership in the metadata store, always scoped by project.

The engine's `cohort_members` mirrors what queries need; `footfall.api.cohorts` keeps both in step.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from footfall.meta.models import Cohort, CohortMember

_CHUNK = 500  # bound parameters per statement (SQLite allows 999 in old builds)


def parse_id(ref: object) -> int | None:
    """A cohort id from a path or body value (Amplitude sends strings, PostHog numbers)."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref if 0 < ref < 2**63 else None
    if isinstance(ref, str) and ref.isascii() and ref.isdigit() and len(ref) <= 18:
        return int(ref)
    return None


def get_cohort(session: Session, project_id: int, ref: object, include_deleted: bool = False) -> Cohort | None:
    """The project's cohort (not deleted, unless asked) with this id, or None."""
    cohort_id = parse_id(ref)
    if cohort_id is None:
        return None
    query = select(Cohort).where(Cohort.project_id == project_id, Cohort.id == cohort_id)
    return session.scalar(query if include_deleted else query.where(Cohort.deleted.is_(False)))


def list_cohorts(session: Session, project_id: int) -> list[Cohort]:
    return list(
        session.scalars(
            select(Cohort).where(Cohort.project_id == project_id, Cohort.deleted.is_(False)).order_by(Cohort.id)
        )
    )


def static_members(session: Session, cohort: Cohort) -> set[str]:
    return set(
        session.scalars(
            select(CohortMember.person_id).where(
                CohortMember.project_id == cohort.project_id, CohortMember.cohort_id == cohort.id
            )
        )
    )


def add_members(session: Session, cohort: Cohort, person_ids: Iterable[str]) -> set[str]:
    """Store new members; returns those that were not members yet."""
    new = set(person_ids) - static_members(session, cohort)
    session.add_all(CohortMember(cohort_id=cohort.id, person_id=p, project_id=cohort.project_id) for p in new)
    session.flush()
    return new


def remove_members(session: Session, cohort: Cohort, person_ids: Iterable[str]) -> set[str]:
    """Drop members; returns those that were members."""
    gone = set(person_ids) & static_members(session, cohort)
    ordered = sorted(gone)
    for start in range(0, len(ordered), _CHUNK):
        session.execute(
            delete(CohortMember).where(
                CohortMember.project_id == cohort.project_id,
                CohortMember.cohort_id == cohort.id,
                CohortMember.person_id.in_(ordered[start : start + _CHUNK]),
            )
        )
    return gone
