"""`GET /api/2/users`: active or new users per interval (new = the interval of a person's first event ever).

Active users are the trends query's uniques of any event; new users are the sizes of first-ever cohorts
from the retention query, so "new" means the same thing everywhere in footfall.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer, number, query_cost
from footfall.api.amplitude.segmentation import x_value
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.retention import run_retention
from footfall.query.spec import CohortBy, EventSelector, Math, RetentionQuery, Scope, Series, TrendsQuery
from footfall.query.trends import run_trends

router = APIRouter(tags=["Amplitude Dashboard REST API"])


def _active(engine: Any, scope: Scope, group: Any) -> tuple[list[Any], list[tuple[str, list[float], float]]]:
    result = run_trends(
        engine, TrendsQuery(scope, (Series(EventSelector(None), Math.UNIQUES),), (group,) if group else (), 1000)
    )
    return result.buckets, [("; ".join(s.breakdown), s.values, s.total) for s in result.series]


def _new(engine: Any, scope: Scope, group: Any) -> tuple[list[Any], list[tuple[str, list[float], float]]]:
    any_event = EventSelector(None)
    result = run_retention(
        engine, RetentionQuery(scope, any_event, any_event, 0, cohort_by=CohortBy.FIRST_EVER, breakdown=group)
    )
    rows = [
        (value, [c.size for c in cohorts], result.combined.get(value, (0, []))[0])
        for value, cohorts in result.groups.items()
    ]
    rows.sort(key=lambda r: -r[2])
    return [c.bucket for c in next(iter(result.groups.values()))], rows


@router.get("/api/2/users")
def users(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        metric = q.get("m", "active")
        if metric not in ("active", "new"):
            raise params.BadRequest(f"Unknown metric: {metric}")
        interval, max_days = params.interval(q.get("i"))
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
        scope = Scope(project.id, rng, interval, params.segments(q.get("s")))
        group = params.group_by(q.get("g"))

        def run() -> dict[str, Any]:
            x, rows = (_active if metric == "active" else _new)(engine, scope, group)
            labels: list[Any] = [label or "(none)" for label, _, _ in rows] if group else [0] * len(rows)
            return {
                "series": [[number(v) for v in values] for _, values, _ in rows],
                "seriesLabels": labels,
                "seriesMeta": labels if group else [{"segmentIndex": 0} for _ in rows],
                "seriesCollapsed": [[{"setId": "", "value": number(total)}] for _, _, total in rows],
                "xValues": [x_value(b, interval) for b in x],
            }

        return query_cost((rng.end - rng.start).days, len(scope.filters), 1), run

    return answer(request, project, plan)
