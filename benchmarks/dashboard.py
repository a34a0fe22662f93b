"""A PostHog dashboard of 8 insights on demo data: cold render (every tile computed) and warm (cached).

    footfall demo --events 10000000 --days 90 --data-dir DIR      # once
    python benchmarks/dashboard.py --data-dir DIR [--runs 5]      # the server must not be running on DIR

Goes through the real HTTP app in process (FastAPI's TestClient): auth, the dashboard retrieve endpoint, the
shared query runner and its cache. Cold = `?refresh=force_blocking` (recompute every tile); warm = the
default, served from the cache.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from footfall.app import create_app
from footfall.config import Settings
from footfall.meta.accounts import create_personal_key
from footfall.meta.models import Project
from footfall.runtime import Runtime

RANGE = {"date_from": "-30d"}


def _insight(source: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "InsightVizNode", "source": {"dateRange": RANGE, **source}}


def _events(*names: str, math: str = "total") -> list[dict[str, Any]]:
    return [{"kind": "EventsNode", "event": name, "math": math} for name in names]


INSIGHTS = [
    ("Daily active users", _insight({"kind": "TrendsQuery", "series": _events("$pageview", math="dau")})),
    ("Weekly active users", _insight({"kind": "TrendsQuery", "series": _events("$pageview", math="weekly_active")})),
    (
        "Views by platform",
        _insight(
            {
                "kind": "TrendsQuery",
                "series": _events("View Item"),
                "breakdownFilter": {"breakdown": "$os", "breakdown_type": "event"},
            }
        ),
    ),
    (
        "Purchase funnel",
        _insight({"kind": "FunnelsQuery", "series": _events("View Item", "Add To Cart", "Checkout", "Purchase")}),
    ),
    (
        "Retention",
        _insight(
            {
                "kind": "RetentionQuery",
                "retentionFilter": {
                    "period": "Week",
                    "totalIntervals": 8,
                    "targetEntity": {"id": "View Item", "type": "events"},
                    "returningEntity": {"id": "View Item", "type": "events"},
                },
            }
        ),
    ),
    ("Lifecycle", _insight({"kind": "LifecycleQuery", "series": _events("$pageview")})),
    ("Stickiness", _insight({"kind": "StickinessQuery", "series": _events("View Item")})),
    ("Paths", _insight({"kind": "PathsQuery"})),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runtime = Runtime(Settings(data_dir=args.data_dir))
    try:
        with runtime.meta.session() as session, session.begin():
            project = session.scalar(select(Project).where(Project.name == "demo"))
            assert project is not None, "run `footfall demo` on this data dir first"
            key = create_personal_key(session, ["*"], "benchmark")["key"]
        auth = {"Authorization": f"Bearer {key}"}
        base = f"/api/projects/{project.id}"
        with TestClient(create_app(runtime.settings, runtime)) as client:
            board = client.post(f"{base}/dashboards/", json={"name": "Benchmark"}, headers=auth).json()
            for name, query in INSIGHTS:
                r = client.post(
                    f"{base}/insights/", json={"name": name, "query": query, "dashboards": [board["id"]]}, headers=auth
                )
                assert r.status_code == 201, r.text
            url = f"{base}/dashboards/{board['id']}/"

            def timed(params: dict[str, str]) -> float:
                start = time.perf_counter()
                r = client.get(url, params=params, headers=auth)
                assert r.status_code == 200 and len(r.json()["tiles"]) == len(INSIGHTS), r.text
                return (time.perf_counter() - start) * 1000

            cold = [timed({"refresh": "force_blocking"}) for _ in range(args.runs)]
            warm = [timed({}) for _ in range(args.runs)]
            client.patch(url, json={"deleted": True, "delete_insights": True}, headers=auth)
        print(
            f"dashboard of {len(INSIGHTS)} insights, median of {args.runs}: "
            f"cold {statistics.median(cold):.0f} ms, warm {statistics.median(warm):.1f} ms"
        )
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
