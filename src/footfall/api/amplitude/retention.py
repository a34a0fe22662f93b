"""`GET /api/2/retention`: Amplitude's retention table, shaped from footfall's retention query."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import QueryParams

from footfall.api.amplitude import params
from footfall.api.amplitude.custom_events import lookup
from footfall.api.amplitude.dashboard import answer, query_cost
from footfall.api.auth import amplitude_project
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.query.definitions import check_known
from footfall.query.retention import run_retention
from footfall.query.spec import CohortBy, EventSelector, RetentionMode, RetentionQuery, RetentionResult, Scope
from footfall.query.timerange import buckets

router = APIRouter(tags=["Amplitude Dashboard REST API"])

RETENTION_TYPE_COST = 8
MAX_PERIODS = 90


def _label(moment: dt.datetime) -> str:
    return moment.strftime("%b %d")


def _start_event(raw: str | None, custom: params.CustomEvents) -> tuple[EventSelector, CohortBy]:
    """`se`; the pseudo event `_new` means a person's first event ever."""
    value = params.json_param(raw, "se")
    if isinstance(value, dict) and value.get("event_type") == "_new":
        selector, _ = params.event_of({**value, "event_type": "_all"}, "se")
        return selector, CohortBy.FIRST_EVER
    selector, _ = params.event_of(value, "se", custom)
    return selector, CohortBy.FIRST_IN_RANGE


def _brackets(raw: str | None) -> tuple[tuple[int, int], ...]:
    value = params.json_param(raw, "rb")
    if not isinstance(value, list) or not value:
        raise params.BadRequest("rb must be a list of [low, high] brackets")
    out = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        ):
            raise params.BadRequest("rb must be a list of [low, high] brackets")
        out.append((item[0], item[1]))
    return tuple(out)


def shape(result: RetentionResult) -> dict[str, Any]:
    series = []
    for group, cohorts in result.groups.items():
        values = {}
        for cohort in cohorts:
            cells = [{"count": cohort.size, "outof": cohort.size, "incomplete": False}]
            cells += [
                {"count": count, "outof": cohort.size, "incomplete": incomplete}
                for count, incomplete in zip(cohort.counts, cohort.incomplete, strict=True)
            ]
            values[_label(cohort.bucket)] = cells
        size, counts = result.combined.get(group, (0, [0] * len(result.columns)))
        combined = [{"count": size, "outof": size, "retainedSetId": None, "incomplete": False}]
        combined += [{"count": c, "outof": size, "retainedSetId": None, "incomplete": False} for c in counts]
        series.append(
            {
                "dates": [_label(c.bucket) for c in reversed(cohorts)],
                "values": values,
                "combined": combined,
                "groupValue": group,
            }
        )
    return {"series": series, "seriesMeta": [{"segmentIndex": i, "eventIndex": 0} for i in range(len(series))]}


@router.get("/api/2/retention")
def retention(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    rt = request.app.state.runtime
    return answer(request, project, planner(rt.engine, project, request.query_params, lookup(rt.meta, project.id)))


def planner(
    engine: Engine, project: ProjectInfo, q: QueryParams, custom: params.CustomEvents
) -> Callable[[], tuple[int, Callable[[], dict[str, Any]]]]:
    """The parameters → (cost, run); saved charts (`api/amplitude/charts.py`) run through this too."""

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        start, cohort_by = _start_event(q.get("se"), custom)
        returning, _ = params.event(q.get("re"), "re", custom)
        check_known(engine, project.id, [start, returning])
        interval, max_days = params.interval(q.get("i"))
        if q.get("i") in ("-300000", "-3600000"):
            raise params.BadRequest("Retention intervals are 1, 7 or 30 days")
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
        scope = Scope(project.id, rng, interval, params.segments(q.get("s")))
        mode_name = q.get("rm", "n-day")
        mode = {
            "n-day": RetentionMode.N_DAY,
            "nday": RetentionMode.N_DAY,
            "rolling": RetentionMode.ROLLING,
            "bracket": RetentionMode.BRACKET,
        }.get(mode_name)
        if mode is None:
            raise params.BadRequest(f"Invalid retention mode: {mode_name}")
        brackets = _brackets(q.get("rb")) if mode is RetentionMode.BRACKET else ()
        periods = min(MAX_PERIODS, len(buckets(rng, interval)))
        query = RetentionQuery(scope, start, returning, periods, mode, brackets, cohort_by, params.group_by(q.get("g")))
        conditions = len(scope.filters) + len(start.filters) + len(returning.filters)
        cost = query_cost((rng.end - rng.start).days, conditions, RETENTION_TYPE_COST)
        return cost, lambda: shape(run_retention(engine, query))

    return plan
