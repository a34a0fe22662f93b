"""Insight results as tables (header + rows): the CSV export, and the same numbers the API returns."""

from __future__ import annotations

import csv
import io
from typing import Any

from footfall.render.charts import series_name


def rows(kind: str, results: Any) -> list[list[Any]]:
    if results is None:
        return [["No results"]]
    if kind in ("TrendsQuery", "LifecycleQuery", "StickinessQuery") or (
        kind == "FunnelsQuery" and results and isinstance(results[0], dict) and "data" in results[0]
    ):
        if results and "aggregated_value" in results[0]:
            return [["Series", "Value"], *[[series_name(r), r["aggregated_value"]] for r in results]]
        columns = results[0].get("days") or results[0].get("labels") or [] if results else []
        return [["Series", *columns], *[[series_name(r), *r["data"]] for r in results]]
    if kind == "FunnelsQuery":
        groups = results if results and isinstance(results[0], list) else [results]
        out = [
            ["Breakdown", "Step", "Persons", "Conversion from first step (%)", "Average time (s)", "Median time (s)"]
        ]
        for steps in groups:
            first = steps[0]["count"] if steps else 0
            for step in steps:
                out.append(
                    [
                        ", ".join(map(str, step.get("breakdown_value") or [])),
                        step["name"],
                        step["count"],
                        round(100 * step["count"] / first, 2) if first else 0,
                        step["average_conversion_time"],
                        step["median_conversion_time"],
                    ]
                )
        return out
    if kind == "RetentionQuery":
        width = max((len(r["values"]) for r in results), default=0)
        header = ["Cohort", *[results[0]["values"][i]["label"] for i in range(width)]] if results else ["Cohort"]
        return [header, *[[r["date"][:10], *[v["count"] for v in r["values"]]] for r in results]]
    if kind == "PathsQuery":
        return [
            ["Source", "Target", "Persons", "Average time (ms)"],
            *[[e["source"], e["target"], e["value"], e["average_conversion_time"]] for e in results],
        ]
    return [["Unsupported insight kind", kind]]


def to_csv(sections: list[tuple[str, list[list[Any]]]]) -> bytes:
    """One table, or several under their titles (a dashboard), as CSV text."""
    out = io.StringIO()
    writer = csv.writer(out)
    for index, (title, table) in enumerate(sections):
        if len(sections) > 1:
            if index:
                writer.writerow([])
            writer.writerow([title])
        writer.writerows(table)
    return out.getvalue().encode()
