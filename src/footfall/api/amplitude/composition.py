"""`GET /api/2/composition?p=<property>`: users by the value of one user property, from `query.composition`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer, query_cost
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.composition import run_composition
from footfall.query.spec import Scope

router = APIRouter(tags=["Amplitude Dashboard REST API"])

NONE_LABEL = "(none)"


@router.get("/api/2/composition")
def composition(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        name = q.get("p")
        if not name:
            raise params.BadRequest("Missing required parameter: p")
        prop = params.user_property(name)
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, 365)
        scope = Scope(project.id, rng, filters=params.segments(q.get("s")))

        def run() -> dict[str, Any]:
            rows = run_composition(engine, scope, prop)
            return {
                "series": [[users for _, users in rows]],
                "seriesLabels": [name],
                "xValues": [value or NONE_LABEL for value, _ in rows],
            }

        return query_cost((rng.end - rng.start).days, len(scope.filters), 1), run

    return answer(request, project, plan)
