"""`GET /api/2/events/segmentation`: Amplitude's event segmentation, shaped from footfall's trends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from starlette.datastructures import QueryParams

from footfall.api.amplitude import params
from footfall.api.amplitude.custom_events import lookup
from footfall.api.amplitude.dashboard import answer, number, query_cost
from footfall.api.auth import amplitude_project
from footfall.engine import Engine
from footfall.meta.accounts import ProjectInfo
from footfall.query.definitions import check_known
from footfall.query.formula import Ref
from footfall.query.histogram import run_histogram
from footfall.query.spec import (
    HistogramQuery,
    HistogramResult,
    Interval,
    Math,
    PropertyRef,
    Scope,
    Series,
    SeriesResult,
    TrendsQuery,
    TrendsResult,
)
from footfall.query.trends import run_formula, run_share_of_active, run_trends

router = APIRouter(tags=["Amplitude Dashboard REST API"])

SIMPLE_METRICS = {"uniques": Math.UNIQUES, "totals": Math.TOTAL, "average": Math.PER_USER}
PROPERTY_METRICS = {"sums": Math.SUM, "value_avg": Math.AVG}
FORMULA_FUNCTIONS = {
    "UNIQUES": Math.UNIQUES,
    "TOTALS": Math.TOTAL,
    "AVERAGE": Math.PER_USER,
    "PROPSUM": Math.SUM,
    "PROPAVG": Math.AVG,
    "PROPMAX": Math.MAX,
    "PROPMIN": Math.MIN,
}


def x_value(moment: Any, interval: Interval) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S" if interval in (Interval.HOUR, Interval.MINUTE5) else "%Y-%m-%d")


def shape(result: TrendsResult, interval: Interval, grouped: bool, formula: str | None = None) -> dict[str, Any]:
    """Amplitude's segmentation body: labels are event indexes, or [event index, group value] pairs."""
    data: dict[str, Any] = {
        "series": [[number(v) for v in s.values] for s in result.series],
        "seriesLabels": [
            [s.series_index, "; ".join(s.breakdown)] if grouped else s.series_index for s in result.series
        ],
        "seriesCollapsed": [[{"setId": "", "value": number(s.total)}] for s in result.series],
        "xValues": [x_value(b, interval) for b in result.buckets],
    }
    data["seriesMeta"] = [
        {"segmentIndex": 0, "formulaIndex": 0, "formula": formula}
        if formula is not None
        else {"segmentIndex": 0, "eventIndex": s.series_index}
        for s in result.series
    ]
    return data


def shape_histogram(result: HistogramResult, interval: Interval) -> dict[str, Any]:
    """A series per bin, labelled `[0, "[low, high)"]` where a grouped series has its group value: the events
    in the bin (with a property) or the persons (without), per interval and, collapsed, over the range.

    Amplitude documents `histogram` only by name, as a property metric like `sums` and `value_avg` (the API
    reference: "a valid group_by value is required in parameter e"; its help center: "Distribution of
    Property Value … the distribution of event totals broken out by the values of the selected event
    property. The minimum value is inclusive, and the maximum value is exclusive"). No response of it was
    found in its docs, its issue trackers or public clients, so this is the shape of the other segmentation
    metrics, which clients already parse, with bins as the groups. Without a property it bins each user's
    count of the event instead, as Amplitude's Frequency measure does."""
    series = [
        SeriesResult(0, (f"[{number(low)}, {number(high)})",), [float(c) for c in counts], float(total))
        for (low, high), counts, total in zip(result.bins, result.counts, result.totals, strict=True)
    ]
    return shape(TrendsResult(result.buckets, series), interval, grouped=True)


@router.get("/api/2/events/segmentation")
def segmentation(request: Request, project: ProjectInfo = Depends(amplitude_project)) -> Response:
    rt = request.app.state.runtime
    return answer(request, project, planner(rt.engine, project, request.query_params, lookup(rt.meta, project.id)))


def planner(
    engine: Engine, project: ProjectInfo, q: QueryParams, custom: params.CustomEvents
) -> Callable[[], tuple[int, Callable[[], dict[str, Any]]]]:
    """The parameters → (cost, run); saved charts (`api/amplitude/charts.py`) run through this too."""

    def plan() -> tuple[int, Callable[[], dict[str, Any]]]:
        events = [params.event(q.get("e"), "e", custom)]
        if q.get("e2"):
            events.append(params.event(q.get("e2"), "e2", custom))
        check_known(engine, project.id, [selector for selector, _ in events])
        interval, max_days = params.interval(q.get("i"))
        rng = params.date_range(q.get("start"), q.get("end"), project.timezone, max_days)
        scope = Scope(project.id, rng, interval, params.segments(q.get("s")))
        metric = q.get("m", "uniques")
        outer = tuple(g for g in (params.group_by(q.get("g")), params.group_by(q.get("g2"))) if g)
        limit = params.limit(q.get("limit"))
        window = params.whole_number(q.get("rollingWindow"), "rollingWindow", 1, 366)
        average_over = params.whole_number(q.get("rollingAverage"), "rollingAverage", 1, 366)
        conditions = len(scope.filters) + sum(len(sel.filters) for sel, _ in events)
        group_count = len(outer) + sum(len(groups) for _, groups in events)
        cost = query_cost(max(1, (rng.end - rng.start).days), conditions, len(events) + 4 * group_count)

        def prop_of(index: int) -> PropertyRef:
            selector, groups = events[index]
            prop = groups[0] if groups else params.measured_property(selector)
            if prop is None:
                raise params.BadRequest(f"Metric {metric} needs a property: add a group_by to the event")
            return prop

        if metric in SIMPLE_METRICS or metric == "pct_dau":
            breakdowns = outer or events[0][1]
            series = tuple(
                Series(sel, SIMPLE_METRICS.get(metric, Math.UNIQUES), None, window, average_over) for sel, _ in events
            )
            query = TrendsQuery(scope, series, breakdowns, limit)
            run = run_share_of_active if metric == "pct_dau" else run_trends
            return cost, lambda: shape(run(engine, query), interval, bool(breakdowns))
        if metric in PROPERTY_METRICS:
            series = tuple(
                Series(sel, PROPERTY_METRICS[metric], prop_of(i), window, average_over)
                for i, (sel, _) in enumerate(events)
            )
            query = TrendsQuery(scope, series, outer, limit)
            return cost, lambda: shape(run_trends(engine, query), interval, bool(outer))
        if metric == "histogram":
            if len(events) > 1 or outer:
                raise params.BadRequest("Metric histogram takes one event and no g")
            selector, groups = events[0]
            histogram = HistogramQuery(scope, selector, groups[0] if groups else params.measured_property(selector))
            return cost, lambda: shape_histogram(run_histogram(engine, histogram), interval)
        if metric == "formula":
            text = q.get("formula")
            if not text:
                raise params.BadRequest("Metric formula needs a formula parameter")
            query = TrendsQuery(scope, (), outer, limit)
            letters = {chr(ord("A") + i): i for i in range(len(events))}

            def operand(ref: Ref) -> Series:
                if ref.name not in letters:
                    raise params.BadRequest(f"Formula names event {ref.name}, which is not given")
                math = FORMULA_FUNCTIONS.get(ref.function or "UNIQUES")
                if math is None:
                    raise params.BadRequest(f"Unknown formula function {ref.function}")
                index = letters[ref.name]
                prop = prop_of(index) if math in (Math.SUM, Math.AVG, Math.MAX, Math.MIN) else None
                return Series(events[index][0], math, prop)

            return cost, lambda: shape(run_formula(engine, query, text, operand), interval, bool(outer), text)
        raise params.BadRequest(f"Unknown metric: {metric}")

    return plan
