"""`GET /api/2/funnels`: Amplitude's funnel, shaped from footfall's funnel query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import QueryParams

from footfall.api.amplitude import params
from footfall.api.amplitude.custom_events import lookup
from footfall.api.amplitude.dashboard import answer, query_cost
from footfall.api.auth import amplitude_project
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.query.definitions import check_known
from footfall.query.funnels import MAX_STEPS, run_funnel
from footfall.query.spec import FunnelGroup, FunnelOrder, FunnelQuery, FunnelResult, Scope

router = APIRouter(tags=["Amplitude Dashboard REST API"])

MODES = {"ordered": FunnelOrder.ORDERED, "unordered": FunnelOrder.UNORDERED, "sequential": FunnelOrder.STRICT}
DEFAULT_WINDOW_SECONDS = 2_592_000  # 30 days


def _ms(values: list[float | None]) -> list[int]:
    return [round(v) if v is not None else 0 for v in values]


def _ratios(counts: list[int]) -> tuple[list[float], list[float]]:
    first = counts[0] or 1
    cumulative = [c / first if counts[0] else 0.0 for c in counts]
    step = [1.0 if i == 0 else (c / counts[i - 1] if counts[i - 1] else 0.0) for i, c in enumerate(counts)]
    return step, cumulative


def shape_group(group: FunnelGroup, result: FunnelResult, names: list[str], index: int, now_day: Any) -> dict:
    step, cumulative = _ratios(group.counts)
    x_values = [b.strftime("%Y-%m-%d") for b in result.buckets]
    formatted = [b.strftime("%b %d, %Y") for b in result.buckets]
    per_day = [group.by_bucket.get(b, [0] * len(names)) for b in result.buckets]
    n = len(names)

    def by_day(table: dict[Any, list[float | None]]) -> dict[str, Any]:
        return {
            "series": [_ms(table.get(b, [None] * n)) for b in result.buckets],
            "xValues": x_values,
            "formattedXValues": formatted,
        }

    return {
        "meta": {"segmentIndex": index},
        "groupValue": group.breakdown or "",
        "events": names,
        "cumulativeRaw": group.counts,
        "cumulative": cumulative,
        "stepByStep": step,
        "avgTransTimes": _ms(group.avg_ms),
        "medianTransTimes": _ms(group.median_ms),
        "dayFunnels": {
            "series": per_day,
            "xValues": x_values,
            "formattedXValues": formatted,
            "isComplete": [b < now_day for b in result.buckets],
        },
        "dayAvgTransTimes": by_day(group.by_bucket_avg_ms),
        "dayMedianTransTimes": by_day(group.by_bucket_median_ms),
        "convertedUniqueCounts": {str(i): c for i, c in enumerate(group.counts)},
        "dropoffUniqueCounts": {
            str(i): c - (group.counts[i + 1] if i + 1 < n else c) for i, c in enumerate(group.counts)
        },
        "novaSegmentIndex": index,
    }


def shape(result: FunnelResult, names: list[str], timezone: str) -> list[dict[str, Any]]:
    """Amplitude's funnel body: one element per group; local days before today are complete."""
    today = dt.datetime.now(ZoneInfo(timezone)).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    return [shape_group(g, result, names, i, today) for i, g in enumerate(result.groups)]


@router.get("/api/2/funnels")
def funnels(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    rt = request.app.state.runtime
    return answer(request, project, planner(rt.engine, project, request.query_params, lookup(rt.meta, project.id)))


def planner(
    engine: Engine, project: ProjectInfo, q: QueryParams, custom: params.CustomEvents
) -> Callable[[], tuple[int, Callable[[], list[dict[str, Any]]]]]:
    """The parameters → (cost, run); saved charts (`api/amplitude/charts.py`) run through this too."""

    def plan() -> tuple[int, Callable[[], list[dict[str, Any]]]]:
        raw_steps = q.getlist("e")
        if len(raw_steps) == 1 and raw_steps[0].lstrip().startswith("["):  # some clients send one JSON array
            raw_steps = [orjson.dumps(step).decode() for step in params.json_param(raw_steps[0], "e")]
        if not raw_steps:
            raise params.BadRequest("Missing required parameter: e")
        if len(raw_steps) > MAX_STEPS:
            raise params.BadRequest(f"A funnel has at most {MAX_STEPS} steps")
        steps = [params.event(raw, "e", custom) for raw in raw_steps]
        check_known(engine, project.id, [selector for selector, _ in steps])
        mode = MODES.get(q.get("mode", "ordered"))
        if mode is None:
            raise params.BadRequest(f"Invalid mode: {q.get('mode')}")
        users = q.get("n", "active")
        if users not in ("active", "any", "new"):
            raise params.BadRequest(f"Invalid n: {users} (active or new)")
        window = _window_seconds(q.get("cs"), mode)
        interval, max_days = params.interval(q.get("i"))
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
        query = FunnelQuery(
            Scope(project.id, rng, interval, params.segments(q.get("s"))),
            tuple(selector for selector, _ in steps),
            window * 1000,
            mode,
            params.group_by(q.get("g")),
            params.limit(q.get("limit")),
            new_users=users == "new",
        )
        names = [_name(raw) for raw in raw_steps]
        conditions = len(query.scope.filters) + sum(len(s.filters) for s in query.steps)
        cost = query_cost(
            (rng.end - rng.start).days, conditions, len(steps) * 2 + (4 * len(steps) if query.breakdown else 0)
        )

        return cost, lambda: shape(run_funnel(engine, query), names, project.timezone)

    return plan


def _window_seconds(raw: str | None, mode: FunnelOrder) -> int:
    if raw is None or raw == "":
        return DEFAULT_WINDOW_SECONDS
    try:
        seconds = int(raw)
    except ValueError as exc:
        raise params.BadRequest("cs must be a whole number of seconds") from exc
    if not 1 <= seconds <= 366 * 86400:
        raise params.BadRequest("cs must be between 1 second and 366 days")
    if mode is FunnelOrder.UNORDERED:  # Amplitude rounds unordered windows down to whole days
        seconds = max(86400, seconds - seconds % 86400)
    return seconds


def _name(raw: str) -> str:
    event_type = params.json_param(raw, "e").get("event_type", "")
    return event_type.removeprefix("ce:")
