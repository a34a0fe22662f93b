"""Vega-Lite specs for every insight kind, built from PostHog-shaped results.

The same specs draw the web UI's charts (in the browser, with the Vega bundle of vl-convert) and the PNG
and PDF exports (vl-convert on the server), so an export looks like the screen.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
WIDTH, HEIGHT = 560, 260
LIFECYCLE_COLORS = {"new": "#1d4aff", "returning": "#29a745", "resurrecting": "#f7a501", "dormant": "#e4472c"}


def _base(title: str | None, width: int, height: int) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "$schema": SCHEMA,
        "width": width,
        "height": height,
        "background": "white",
        "config": {"font": "sans-serif", "view": {"stroke": None}},
    }
    if title:
        spec["title"] = {"text": title, "anchor": "start", "fontSize": 14}
    return spec


# PostHog's placeholders for a missing breakdown value and for the values past the breakdown limit.
BREAKDOWN_NAMES = {"$$_posthog_breakdown_null_$$": "None", "$$_posthog_breakdown_other_$$": "Other"}


def series_name(item: dict[str, Any]) -> str:
    """A trends series as PostHog labels it (a broken-down series is labelled by its value), placeholders
    spelled out; with compare on, which period it is."""
    name = str(item.get("label") or "")
    for placeholder, shown in BREAKDOWN_NAMES.items():
        name = name.replace(placeholder, shown)
    if item.get("compare_label"):
        name += f" ({item['compare_label']})"
    return name


def trends(
    results: list[dict[str, Any]],
    title: str | None = None,
    display: str = "ActionsLineGraph",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    spec = _base(title, width, height)
    if results and "aggregated_value" in results[0]:
        spec["data"] = {"values": [{"series": series_name(r), "value": r["aggregated_value"]} for r in results]}
        spec["mark"] = {"type": "bar", "tooltip": True}
        spec["encoding"] = {
            "y": {"field": "series", "type": "nominal", "sort": "-x", "title": None},
            "x": {"field": "value", "type": "quantitative", "title": None},
        }
        return spec
    points = []
    for r in results:
        points += [
            {"date": day, "value": value, "series": series_name(r)}
            for day, value in zip(r.get("days") or [], r.get("data") or [], strict=False)
        ]
    spec["data"] = {"values": points}
    bar = display in ("ActionsBar", "ActionsStackedBar")
    spec["mark"] = {"type": "bar", "tooltip": True} if bar else {"type": "line", "point": True, "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "date", "type": "temporal", "title": None},
        "y": {"field": "value", "type": "quantitative", "title": None},
        "color": {"field": "series", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
    }
    return spec


def funnel(results: list[Any], title: str | None = None, width: int = WIDTH, height: int = HEIGHT) -> dict[str, Any]:
    groups = results if results and isinstance(results[0], list) else [results]
    rows = []
    for steps in groups:
        first = steps[0]["count"] if steps and steps[0]["count"] else 0
        for step in steps:
            breakdown = step.get("breakdown_value")
            rows.append(
                {
                    "step": f"{step['order'] + 1}. {step.get('custom_name') or step['name']}",
                    "count": step["count"],
                    "group": ", ".join(map(str, breakdown)) if breakdown else "All",
                    "conversion": round(100 * step["count"] / first, 1) if first else 0.0,
                }
            )
    spec = _base(title, width, height)
    spec["data"] = {"values": rows}
    spec["encoding"] = {
        "x": {"field": "step", "type": "ordinal", "title": None, "axis": {"labelAngle": 0}},
        "xOffset": {"field": "group"},
        "y": {"field": "count", "type": "quantitative", "title": "Persons"},
        "color": {"field": "group", "type": "nominal", "title": None, "legend": {"orient": "bottom"}},
    }
    spec["layer"] = [
        {"mark": {"type": "bar", "tooltip": True}},
        {"mark": {"type": "text", "dy": -6}, "encoding": {"text": {"field": "conversion", "format": ".1f"}}},
    ]
    return spec


# Seconds on an axis as 45s, 12m, 3.5h, 2d.
_DURATION_LABEL = (
    "datum.value >= 86400 ? format(datum.value / 86400, '.3~r') + 'd' : "
    "datum.value >= 3600 ? format(datum.value / 3600, '.3~r') + 'h' : "
    "datum.value >= 60 ? format(datum.value / 60, '.3~r') + 'm' : format(datum.value, '.0f') + 's'"
)


def time_to_convert(
    results: dict[str, Any], title: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> dict[str, Any]:
    """A histogram of PostHog's `bins`: [lower edge in seconds, persons], evenly spaced."""
    bins = results.get("bins") or []
    step = bins[1][0] - bins[0][0] if len(bins) > 1 else 60
    rows = [
        {"from": start, "to": bins[i + 1][0] if i + 1 < len(bins) else start + step, "persons": persons}
        for i, (start, persons) in enumerate(bins)
    ]
    spec = _base(title, width, height)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "rect", "tooltip": True, "stroke": "white"}
    spec["encoding"] = {
        "x": {
            "field": "from",
            "type": "quantitative",
            "title": "Time to convert",
            "axis": {"labelExpr": _DURATION_LABEL},
            "scale": {"zero": False},
        },
        "x2": {"field": "to"},
        "y": {"field": "persons", "type": "quantitative", "title": "Persons"},
        "y2": {"datum": 0},
    }
    return spec


def retention(
    results: list[dict[str, Any]], title: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> dict[str, Any]:
    cells = []
    for row in results:
        size = row["values"][0]["count"] if row["values"] else 0
        for value in row["values"]:
            cells.append(
                {
                    "cohort": row["date"][:10],
                    "period": value["label"],
                    "count": value["count"],
                    "percent": round(100 * value["count"] / size, 1) if size else 0.0,
                }
            )
    spec = _base(title, width, height)
    spec["data"] = {"values": cells}
    spec["encoding"] = {
        "y": {"field": "cohort", "type": "ordinal", "title": None},
        "x": {
            "field": "period",
            "type": "ordinal",
            "title": None,
            "sort": None,
            "axis": {"orient": "top", "labelAngle": 0},
        },
    }
    spec["layer"] = [
        {
            "mark": {"type": "rect", "tooltip": True},
            "encoding": {
                "color": {
                    "field": "percent",
                    "type": "quantitative",
                    "scale": {"scheme": "blues", "domain": [0, 100]},
                    "legend": None,
                }
            },
        },
        {
            "mark": {"type": "text", "fontSize": 10},
            "encoding": {
                "text": {"field": "percent", "format": ".0f"},
                "color": {"condition": {"test": "datum.percent > 50", "value": "white"}, "value": "black"},
            },
        },
    ]
    return spec


def lifecycle(
    results: list[dict[str, Any]], title: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> dict[str, Any]:
    rows = [
        {"date": day, "value": value, "status": r["status"]}
        for r in results
        for day, value in zip(r["days"], r["data"], strict=False)
    ]
    spec = _base(title, width, height)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar", "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "date", "type": "temporal", "title": None},
        "y": {"field": "value", "type": "quantitative", "title": None, "stack": True},
        "color": {
            "field": "status",
            "type": "nominal",
            "title": None,
            "scale": {"domain": list(LIFECYCLE_COLORS), "range": list(LIFECYCLE_COLORS.values())},
            "legend": {"orient": "bottom"},
        },
    }
    return spec


def stickiness(
    results: list[dict[str, Any]], title: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> dict[str, Any]:
    rows = [
        {"intervals": label, "order": i, "persons": value, "series": r["label"]}
        for r in results
        for i, (label, value) in enumerate(zip(r["labels"], r["data"], strict=False))
    ]
    spec = _base(title, width, height)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar", "tooltip": True}
    spec["encoding"] = {
        "x": {"field": "intervals", "type": "ordinal", "sort": {"field": "order"}, "title": None},
        "xOffset": {"field": "series"},
        "y": {"field": "persons", "type": "quantitative", "title": "Persons"},
        "color": {"field": "series", "type": "nominal", "title": None},
    }
    return spec


def paths(
    results: list[dict[str, Any]], title: str | None = None, width: int = WIDTH, height: int = HEIGHT
) -> dict[str, Any]:
    rows = [{"edge": f"{e['source']} → {e['target']}", "value": e["value"]} for e in results[:25]]
    spec = _base(title, width, height)
    spec["data"] = {"values": rows}
    spec["mark"] = {"type": "bar", "tooltip": True}
    spec["encoding"] = {
        "y": {"field": "edge", "type": "nominal", "sort": "-x", "title": None},
        "x": {"field": "value", "type": "quantitative", "title": "Persons"},
    }
    return spec


def text(body: str, width: int = WIDTH, height: int = 80) -> dict[str, Any]:
    """A text tile as a chart, so a dashboard renders as one Vega-Lite document."""
    spec = _base(None, width, height)
    lines = body.splitlines()[:12] or [""]
    spec["data"] = {"values": [{"line": line.lstrip("# "), "n": i} for i, line in enumerate(lines)]}
    spec["mark"] = {"type": "text", "align": "left", "baseline": "top", "fontSize": 13}
    spec["encoding"] = {
        "text": {"field": "line"},
        "y": {"field": "n", "type": "ordinal", "axis": None},
        "x": {"value": 0},
    }
    return spec


def for_insight(
    kind: str,
    results: Any,
    title: str | None = None,
    display: str = "ActionsLineGraph",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> dict[str, Any]:
    """The chart of an insight kind's PostHog-shaped results."""
    if results is None:
        return text("No results yet", width, 40)
    if kind == "TrendsQuery":
        return trends(results, title, display, width, height)
    if kind == "FunnelsQuery" and isinstance(results, dict):  # funnelVizType=time_to_convert
        return time_to_convert(results, title, width, height)
    if kind == "FunnelsQuery" and results and isinstance(results[0], dict) and "data" in results[0]:
        conversion = [{**r, "label": "Conversion rate (%)"} for r in results]  # funnelVizType=trends
        return trends(conversion, title, "ActionsLineGraph", width, height)
    drawers = {
        "FunnelsQuery": funnel,
        "RetentionQuery": retention,
        "LifecycleQuery": lifecycle,
        "StickinessQuery": stickiness,
        "PathsQuery": paths,
    }
    if kind not in drawers:
        return text(f"Cannot draw {kind}", width, 40)
    return drawers[kind](results, title, width, height)


def dashboard(tiles: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """A whole dashboard as one document: tiles two to a row, in layout order."""
    # Only the top level of a Vega-Lite document may carry $schema, config and background.
    charts = [{k: v for k, v in t.items() if k not in ("$schema", "config", "background")} for t in tiles if t]
    rows = [{"hconcat": charts[i : i + 2]} for i in range(0, len(charts), 2)]
    return {
        "$schema": SCHEMA,
        "title": {"text": title, "anchor": "start", "fontSize": 18},
        "background": "white",
        "vconcat": rows or [text("This dashboard has no tiles yet")],
        "config": {"view": {"stroke": None}},
    }
