"""Annotations for both products, always scoped by project: Amplitude's v2/v3 APIs and PostHog's share rows.

What both need: the project's annotation by id (deletion is soft), and what it is attached to with its
PostHog scope ("dashboard_item" for one chart, "dashboard", or "project"/"organization" for every chart).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import Annotation, Dashboard, Insight

SCOPES = ("dashboard_item", "dashboard", "project", "organization")


def find(session: Session, project_id: int, annotation_id: int, include_deleted: bool = False) -> Annotation | None:
    if not 0 < annotation_id < 2**62:  # no row has it (and the database could not bind it)
        return None
    query = select(Annotation).where(Annotation.project_id == project_id, Annotation.id == annotation_id)
    if not include_deleted:
        query = query.where(Annotation.deleted.is_(False))
    return session.scalar(query)


def attach(
    annotation: Annotation, insight: Insight | None, dashboard: Dashboard | None = None, scope: str | None = None
) -> None:
    """Attach to a chart and/or a dashboard (the caller checked both are the project's); without a scope, the
    narrowest that fits."""
    annotation.insight_id = insight.id if insight else None
    annotation.dashboard_id = dashboard.id if dashboard else None
    annotation.scope = scope or ("dashboard_item" if insight else "dashboard" if dashboard else "project")
