"""`GET /api/2/revenue/ltv`: revenue lifetime value of the users first seen in each interval (`query.revenue`).

Per cohort, `rNd` is the metric over the users' first N days, N = 1..90; `count` is the cohort's size,
`paid` its paying users and `total_amount` its revenue, both within those 90 days. `combined` (read by
some clients) is the same over all cohorts of a group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from footfall.api.amplitude import params
from footfall.api.amplitude.dashboard import answer, number, query_cost
from footfall.api.auth import amplitude_project
from footfall.meta.accounts import ProjectInfo
from footfall.query.revenue import LTV_DAYS, LtvCohort, run_ltv
from footfall.query.spec import Scope

router = APIRouter(tags=["Amplitude Dashboard REST API"])

# `m` -> the metric of (revenue, paying users, users) over the first N days.
METRICS: dict[str, Callable[[float, int, int], float]] = {
    "0": lambda revenue, paying, users: revenue / users if users else 0.0,  # ARPU
    "1": lambda revenue, paying, users: revenue / paying if paying else 0.0,  # ARPPU
    "2": lambda revenue, paying, users: revenue,  # total revenue
    "3": lambda revenue, paying, users: paying,  # paying users
}


def _money(value: float) -> int | float:
    return number(round(value, 6))  # no float noise (0.1 + 0.2) in amounts


def _cell(metric: Callable[[float, int, int], float], users: int, revenue: list[float], paying: list[int]) -> dict:
    cell: dict[str, Any] = {f"r{n + 1}d": _money(metric(revenue[n], paying[n], users)) for n in range(LTV_DAYS)}
    cell.update(count=users, paid=paying[-1], total_amount=_money(revenue[-1]))
    return cell


def _series(metric: Callable[[float, int, int], float], cohorts: list[LtvCohort]) -> dict[str, Any]:
    labels = [c.bucket.strftime("%Y-%m-%d") for c in cohorts]
    users = sum(c.users for c in cohorts)
    revenue = [sum(c.revenue[n] for c in cohorts) for n in range(LTV_DAYS)]
    paying = [sum(c.paying[n] for c in cohorts) for n in range(LTV_DAYS)]
    return {
        "dates": labels[::-1],
        "values": {
            label: _cell(metric, c.users, c.revenue, c.paying) for label, c in zip(labels, cohorts, strict=True)
        },
        "combined": _cell(metric, users, revenue, paying),
    }


@router.get("/api/2/revenue/ltv")
def revenue_ltv(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    q = request.query_params
    engine = request.app.state.runtime.engine

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        metric = METRICS.get(q.get("m") or "0")
        if metric is None:
            raise params.BadRequest(f"Unknown metric: {q.get('m')} (0 ARPU, 1 ARPPU, 2 total revenue, 3 paying users)")
        if q.get("i") in ("-300000", "-3600000"):
            raise params.BadRequest("Revenue LTV intervals are 1, 7 or 30 days")
        interval, max_days = params.interval(q.get("i"))
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
        scope = Scope(project.id, rng, interval, params.segments(q.get("s")))
        group = params.group_by(q.get("g"))

        def run() -> dict[str, Any]:
            groups = sorted(run_ltv(engine, scope, group).items(), key=lambda g: (-sum(c.users for c in g[1]), g[0]))
            return {
                "seriesLabels": [(value or "(none)") if group else value for value, _ in groups],
                "series": [_series(metric, cohorts) for _, cohorts in groups],
            }

        return query_cost((rng.end - rng.start).days, len(scope.filters) + (4 if group else 0), 1), run

    return answer(request, project, plan)
