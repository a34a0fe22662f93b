"""Query results in PostHog's response formats (what posthog-js' insight views and API clients read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from footfall.query.spec import (
    OTHER,
    ConversionTimes,
    FunnelGroup,
    FunnelResult,
    Interval,
    LifecycleResult,
    PathEdge,
    RetentionResult,
    StickinessResult,
    TrendsResult,
)

# PostHog's breakdown values for a missing value and for the values folded past the breakdown limit.
NULL_LABEL = "$$_posthog_breakdown_null_$$"
OTHER_LABEL = "$$_posthog_breakdown_other_$$"

# Displays that show one number per series instead of a time series.
AGGREGATE_DISPLAYS = {"ActionsPie", "ActionsBarValue", "ActionsTable", "BoldNumber", "WorldMap"}
_INTERVAL_LABEL = {
    Interval.MINUTE: "Minute",
    Interval.HOUR: "Hour",
    Interval.DAY: "Day",
    Interval.WEEK: "Week",
    Interval.MONTH: "Month",
    Interval.MINUTE5: "Minute",
}


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def day_string(moment: dt.datetime, interval: Interval) -> str:
    if interval in (Interval.HOUR, Interval.MINUTE, Interval.MINUTE5):
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%Y-%m-%d")


def label(moment: dt.datetime, interval: Interval) -> str:
    text = f"{moment.day}-{moment.strftime('%b-%Y')}"
    return f"{text} {moment.strftime('%H:%M')}" if interval in (Interval.HOUR, Interval.MINUTE) else text


def _action(node: dict[str, Any], order: int) -> dict[str, Any]:
    name = node.get("event") or "All events"
    return {
        "id": node.get("event"),
        "type": "events",
        "order": order,
        "name": name,
        "custom_name": node.get("custom_name"),
        "math": node.get("math", "total"),
        "math_property": node.get("math_property"),
        "properties": node.get("properties") or [],
    }


def trends(
    result: TrendsResult,
    query: dict[str, Any],
    interval: Interval,
    compare: str | None = None,
    formula: str | None = None,
    formula_name: str | None = None,
) -> list[dict[str, Any]]:
    nodes = query.get("series") or []
    display = (query.get("trendsFilter") or {}).get("display") or "ActionsLineGraph"
    days = [day_string(b, interval) for b in result.buckets]
    labels = [label(b, interval) for b in result.buckets]
    out = []
    # Within each series: ranked values, then the missing value, then Other (as PostHog orders them).
    for item in sorted(result.series, key=lambda s: (s.series_index, OTHER in s.breakdown, "" in s.breakdown)):
        node = nodes[item.series_index] if not formula and item.series_index < len(nodes) else {}
        if formula:
            name = formula_name or f"Formula ({formula})"
        else:
            name = node.get("custom_name") or node.get("event") or "All events"
        values = [OTHER_LABEL if v == OTHER else v or NULL_LABEL for v in item.breakdown]
        if values and not formula:  # a breakdown series is named by its value(s), after the event with several
            name = "::".join(values) if len(nodes) == 1 else f"{name} - {'::'.join(values)}"
        entry: dict[str, Any] = {
            "action": _action(node, item.series_index) if not formula else None,
            "label": name,
            "count": _num(sum(item.values)),
            "data": [_num(v) for v in item.values],
            "labels": labels,
            "days": days,
            "filter": {"interval": interval.value, "display": display},
        }
        if values:
            entry["breakdown_value"] = values if len(values) > 1 else values[0]
        if display in AGGREGATE_DISPLAYS:  # PostHog reports count 0 for them ("it has always been so")
            entry["aggregated_value"] = _num(item.total)
            entry["data"], entry["days"], entry["labels"], entry["count"] = [], [], [], 0
        if compare:
            entry["compare"], entry["compare_label"] = True, compare
        out.append(entry)
    return out


def funnel(result: FunnelResult, query: dict[str, Any]) -> list[Any]:
    nodes = query.get("series") or []
    grouped = bool(
        (query.get("breakdownFilter") or {}).get("breakdown") or (query.get("breakdownFilter") or {}).get("breakdowns")
    )
    # Unordered steps have no event of their own: step k is "completed k steps", in any order.
    unordered = (query.get("funnelsFilter") or {}).get("funnelOrderType") == "unordered"
    tables = []
    for group in result.groups:
        steps = []
        for order, node in enumerate(nodes):
            avg, median = group.avg_ms[order], group.median_ms[order]
            step = {
                "action_id": None if unordered else node.get("event"),
                "name": f"Completed {order + 1} step{'s' if order else ''}"
                if unordered
                else node.get("event") or "All events",
                "custom_name": None if unordered else node.get("custom_name"),
                "order": order,
                "type": "events",
                "count": group.counts[order],
                "people": [],
                "average_conversion_time": avg / 1000 if avg is not None else None,
                "median_conversion_time": median / 1000 if median is not None else None,
            }
            if grouped:
                step["breakdown"] = step["breakdown_value"] = [_funnel_value(group)]
            steps.append(step)
        tables.append(steps)
    return tables if grouped else tables[0]


def _funnel_value(group: FunnelGroup) -> str:
    """A funnel's breakdown value; the values folded past the limit are "Other" there (not OTHER_LABEL)."""
    return "Other" if group.breakdown == OTHER else group.breakdown or ""


def funnel_trends(
    result: FunnelResult, interval: Interval, from_step: int, to_step: int, breakdown: bool
) -> list[dict[str, Any]]:
    """funnelVizType=trends: of the entries in each interval that reached `from_step`, the share (%) that
    reached `to_step`; one line per breakdown value."""
    out = []
    for group in result.groups:
        rates = []
        for bucket in result.buckets:
            counts = group.by_bucket.get(bucket)
            rates.append(round(100 * counts[to_step] / counts[from_step], 2) if counts and counts[from_step] else 0)
        line: dict[str, Any] = {
            "count": len(rates),
            "data": rates,
            "days": [day_string(b, interval) for b in result.buckets],
            "labels": [label(b, interval) for b in result.buckets],
        }
        if breakdown:
            line["breakdown_value"] = _funnel_value(group)
        out.append(line)
    return out


def conversion_times(times: ConversionTimes) -> dict[str, Any]:
    """funnelVizType=time_to_convert: PostHog's FunnelTimeToConvertResults."""
    return {"bins": [[start, persons] for start, persons in times.bins], "average_conversion_time": times.average_s}


def retention(result: RetentionResult, interval: Interval) -> list[dict[str, Any]]:
    unit = _INTERVAL_LABEL[interval]
    cohorts = next(iter(result.groups.values()))
    out = []
    for cohort in cohorts:
        values = [{"count": cohort.size, "label": f"{unit} 0"}]
        values += [
            {"count": count, "label": f"{unit} {lo}"}
            for (lo, _), count in zip(result.columns[1:], cohort.counts[1:], strict=True)
        ]
        out.append(
            {"values": values, "label": f"{unit} {len(out)}", "date": cohort.bucket.strftime("%Y-%m-%dT%H:%M:%S")}
        )
    return out


def lifecycle(result: LifecycleResult, query: dict[str, Any], interval: Interval) -> list[dict[str, Any]]:
    node = (query.get("series") or [{}])[0]
    name = node.get("event") or "All events"
    days = [day_string(b, interval) for b in result.buckets]
    labels = [label(b, interval) for b in result.buckets]
    out = []
    for status in ("new", "returning", "resurrecting", "dormant"):
        data = getattr(result, status)
        out.append(
            {
                "action": _action(node, 0),
                "label": f"{name} - {status}",
                "status": status,
                "count": sum(data),
                "data": data,
                "days": days,
                "labels": labels,
            }
        )
    return out


def stickiness(result: StickinessResult, query: dict[str, Any], interval: Interval) -> list[dict[str, Any]]:
    unit = _INTERVAL_LABEL[interval].lower()
    labels = [f"{n} {unit}{'' if n == 1 else 's'}" for n in range(1, result.intervals + 1)]
    nodes = query.get("series") or []
    return [
        {
            "action": _action(node, i),
            "label": node.get("event") or "All events",
            "count": sum(counts),
            "data": counts,
            "labels": labels,
            "days": list(range(1, result.intervals + 1)),
        }
        for i, (node, counts) in enumerate(zip(nodes, result.counts, strict=True))
    ]


def paths(edges: list[PathEdge]) -> list[dict[str, Any]]:
    return [
        {
            "source": e.source,
            "target": e.target,
            "value": e.value,
            "average_conversion_time": e.average_conversion_time_ms,
        }
        for e in edges
    ]
