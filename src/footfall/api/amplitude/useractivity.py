"""`GET /api/2/useractivity?user=<amplitude_id>`: a user's summary and events (`query.user_activity`).

No `data` envelope, as Amplitude answers it; an unknown user is a 200 with empty values. It spends the
user-lookup budget (360 queries an hour), not the cost budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer, number
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.user_activity import MAX_EVENTS, User, events, resolve, summary

router = APIRouter(tags=["Amplitude Dashboard REST API"])

MAX_AMPLITUDE_ID = (1 << 64) - 1


def amplitude_id_param(raw: str | None) -> int:
    if not raw:
        raise params.BadRequest("Missing required parameter: user")
    if not raw.isdigit() or int(raw) > MAX_AMPLITUDE_ID:
        raise params.BadRequest("user must be an Amplitude ID (a whole number)")
    return int(raw)


def offset_param(raw: str | None) -> int:
    if not raw:
        return 0
    if not raw.isdigit():
        raise params.BadRequest("offset must be a whole number, 0 or more")
    return int(raw)


def empty_user(amplitude_id: int) -> dict[str, Any]:
    """What Amplitude answers for an ID it does not know."""
    return {
        "num_sessions": 0,
        "purchases": 0,
        "revenue": 0,
        "merged_amplitude_ids": [],
        "num_events": 0,
        "canonical_amplitude_id": amplitude_id,
        "user_id": None,
        "last_location": None,
        "usage_time": 0,
        "last_device_id": None,
        "device_ids": [],
    }


def user_data(engine: Any, project: ProjectInfo, user: User) -> dict[str, Any]:
    s = summary(engine, project.id, project.timezone, user.pid)
    return {
        "user_id": s.latest.get("user_id"),
        "canonical_amplitude_id": user.amplitude_id,
        "merged_amplitude_ids": list(user.merged_amplitude_ids),
        "num_events": s.num_events,
        "num_sessions": s.num_sessions,
        "usage_time": s.usage_time,
        "first_used": s.first_used,
        "last_used": s.last_used,
        "purchases": s.purchases,
        "revenue": number(round(s.revenue, 6)),
        **{k: v for k, v in s.latest.items() if k not in ("user_id", "last_device_id")},
        "start_version": s.start_version,
        "device_ids": s.device_ids,
        "last_device_id": s.latest.get("last_device_id"),
        "last_location": s.last_location,
        "properties": s.properties,
    }


@router.get("/api/2/useractivity")
def useractivity(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        wanted = amplitude_id_param(q.get("user"))
        offset = offset_param(q.get("offset"))
        limit = params.limit(q.get("limit"), default=MAX_EVENTS, maximum=MAX_EVENTS)
        direction = q.get("direction") or "latest"
        if direction not in ("latest", "earliest"):
            raise params.BadRequest("direction must be latest or earliest")

        def run() -> dict[str, Any]:
            user = resolve(engine, project.id, wanted)
            if user is None:
                return {"userData": empty_user(wanted), "events": []}
            return {
                "userData": user_data(engine, project, user),
                "events": events(engine, project.id, user.pid, offset, limit, direction == "earliest"),
            }

        return 1, run

    return answer(request, project, plan, envelope=False, budget="user_lookups")
