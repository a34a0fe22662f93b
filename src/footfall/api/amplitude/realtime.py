"""`GET /api/2/realtime?i=5`: active users per 5 minutes, the last day against the day before (`query.realtime`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.realtime import run_realtime

router = APIRouter(tags=["Amplitude Dashboard REST API"])


@router.get("/api/2/realtime")
def realtime(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        if q.get("i", "5") != "5":
            raise params.BadRequest("The realtime interval i must be 5")

        def run() -> dict[str, Any]:
            result = run_realtime(engine, project.id, project.timezone)
            return {
                "xValues": result.labels,
                "seriesLabels": ["Today", "Yesterday"],
                "series": [result.today, result.yesterday],
            }

        return 2, run  # two days at cost 1

    return answer(request, project, plan)
