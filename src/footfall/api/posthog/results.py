"""Query results in PostHog's response formats (what posthog-js' insight views and API clients read)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from footfall.query.spec import (
    FunnelResult,
    Interval,
    LifecycleResult,
    PathEdge,
    RetentionResult,
    StickinessResult,
    TrendsResult,
)

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
) -> list[dict[str, Any]]:
    nodes = query.get("series") or []
    display = (query.get("trendsFilter") or {}).get("display") or "ActionsLineGraph"
    days = [day_string(b, interval) for b in result.buckets]
    labels = [label(b, interval) for b in result.buckets]
    out = []
    for item in result.series:
        node = nodes[item.series_index] if not formula and item.series_index < len(nodes) else {}
        name = formula or node.get("custom_name") or node.get("event") or "All events"
        entry: dict[str, Any] = {
            "action": _action(node, item.series_index) if not formula else None,
            "label": name,
            "count": _num(sum(item.values)),
            "data": [_num(v) for v in item.values],
            "labels": labels,
            "days": days,
            "filter": {"interval": interval.value, "display": display},
        }
        if item.breakdown:
            entry["breakdown_value"] = list(item.breakdown) if len(item.breakdown) > 1 else item.breakdown[0]
        if display in AGGREGATE_DISPLAYS:
            entry["aggregated_value"] = _num(item.total)
            entry["data"], entry["days"], entry["labels"] = [], [], []
        if compare:
            entry["compare"], entry["compare_label"] = True, compare
        out.append(entry)
    return out


def funnel(result: FunnelResult, query: dict[str, Any]) -> list[Any]:
    nodes = query.get("series") or []
    grouped = bool(
        (query.get("breakdownFilter") or {}).get("breakdown") or (query.get("breakdownFilter") or {}).get("breakdowns")
    )
    tables = []
    for group in result.groups:
        steps = []
        for order, node in enumerate(nodes):
            name = node.get("event") or "All events"
            avg, median = group.avg_ms[order], group.median_ms[order]
            step = {
                "action_id": node.get("event"),
                "name": name,
                "custom_name": node.get("custom_name"),
                "order": order,
                "type": "events",
                "count": group.counts[order],
                "people": [],
                "average_conversion_time": avg / 1000 if avg is not None else None,
                "median_conversion_time": median / 1000 if median is not None else None,
            }
            if grouped:
                step["breakdown"] = step["breakdown_value"] = [group.breakdown or ""]
            steps.append(step)
        tables.append(steps)
    return tables if grouped else tables[0]


def funnel_trends(result: FunnelResult, interval: Interval) -> list[dict[str, Any]]:
    """funnelVizType=trends: the conversion rate (%) of the persons who entered in each interval."""
    group = result.groups[0]
    rates = []
    for bucket in result.buckets:
        counts = group.by_bucket.get(bucket)
        rates.append(round(100 * counts[-1] / counts[0], 2) if counts and counts[0] else 0)
    return [
        {
            "count": len(rates),
            "data": rates,
            "days": [day_string(b, interval) for b in result.buckets],
            "labels": [label(b, interval) for b in result.buckets],
        }
    ]


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
