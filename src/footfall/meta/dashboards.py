"""Dashboards, their tiles and insights: the rules PostHog applies, independent of HTTP.

- Deletion is soft. Deleting a dashboard soft-deletes its tiles and, when asked, the insights that are on
  no other live dashboard; undeleting restores both.
- Duplicating a dashboard copies its tiles; with `deep`, the insights are copied too (else shared).
- Tiles are ordered by their layout's y, then x.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import Dashboard, DashboardText, DashboardTile, Insight, utcnow

SHORT_ID_ALPHABET = string.ascii_letters + string.digits


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


def short_id() -> str:
    return "".join(secrets.choice(SHORT_ID_ALPHABET) for _ in range(8))


def dashboard(session: Session, project_id: int, dashboard_id: int, include_deleted: bool = False) -> Dashboard:
    found = session.get(Dashboard, dashboard_id)
    if found is None or found.project_id != project_id or (found.deleted and not include_deleted):
        raise NotFound(dashboard_id)
    return found


def insight(session: Session, project_id: int, insight_id: int, include_deleted: bool = False) -> Insight:
    found = session.get(Insight, insight_id)
    if found is None or found.project_id != project_id or (found.deleted and not include_deleted):
        raise NotFound(insight_id)
    return found


def tiles(session: Session, dashboard_id: int, include_deleted: bool = False) -> list[DashboardTile]:
    query = select(DashboardTile).where(DashboardTile.dashboard_id == dashboard_id)
    if not include_deleted:
        query = query.where(DashboardTile.deleted.is_(False))
    found = list(session.scalars(query))

    def place(tile: DashboardTile) -> tuple[int, int, int]:
        layout = (tile.layouts or {}).get("sm") or {}
        return (int(layout.get("y", 10**6)), int(layout.get("x", 0)), tile.id)

    return sorted(found, key=place)


def insight_kind(query: dict[str, Any] | None) -> str:
    source = (query or {}).get("source") if (query or {}).get("kind") == "InsightVizNode" else query
    return str((source or {}).get("kind") or "")


def create_insight(
    session: Session, project_id: int, user_id: int | None, query: dict[str, Any] | None, **fields: Any
) -> Insight:
    item = Insight(
        project_id=project_id,
        short_id=short_id(),
        query=query,
        kind=insight_kind(query),
        created_by_id=user_id,
        last_modified_by_id=user_id,
        **fields,
    )
    session.add(item)
    session.flush()
    return item


def add_insight_tile(
    session: Session, board: Dashboard, item: Insight, layouts: dict[str, Any] | None = None, color: str | None = None
) -> DashboardTile:
    tile = DashboardTile(
        dashboard_id=board.id, insight_id=item.id, layouts=layouts or _next_layout(session, board), color=color
    )
    session.add(tile)
    session.flush()
    return tile


def add_text_tile(
    session: Session,
    board: Dashboard,
    body: str,
    user_id: int | None,
    layouts: dict[str, Any] | None = None,
    color: str | None = None,
) -> DashboardTile:
    text = DashboardText(project_id=board.project_id, body=body[:4000], created_by_id=user_id)
    session.add(text)
    session.flush()
    tile = DashboardTile(
        dashboard_id=board.id, text_id=text.id, layouts=layouts or _next_layout(session, board), color=color
    )
    session.add(tile)
    session.flush()
    return tile


def _next_layout(session: Session, board: Dashboard) -> dict[str, Any]:
    """Two tiles per row, 6 columns wide and 5 rows high each, after the existing ones (PostHog's grid)."""
    count = len(tiles(session, board.id))
    return {"sm": {"x": (count % 2) * 6, "y": (count // 2) * 5, "w": 6, "h": 5}}


def create_dashboard(session: Session, project_id: int, user_id: int | None, name: str, **fields: Any) -> Dashboard:
    board = Dashboard(project_id=project_id, name=name, created_by_id=user_id, **fields)
    session.add(board)
    session.flush()
    return board


def duplicate(session: Session, source: Dashboard, target: Dashboard, deep: bool, user_id: int | None) -> None:
    for tile in tiles(session, source.id):
        if tile.insight_id is not None:
            item = session.get(Insight, tile.insight_id)
            assert item is not None
            if deep:
                item = create_insight(
                    session,
                    target.project_id,
                    user_id,
                    item.query,
                    name=item.name,
                    description=item.description,
                    tags=list(item.tags or []),
                    saved=True,
                )
            add_insight_tile(session, target, item, dict(tile.layouts or {}), tile.color)
        elif tile.text_id is not None:
            text = session.get(DashboardText, tile.text_id)
            add_text_tile(session, target, text.body if text else "", user_id, dict(tile.layouts or {}), tile.color)


def set_deleted(session: Session, board: Dashboard, deleted: bool, delete_insights: bool = False) -> None:
    board.deleted = deleted
    for tile in tiles(session, board.id, include_deleted=True):
        tile.deleted = deleted
        if tile.insight_id is None:
            continue
        item = session.get(Insight, tile.insight_id)
        if item is None:
            continue
        if deleted and delete_insights and not _on_other_live_dashboard(session, item.id, board.id):
            item.deleted = True
        elif not deleted and item.deleted:
            item.deleted = False


def _on_other_live_dashboard(session: Session, insight_id: int, dashboard_id: int) -> bool:
    return (
        session.scalar(
            select(DashboardTile.id)
            .join(Dashboard, Dashboard.id == DashboardTile.dashboard_id)
            .where(
                DashboardTile.insight_id == insight_id,
                DashboardTile.dashboard_id != dashboard_id,
                DashboardTile.deleted.is_(False),
                Dashboard.deleted.is_(False),
            )
            .limit(1)
        )
        is not None
    )


def move_tile(session: Session, tile: DashboardTile, target: Dashboard) -> None:
    tile.dashboard_id = target.id
    tile.layouts = _next_layout(session, target)


def from_template(session: Session, project_id: int, user_id: int | None, template: dict[str, Any]) -> Dashboard:
    """A dashboard from PostHog's template JSON: `{template_name, dashboard_description, tags, tiles: [...]}`."""
    board = create_dashboard(
        session,
        project_id,
        user_id,
        str(template.get("template_name") or "New dashboard"),
        description=str(template.get("dashboard_description") or ""),
        tags=list(template.get("tags") or []),
        creation_mode="template",
        filters=dict(template.get("dashboard_filters") or {}),
    )
    for spec in template.get("tiles") or []:
        if not isinstance(spec, dict):
            raise ValueError("each template tile must be an object")
        layouts = spec.get("layouts") if isinstance(spec.get("layouts"), dict) else None
        if spec.get("type") == "TEXT":
            add_text_tile(session, board, str(spec.get("body") or ""), user_id, layouts, spec.get("color"))
        elif spec.get("type") == "INSIGHT":
            query = spec.get("query")
            if not isinstance(query, dict):
                raise ValueError("an INSIGHT tile needs a query")
            item = create_insight(
                session,
                project_id,
                user_id,
                query,
                name=spec.get("name"),
                description=str(spec.get("description") or ""),
                saved=True,
            )
            add_insight_tile(session, board, item, layouts, spec.get("color"))
        else:
            raise ValueError(f"unknown template tile type: {spec.get('type')}")
    return board


def touch(board: Dashboard) -> None:
    board.last_accessed_at = utcnow()


def _trend(name: str, series: list[dict[str, Any]], **source: Any) -> dict[str, Any]:
    return {
        "type": "INSIGHT",
        "name": name,
        "query": {"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", "series": series, **source}},
    }


# Built-in templates for `use_template`, in the form `create_from_template_json` accepts.
TEMPLATES: dict[str, dict[str, Any]] = {
    "DEFAULT_APP": {
        "template_name": "Product analytics",
        "dashboard_description": "Active users, growth, retention and where users come from.",
        "tags": [],
        "tiles": [
            _trend(
                "Daily active users (DAUs)",
                [{"kind": "EventsNode", "event": "$pageview", "math": "dau"}],
                dateRange={"date_from": "-30d"},
                interval="day",
            ),
            _trend(
                "Weekly active users (WAUs)",
                [{"kind": "EventsNode", "event": "$pageview", "math": "dau"}],
                dateRange={"date_from": "-90d"},
                interval="week",
            ),
            {
                "type": "INSIGHT",
                "name": "Retention",
                "query": {
                    "kind": "InsightVizNode",
                    "source": {"kind": "RetentionQuery", "retentionFilter": {"period": "Week", "totalIntervals": 8}},
                },
            },
            {
                "type": "INSIGHT",
                "name": "Growth accounting",
                "query": {
                    "kind": "InsightVizNode",
                    "source": {
                        "kind": "LifecycleQuery",
                        "dateRange": {"date_from": "-30d"},
                        "series": [{"kind": "EventsNode", "event": "$pageview"}],
                    },
                },
            },
            _trend(
                "Referring domain (last 14 days)",
                [{"kind": "EventsNode", "event": "$pageview", "math": "dau"}],
                dateRange={"date_from": "-14d"},
                trendsFilter={"display": "ActionsBarValue"},
                breakdownFilter={"breakdown": "$referring_domain", "breakdown_type": "event"},
            ),
        ],
    }
}
