"""Saved charts (PostHog insights): creation and project-scoped lookup.

Amplitude has no chart-creation API, so charts come from PostHog's insights API, the UI, or
`create_chart` here (tests, demo data).
"""

from __future__ import annotations

import secrets
import string
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import Insight

AMPLITUDE_CHARTS = {"segmentation": "TrendsQuery", "funnels": "FunnelsQuery", "retention": "RetentionQuery"}
QUERY_KINDS = frozenset(AMPLITUDE_CHARTS.values()) | {
    "LifecycleQuery",
    "StickinessQuery",
    "PathsQuery",
    "HogQLQuery",
    "DataTableNode",
}
_ALPHABET = string.ascii_letters + string.digits


class InsightError(ValueError):
    """A chart definition that cannot be stored."""


def new_short_id() -> str:
    """8 random letters and digits, never all digits (a numeric chart id means the integer id)."""
    while True:
        short_id = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        if not short_id.isdigit():
            return short_id


def _param_value(value: Any) -> str | list[str]:
    """A stored query-string value: JSON for objects, a list for a repeated parameter (funnel steps)."""
    if isinstance(value, dict):
        return _json(value)
    if isinstance(value, list):
        return [v if isinstance(v, str) else _json(v) for v in value]
    return str(value)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def amplitude_definition(chart: str, params: dict[str, Any]) -> dict[str, Any]:
    """An Amplitude chart: the endpoint (segmentation, funnels, retention) and its Dashboard REST parameters.

    Objects are stored as the JSON text the endpoint reads and lists as a repeated parameter, so
    `{"e": [{"event_type": "a"}, {"event_type": "b"}]}` is a two-step funnel; give `s` as JSON text.
    """
    if chart not in AMPLITUDE_CHARTS:
        raise InsightError(f"unknown Amplitude chart type: {chart}")
    return {"chart": chart, "params": {str(k): _param_value(v) for k, v in params.items()}}


def create_chart(
    session: Session,
    project_id: int,
    name: str,
    *,
    amplitude: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
    description: str = "",
    created_by_id: int | None = None,
) -> Insight:
    """A saved chart defined by Amplitude parameters (`amplitude_definition`) or a PostHog query
    (`{"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", ...}}`; a bare source is wrapped)."""
    if (amplitude is None) == (query is None):
        raise InsightError("a chart is defined by Amplitude parameters or by a PostHog query, not both")
    if amplitude is not None:
        kind = AMPLITUDE_CHARTS.get(amplitude.get("chart", ""))
        if kind is None or not isinstance(amplitude.get("params"), dict):
            raise InsightError("Amplitude charts are {'chart': segmentation|funnels|retention, 'params': {...}}")
    else:
        assert query is not None
        if query.get("kind") != "InsightVizNode":
            query = {"kind": "InsightVizNode", "source": query}
        source = query.get("source")
        kind = source.get("kind", "") if isinstance(source, dict) else ""
        if kind not in QUERY_KINDS:
            raise InsightError(f"unsupported insight query kind: {kind or None}")
    insight = Insight(
        project_id=project_id,
        short_id=new_short_id(),
        name=name,
        description=description,
        kind=kind,
        query=query,
        amplitude=amplitude,
        saved=True,
        tags=[],
        created_by_id=created_by_id,
        last_modified_by_id=created_by_id,
    )
    session.add(insight)
    session.flush()
    return insight


def chart_by_ref(session: Session, project_id: int, ref: str) -> Insight | None:
    """A project's chart (not deleted) by integer id when `ref` is all digits, else (or then) by short_id."""
    scoped = select(Insight).where(Insight.project_id == project_id, Insight.deleted.is_(False))
    if ref.isascii() and ref.isdigit() and len(ref) <= 18:  # longer is past any id (and SQLite's integers)
        found = session.scalar(scoped.where(Insight.id == int(ref)))
        if found is not None:
            return found
    return session.scalar(scoped.where(Insight.short_id == ref))
