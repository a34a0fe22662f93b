"""A PostHog dashboard of 8 insights on demo data: cold render (every tile computed) and warm (cached).

    footfall demo --events 10000000 --days 90 --data-dir DIR      # once
    python benchmarks/dashboard.py --data-dir DIR [--runs 5]      # the server must not be running on DIR
    python benchmarks/dashboard.py --data-dir DIR --baseline-src OTHER/src --rounds 3   # and that src/, alternating

Goes through the real HTTP app in process (FastAPI's TestClient): auth, the dashboard retrieve endpoint, the
shared query runner and its cache. Cold = `?refresh=force_blocking` (recompute every tile); warm = the
default, served from the cache; per tile = each insight alone through `/query/`, forced to compute.
With `--baseline-src`, each round runs both variants one after the other in fresh processes (the machine is
shared: only figures taken side by side compare) and checks that every tile's results are the same.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
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


def measure(data_dir: Path, runs: int) -> dict[str, Any]:
    """Cold and warm renders, and each tile alone (milliseconds), with a digest of every tile's results."""
    load = [os.getloadavg()[0]]
    runtime = Runtime(Settings(data_dir=data_dir))
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

            def timed(method: str, path: str, **kw: Any) -> tuple[float, Any]:
                start = time.perf_counter()
                r = client.request(method, path, headers=auth, **kw)
                assert r.status_code == 200, r.text
                return (time.perf_counter() - start) * 1000, r.json()

            cold, cold_cpu = [], []  # CPU: every thread of the process, chDB's included
            for _ in range(runs):
                before = time.process_time()
                cold.append(timed("GET", url, params={"refresh": "force_blocking"})[0])
                cold_cpu.append((time.process_time() - before) * 1000)
            warm = [timed("GET", url)[0] for _ in range(runs)]
            tiles, digests = {}, {}
            for name, query in INSIGHTS:
                body = {"query": query, "refresh": "force_blocking"}
                results = [timed("POST", f"{base}/query/", json=body) for _ in range(runs)]
                tiles[name] = [ms for ms, _ in results]
                digests[name] = hashlib.sha256(json.dumps(_rounded(results[-1][1]["results"])).encode()).hexdigest()
            client.patch(url, json={"deleted": True, "delete_insights": True}, headers=auth)
    finally:
        runtime.close()
    load.append(os.getloadavg()[0])
    return {"cold": cold, "cold_cpu": cold_cpu, "warm": warm, "tiles": tiles, "digests": digests, "load": load}


def _rounded(value: Any) -> Any:
    """Floats to 9 significant digits: parallel sums may differ in their last bits from run to run."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _report(name: str, runs: list[dict[str, Any]]) -> None:
    """Medians over every render of every run."""
    cold, cpu, warm = (statistics.median([ms for run in runs for ms in run[k]]) for k in ("cold", "cold_cpu", "warm"))
    tiles = {tile: statistics.median([ms for run in runs for ms in run["tiles"][tile]]) for tile, _ in INSIGHTS}
    loads = [x for run in runs for x in run["load"]]
    print(
        f"{name}: cold {cold:.0f} ms (CPU {cpu:.0f} ms), warm {warm:.1f} ms"
        f" (load average {min(loads):.1f} to {max(loads):.1f})"
    )
    print("  each tile alone: " + ", ".join(f"{tile} {ms:.0f}" for tile, ms in tiles.items()) + " ms")


def _variant(args: argparse.Namespace, src: str | None) -> dict[str, Any]:
    """One measurement in a fresh process, with `src` (a package tree) ahead of the installed footfall."""
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [sys.executable, __file__, "--data-dir", str(args.data_dir), "--runs", str(args.runs), "--json"]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=1800).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-src", help="also measure with this src/ directory, alternating with the tree")
    parser.add_argument("--rounds", type=int, default=1, help="with --baseline-src: repeat, alternating the order")
    parser.add_argument("--json", action="store_true", help="print one process's raw figures as JSON")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.data_dir, args.runs)))
        return
    if not args.baseline_src:
        _report(f"dashboard of {len(INSIGHTS)} insights, median of {args.runs}", [measure(args.data_dir, args.runs)])
        return
    variants: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
    for round_ in range(args.rounds):
        order = [("baseline", args.baseline_src), ("current", None)]
        for name, src in order if round_ % 2 == 0 else order[::-1]:
            variants[name].append(_variant(args, src))
    for name, runs in variants.items():
        _report(f"{name}, medians of {args.rounds} × {args.runs}", runs)
    differ = [t for t, _ in INSIGHTS if len({run["digests"][t] for runs in variants.values() for run in runs}) > 1]
    print(f"results: {'DIFFER in ' + ', '.join(differ) if differ else 'the same in every tile'}")


if __name__ == "__main__":
    main()
