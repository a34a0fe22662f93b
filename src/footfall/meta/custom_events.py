"""Amplitude custom events in the metadata store, always scoped by project."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import CustomEvent


def get(session: Session, project_id: int, name: str) -> CustomEvent | None:
    return session.scalar(select(CustomEvent).where(CustomEvent.project_id == project_id, CustomEvent.name == name))


def list_all(session: Session, project_id: int) -> list[CustomEvent]:
    return list(
        session.scalars(select(CustomEvent).where(CustomEvent.project_id == project_id).order_by(CustomEvent.name))
    )


def put(session: Session, project_id: int, name: str, events: list[Any], description: str) -> CustomEvent:
    """Create the custom event, or replace the definition of the one with this name."""
    found = get(session, project_id, name)
    if found is None:
        found = CustomEvent(project_id=project_id, name=name)
        session.add(found)
    found.events, found.description = events, description
    session.flush()
    return found


def delete(session: Session, project_id: int, name: str) -> bool:
    found = get(session, project_id, name)
    if found is not None:
        session.delete(found)
    return found is not None
