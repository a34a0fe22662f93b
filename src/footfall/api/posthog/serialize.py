"""PostHog's JSON for dashboards, tiles, insights and users (the fields its serializers emit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta import dashboards as boards
from footfall.meta.models import Dashboard, DashboardText, DashboardTile, Insight, SharingConfiguration, User


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def user(session: Session, user_id: int | None) -> dict[str, Any] | None:
    found = session.get(User, user_id) if user_id else None
    if found is None:
        return None
    return {
        "id": found.id,
        "uuid": None,
        "distinct_id": f"user-{found.id}",
        "first_name": found.first_name,
        "last_name": "",
        "email": found.email,
        "is_email_verified": True,
    }


def insight(session: Session, item: Insight, result: dict[str, Any] | None = None) -> dict[str, Any]:
    tile_rows = session.execute(
        select(DashboardTile.id, DashboardTile.dashboard_id).where(
            DashboardTile.insight_id == item.id, DashboardTile.deleted.is_(False)
        )
    ).all()
    envelope = result or {}
    return {
        "id": item.id,
        "short_id": item.short_id,
        "name": item.name,
        "derived_name": item.derived_name,
        "query": item.query,
        "order": None,
        "deleted": item.deleted,
        "dashboards": [dashboard_id for _, dashboard_id in tile_rows],
        "dashboard_tiles": [{"id": tile_id, "dashboard_id": dashboard_id} for tile_id, dashboard_id in tile_rows],
        "last_refresh": envelope.get("last_refresh"),
        "cache_target_age": envelope.get("cache_target_age"),
        "next_allowed_client_refresh": envelope.get("next_allowed_client_refresh"),
        "result": envelope.get("results"),
        "hasMore": envelope.get("hasMore", False),
        "columns": None,
        "created_at": iso(item.created_at),
        "created_by": user(session, item.created_by_id),
        "description": item.description,
        "updated_at": iso(item.updated_at),
        "tags": list(item.tags or []),
        "favorited": item.favorited,
        "saved": item.saved,
        "last_modified_at": iso(item.last_modified_at),
        "last_modified_by": user(session, item.last_modified_by_id),
        "is_sample": False,
        "effective_restriction_level": 21,
        "effective_privilege_level": 37,
        "user_access_level": "editor",
        "timezone": envelope.get("timezone"),
        "is_cached": envelope.get("is_cached", False),
        # A query that failed on a dashboard shows its error on the tile rather than failing the dashboard.
        "query_status": {"error": True, "error_message": envelope["error"]} if envelope.get("error") else None,
        "hogql": None,
        "types": None,
    }


def tile(session: Session, item: DashboardTile, insight_json: dict[str, Any] | None) -> dict[str, Any]:
    text = session.get(DashboardText, item.text_id) if item.text_id else None
    return {
        "id": item.id,
        "insight": insight_json,
        "text": {"id": text.id, "body": text.body, "last_modified_at": iso(text.last_modified_at)} if text else None,
        "button_tile": None,
        "color": item.color,
        "layouts": item.layouts or {},
        "filters_overrides": item.filters_overrides or {},
        "show_description": item.show_description,
        "transparent_background": item.transparent_background,
        "deleted": item.deleted,
        "last_refresh": (insight_json or {}).get("last_refresh"),
        "is_cached": (insight_json or {}).get("is_cached", False),
        "order": None,
    }


def _is_shared(session: Session, board: Dashboard) -> bool:
    return (
        session.scalar(select(SharingConfiguration.enabled).where(SharingConfiguration.dashboard_id == board.id))
        is True
    )


def dashboard_basic(session: Session, board: Dashboard) -> dict[str, Any]:
    return {
        "id": board.id,
        "name": board.name,
        "description": board.description,
        "pinned": board.pinned,
        "created_at": iso(board.created_at),
        "created_by": user(session, board.created_by_id),
        "last_accessed_at": iso(board.last_accessed_at),
        "last_viewed_at": iso(board.last_accessed_at),
        "is_shared": _is_shared(session, board),
        "deleted": board.deleted,
        "creation_mode": board.creation_mode,
        "tags": list(board.tags or []),
        "restriction_level": board.restriction_level,
        "effective_restriction_level": board.restriction_level,
        "effective_privilege_level": 37,
        "user_access_level": "editor",
        "access_control_version": "v2",
        "last_refresh": iso(board.last_refresh),
        "team_id": board.project_id,
    }


def dashboard_full(session: Session, board: Dashboard, tile_results: dict[int, dict[str, Any]]) -> dict[str, Any]:
    out = dashboard_basic(session, board)
    tiles_json = []
    for item in boards.tiles(session, board.id):
        found = session.get(Insight, item.insight_id) if item.insight_id else None
        insight_json = insight(session, found, tile_results.get(found.id)) if found and not found.deleted else None
        if item.insight_id and insight_json is None:
            continue
        tiles_json.append(tile(session, item, insight_json))
    out.update(
        {
            "filters": board.filters or {},
            "variables": board.variables or {},
            "breakdown_colors": board.breakdown_colors or [],
            "data_color_theme_id": None,
            "persisted_filters": board.filters or {},
            "persisted_variables": board.variables or {},
            "quick_filter_ids": [],
            "tiles": tiles_json,
        }
    )
    return out
