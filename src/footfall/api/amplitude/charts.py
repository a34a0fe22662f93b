"""`/api/3/chart/{chart_id}/query` and `/csv`: a saved chart's results, as Amplitude returns them.

A chart is an `Insight`. One saved with Amplitude parameters runs through the endpoint's own planner
(segmentation, funnels, retention); one saved as a PostHog TrendsQuery, FunnelsQuery or RetentionQuery
is translated by PostHog's translator and shaped by the same Amplitude shapers, so a number is the
same wherever it is shown. `start`/`end` (YYYYMMDD) on the request override the chart's range; a chart
without one shows the last 30 days (Amplitude parameters) or its PostHog default.

`/query` is the segmentation body with `{"setId", "value"}` points (funnels and retention as their
endpoints return them), in the usual envelope; `/csv` is the chart's table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import QueryParams

from footfall.api.amplitude import funnels, params, retention, segmentation
from footfall.api.amplitude.custom_events import lookup
from footfall.api.amplitude.dashboard import CALLER_ERRORS, answer, query_cost
from footfall.api.amplitude.errors import amplitude_error
from footfall.api.auth import amplitude_project
from footfall.api.posthog import translate
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.meta.insights import AMPLITUDE_CHARTS, chart_by_ref
from footfall.meta.models import Insight
from footfall.query.funnels import run_funnel
from footfall.query.retention import run_retention
from footfall.query.trends import run_trends

router = APIRouter(tags=["Amplitude Dashboard REST API"])

PLANNERS = {"segmentation": segmentation.planner, "funnels": funnels.planner, "retention": retention.planner}
KINDS = {kind: chart for chart, kind in AMPLITUDE_CHARTS.items()}  # PostHog query kind → chart type
DEFAULT_DAYS = 30
RETENTION_COST = 8

Plan = Callable[[], tuple[int, Callable[[], Any]]]


class Chart:
    """A stored chart made runnable: its type, series names (for the CSV) and its plan."""

    def __init__(self, chart_type: str, names: list[str], plan: Plan) -> None:
        self.type, self.names, self.plan = chart_type, names, plan


def _event_name(raw: Any) -> str:
    name = raw.get("event_type", "") if isinstance(raw, dict) else ""
    return {"_all": "Any Event", "_active": "Any Active Event"}.get(name, str(name).removeprefix("ce:"))


def _amplitude(
    engine: Engine, project: ProjectInfo, insight: Insight, override: QueryParams, custom: params.CustomEvents
) -> Chart:
    definition = insight.amplitude or {}
    chart_type = definition.get("chart")
    if chart_type not in PLANNERS:
        raise params.BadRequest(f"Chart {insight.short_id} has an unknown type")
    pairs: list[tuple[str, str]] = []
    for key, value in (definition.get("params") or {}).items():
        pairs += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
    if override.get("start") or override.get("end"):
        pairs = [(k, v) for k, v in pairs if k not in ("start", "end")]
        pairs += [(k, override[k]) for k in ("start", "end") if override.get(k)]
    elif not any(k == "start" for k, _ in pairs):
        today = dt.datetime.now(zoneinfo.ZoneInfo(project.timezone)).date()
        first = today - dt.timedelta(days=DEFAULT_DAYS - 1)
        pairs += [("start", first.strftime("%Y%m%d")), ("end", today.strftime("%Y%m%d"))]
    q = QueryParams(pairs)
    keys = ("e", "e2") if chart_type == "segmentation" else ("e",) if chart_type == "funnels" else ("se", "re")
    names = [_event_name(_loads(v)) for key in keys for v in q.getlist(key)]
    if chart_type == "segmentation" and q.get("m") == "formula":
        names = [q.get("formula", "")]
    return Chart(chart_type, names, PLANNERS[chart_type](engine, project, q, custom))


def _loads(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _posthog(engine: Engine, project: ProjectInfo, insight: Insight, override: QueryParams) -> Chart:
    query = insight.query or {}
    source = dict(query.get("source") or {}) if query.get("kind") == "InsightVizNode" else dict(query)
    chart_type = KINDS.get(source.get("kind", ""))
    if chart_type is None:
        raise params.BadRequest(f"A {source.get('kind')} chart has no Amplitude form")
    if override.get("start") or override.get("end"):
        first = params.day(override.get("start"), "start").date()
        last = params.day(override.get("end"), "end").date()
        source["dateRange"] = {"date_from": first.isoformat(), "date_to": last.isoformat()}
    nodes = [n for n in source.get("series") or [] if isinstance(n, dict)]
    names = [n.get("custom_name") or n.get("event") or "All events" for n in nodes]

    def plan() -> tuple[int, Callable[[], Any]]:
        if chart_type == "segmentation":
            options = source.get("trendsFilter") or {}
            if options.get("formula") or options.get("formulas") or (source.get("compareFilter") or {}).get("compare"):
                raise params.BadRequest("Formula and comparison insights have no Amplitude chart form yet")
            spec = translate.trends(source, project)
            conditions = len(spec.scope.filters) + sum(len(s.selector.filters) for s in spec.series)
            cost = query_cost(_days(spec.scope), conditions, len(spec.series) + 4 * len(spec.breakdowns))
            grouped = bool(spec.breakdowns)
            return cost, lambda: segmentation.shape(run_trends(engine, spec), spec.scope.interval, grouped)
        if chart_type == "funnels":
            spec = translate.funnel(source, project)
            conditions = len(spec.scope.filters) + sum(len(s.filters) for s in spec.steps)
            cost = query_cost(_days(spec.scope), conditions, 2 * len(spec.steps))
            return cost, lambda: funnels.shape(run_funnel(engine, spec), names, project.timezone)
        spec = translate.retention(source, project)
        cost = query_cost(_days(spec.scope), len(spec.scope.filters), RETENTION_COST)
        return cost, lambda: retention.shape(run_retention(engine, spec))

    if chart_type == "retention":
        options = source.get("retentionFilter") or {}
        names = [str((options.get(k) or {}).get("id") or "") for k in ("targetEntity", "returningEntity")]
    return Chart(chart_type, names, plan)


def _days(scope: Any) -> int:
    return max(1, (scope.date_range.end - scope.date_range.start).days)


def _chart(request: Request, project: ProjectInfo, chart_id: str) -> Chart | Response:
    """The project's chart made runnable, or the 404 / 400 to answer instead."""
    with request.app.state.runtime.meta.session() as session:
        insight = chart_by_ref(session, project.id, chart_id)
    if insight is None:
        return amplitude_error(404, f"Chart {chart_id} not found")
    rt, q = request.app.state.runtime, request.query_params
    try:
        if insight.amplitude:
            return _amplitude(rt.engine, project, insight, q, lookup(rt.meta, project.id))
        return _posthog(rt.engine, project, insight, q)
    except CALLER_ERRORS as exc:
        return amplitude_error(400, str(exc))


def points(data: Any) -> Any:
    """Segmentation series as `{"setId", "value"}` points, as saved-chart results carry them."""
    if isinstance(data, dict) and "seriesCollapsed" in data:
        return {**data, "series": [[{"setId": "", "value": v} for v in row] for row in data["series"]]}
    return data


@router.get("/api/3/chart/{chart_id}/query")
def chart_query(chart_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    chart = _chart(request, project, chart_id)
    if isinstance(chart, Response):
        return chart

    def plan() -> tuple[int, Callable[[], Any]]:
        cost, run = chart.plan()
        return cost, lambda: points(run())

    return answer(request, project, plan)


@router.get("/api/3/chart/{chart_id}/csv")
def chart_csv(chart_id: str, request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    chart = _chart(request, project, chart_id)
    if isinstance(chart, Response):
        return chart
    found = answer(request, project, chart.plan, envelope=False)
    if found.status_code != 200:
        return found
    out = io.StringIO()
    writer = csv.writer(out)
    data = orjson.loads(found.body)
    if chart.type == "segmentation":
        table = segmentation_table(data, chart.names)
    elif chart.type == "funnels":
        table = funnel_table(data)
    else:
        table = retention_table(data)
    writer.writerows(table)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="chart_{chart_id}.csv"'},
    )


def segmentation_table(data: dict[str, Any], names: list[str]) -> list[list[Any]]:
    """A row per series (event, or event; group value), a column per date."""
    rows: list[list[Any]] = [["Series", *data["xValues"]]]
    for label, values in zip(data["seriesLabels"], data["series"], strict=True):
        index, group = (label[0], label[1]) if isinstance(label, list) else (label, None)
        name = names[index] if isinstance(index, int) and index < len(names) else str(index)
        rows.append([f"{name}; {group}" if group is not None else name, *values])
    return rows


def funnel_table(data: list[dict[str, Any]]) -> list[list[Any]]:
    """A row per step of each group: users reaching it and the share of the first step."""
    rows: list[list[Any]] = [["Group", "Step", "Event", "Users", "Conversion"]]
    for group in data:
        for step, (event, users, ratio) in enumerate(
            zip(group["events"], group["cumulativeRaw"], group["cumulative"], strict=True), start=1
        ):
            rows.append([group["groupValue"] or "All", step, event, users, round(ratio, 6)])
    return rows


def retention_table(data: dict[str, Any]) -> list[list[Any]]:
    """A row per start cohort (then all cohorts together): its size and the persons back per period."""
    series = data["series"]
    columns = max((len(s["combined"]) - 1 for s in series), default=0)  # the first cell is the cohort size
    rows: list[list[Any]] = [["Group", "Cohort", "Users", *(f"Period {i}" for i in range(columns))]]
    for s in series:
        group = s["groupValue"] or "All"
        for date in reversed(s["dates"]):
            cells = s["values"][date]
            rows.append([group, date, cells[0]["count"], *(c["count"] for c in cells[1:])])
        combined = s["combined"]
        rows.append([group, "All", combined[0]["count"], *(c["count"] for c in combined[1:])])
    return rows
