"""`GET /api/2/sessions/length`, `/sessions/average`, `/sessions/peruser`: shaped from `query.sessions`.

Amplitude documents only `start` and `end`; `i` (1, 7, 30) and `s` are accepted too, as on its other charts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer, number, query_cost
from footfall.api.amplitude.segmentation import x_value
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.sessions import DEFAULT_BINS, SessionSeries, average_length, length_histogram, sessions_per_user
from footfall.query.spec import Interval, Scope

router = APIRouter(tags=["Amplitude Dashboard REST API"])

SESSIONS_TYPE_COST = 4  # Amplitude's cost for its User Sessions chart
UNIT_MS = {"seconds": 1_000, "minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}
MAX_BINS = 1000
AUTO_BINS = 10  # without a size: Amplitude's doc example (0-10 minutes) comes back as ten 60 s bins


def custom_bins(q: Mapping[str, str]) -> tuple[tuple[int, int], ...]:
    """Bins in ms from `timeHistogramConfigBin{TimeUnit,Min,Max,Size}`. Amplitude's doc: "When combined
    timeHistogramConfigBin parameters are invalid or missing, Amplitude defaults to default bins"."""
    unit = UNIT_MS.get(q.get("timeHistogramConfigBinTimeUnit") or "")
    try:
        low = float(q["timeHistogramConfigBinMin"])
        high = float(q["timeHistogramConfigBinMax"])
        size = float(q.get("timeHistogramConfigBinSize") or (high - low) / AUTO_BINS)
    except (KeyError, ValueError):
        return DEFAULT_BINS
    if unit is None or not all(math.isfinite(v) for v in (low, high, size)) or not 0 <= low < high or size <= 0:
        return DEFAULT_BINS
    count = math.ceil((high - low) / size - 1e-9)
    if count > MAX_BINS:
        return DEFAULT_BINS
    edges = [low + i * size for i in range(count)] + [high]
    return tuple((round(edges[i] * unit), round(edges[i + 1] * unit)) for i in range(count))


def bin_label(low_ms: int, high_ms: int) -> str:
    """`[start]s-[end]s`, in seconds."""
    return f"{number(low_ms / 1000)}s-{number(high_ms / 1000)}s"


def _scope(q: Mapping[str, str], project: ProjectInfo) -> tuple[Scope, int]:
    """The scope and Amplitude's cost of a sessions chart over it."""
    if q.get("i") in ("-300000", "-3600000"):
        raise params.BadRequest("Session charts use intervals 1, 7 or 30 days")
    interval, max_days = params.interval(q.get("i"))
    rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
    scope = Scope(project.id, rng, interval, params.segments(q.get("s")))
    return scope, query_cost((rng.end - rng.start).days, len(scope.filters), SESSIONS_TYPE_COST)


def _series(result: SessionSeries, interval: Interval) -> dict[str, Any]:
    return {
        "series": [[number(v) for v in result.values]],
        "seriesMeta": [{"segmentIndex": 0}],
        "xValues": [x_value(b, interval) for b in result.buckets],
    }


@router.get("/api/2/sessions/length")
def session_length(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        scope, cost = _scope(q, project)
        bins = custom_bins(q)
        return cost, lambda: {
            "series": [length_histogram(engine, scope, bins)],
            "xValues": [bin_label(low, high) for low, high in bins],
        }

    return answer(request, project, plan)


@router.get("/api/2/sessions/average")
def session_average(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        scope, cost = _scope(q, project)
        return cost, lambda: _series(average_length(engine, scope), scope.interval)

    return answer(request, project, plan)


@router.get("/api/2/sessions/peruser")
def sessions_per_user_chart(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        scope, cost = _scope(q, project)
        return cost, lambda: _series(sessions_per_user(engine, scope), scope.interval)

    return answer(request, project, plan)
