"""`GET /api/2/usersearch?user=…`: users by Amplitude ID, device ID, user ID or user ID prefix
(`query.user_search`). No `data` envelope; it spends the user-lookup budget, as user activity does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.user_search import search

router = APIRouter(tags=["Amplitude Dashboard REST API"])


@router.get("/api/2/usersearch")
def usersearch(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        text = q.get("user")
        if not text:
            raise params.BadRequest("Missing required parameter: user")

        def run() -> dict[str, Any]:
            kind, matches = search(engine, project.id, project.timezone, text)
            return {
                "type": kind,
                "matches": [
                    {
                        "user_id": m.user_id,
                        "amplitude_id": m.amplitude_id,
                        "last_device_id": m.last_device_id,
                        "platform": m.platform,
                        "country": m.country,
                        "last_seen": m.last_seen,
                    }
                    for m in matches
                ],
            }

        return 1, run

    return answer(request, project, plan, envelope=False, budget="user_lookups")
