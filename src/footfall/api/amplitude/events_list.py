"""`GET /api/2/events/list`: the project's event types with this week's totals, from `query.definitions`.

footfall has no hidden, inactive or deleted events, so those flags are always false; `id` is stable per
project and event name (Airbyte's stream keys records on it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude.dashboard import answer
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.definitions import event_types

router = APIRouter(tags=["Amplitude Dashboard REST API"])

FLAGS = (
    "non_active",
    "deleted",
    "hidden",
    "flow_hidden",
    "autohidden",
    "clusters_hidden",
    "in_waitroom",
    "timeline_hidden",
)


@router.get("/api/2/events/list")
def events_list(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], list[dict[str, Any]]]]:
        def run() -> list[dict[str, Any]]:
            return [
                {
                    "id": t.id,
                    "value": t.name,
                    "name": t.name,
                    "display": t.name,
                    "totals": t.week_totals,
                    **dict.fromkeys(FLAGS, False),
                }
                for t in event_types(engine, project.id, project.timezone)
            ]

        return 1, run

    return answer(request, project, plan)
