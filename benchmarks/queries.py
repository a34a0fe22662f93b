"""Query latency on demo data: footfall's query layer next to hand-written ClickHouse SQL for the same
question, on the same engine in the same process (so the ratio is fair on a noisy shared machine).

    footfall demo --events 10000000 --days 90 --data-dir DIR      # once
    python benchmarks/queries.py --data-dir DIR [--runs 7]        # the server must not be running on DIR

Each case runs once to warm up, then `runs` times alternating the two sides; medians are reported.
The hand-written SQL answers the same question with the same person semantics (merged persons counted
once through the override table) in the most direct form; it does not compute what footfall adds on top
(conversion times for funnels), which the table says.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from footfall.config import Settings
from footfall.meta.models import Project
from footfall.query.funnels import run_funnel
from footfall.query.retention import run_retention
from footfall.query.spec import (
    DateRange,
    EventSelector,
    FunnelQuery,
    Interval,
    Math,
    PropertyRef,
    RetentionQuery,
    Scope,
    Series,
    Source,
    TrendsQuery,
)
from footfall.query.trends import run_trends
from footfall.runtime import Runtime

STEPS = ("View Item", "Add To Cart", "Checkout", "Purchase")
PERSON = "if(o.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, o.person_id)"
OVERRIDES = (
    "LEFT ANY JOIN (SELECT old_person_id, argMax(person_id, version) AS person_id FROM person_overrides "
    "WHERE project_id = {p:UInt32} GROUP BY old_person_id) AS o ON e.person_id = o.old_person_id"
)


def hand_segmentation() -> str:
    return f"""
    SELECT toStartOfDay(e.timestamp, 'UTC') AS d, e.platform AS g, uniqExact({PERSON}) AS v, grouping(d)
    FROM events AS e {OVERRIDES}
    WHERE e.project_id = {{p:UInt32}} AND e.event = 'View Item'
      AND e.timestamp >= {{s:DateTime64(3)}} AND e.timestamp < {{e:DateTime64(3)}}
    GROUP BY GROUPING SETS ((d, g), (g))"""


def hand_funnel() -> str:
    conditions = ", ".join(f"e.event = '{name}'" for name in STEPS)
    names = ", ".join(f"'{name}'" for name in STEPS)
    return f"""
    SELECT level, count() FROM (
        SELECT {PERSON} AS pid,
               windowFunnel(86400000)(toUInt64(toUnixTimestamp64Milli(e.timestamp)), {conditions}) AS level
        FROM events AS e {OVERRIDES}
        WHERE e.project_id = {{p:UInt32}} AND e.event IN ({names})
          AND e.timestamp >= {{s:DateTime64(3)}} AND e.timestamp < {{e:DateTime64(3)}} + INTERVAL 1 DAY
        GROUP BY pid
    ) GROUP BY level"""


def hand_funnel_with_times() -> str:
    """The same question as footfall's funnel (levels and avg/median step times), written directly: levels
    from windowFunnel, times from each person's earliest longest path (only for persons who converted)."""
    conditions = ", ".join(f"e.event = '{name}'" for name in STEPS)
    names = ", ".join(f"'{name}'" for name in STEPS)
    steps = ", ".join(f"e.event = '{name}', {k}" for k, name in enumerate(STEPS, 1))
    nxt = ", ".join(
        f"arrayPushBack(arrayPopFront(arrayReverseFill(x -> x > 0, arrayMap(i -> if(s[i] = {k}, i, 0), "
        f"arrayEnumerate(s)))), 0) AS n{k}"
        for k in range(2, len(STEPS) + 1)
    )
    return f"""
    SELECT level, count(), avgIf(t[2] - t[1], level >= 2), quantileExactInclusiveIf(0.5)(t[2] - t[1], level >= 2)
    FROM (
        SELECT level, if(level >= 2, [ts[first], ts[n2[first]], ts[n3[n2[first]]], ts[n4[n3[n2[first]]]]], [])
               AS t
        FROM (
            SELECT level, ts, s, {nxt},
                   arrayFirst(i -> s[i] = 1 AND (level < 2 OR (n2[i] > 0 AND ts[n2[i]] - ts[i] <= 86400000)),
                              arrayEnumerate(s)) AS first
            FROM (
                SELECT {PERSON} AS pid,
                       windowFunnel(86400000)(toUInt64(toUnixTimestamp64Milli(e.timestamp)), {conditions}) AS level,
                       arraySort(groupArray((toUnixTimestamp64Milli(e.timestamp), multiIf({steps}, 0)))) AS evs,
                       arrayMap(x -> x.1, evs) AS ts, arrayMap(x -> x.2, evs) AS s
                FROM events AS e {OVERRIDES}
                WHERE e.project_id = {{p:UInt32}} AND e.event IN ({names})
                  AND e.timestamp >= {{s:DateTime64(3)}} AND e.timestamp < {{e:DateTime64(3)}} + INTERVAL 1 DAY
                GROUP BY pid
            )
        )
    ) GROUP BY level"""


def hand_retention() -> str:
    return f"""
    SELECT cohort, w - cohort AS k, count() FROM (
        SELECT pid, min(week) AS cohort, groupUniqArray(week) AS weeks FROM (
            SELECT {PERSON} AS pid, intDiv(dateDiff('day', toDate({{s:DateTime64(3)}}), toDate(e.timestamp)), 7) AS week
            FROM events AS e {OVERRIDES}
            WHERE e.project_id = {{p:UInt32}} AND e.event = 'View Item'
              AND e.timestamp >= {{s:DateTime64(3)}} AND e.timestamp < {{e:DateTime64(3)}}
        ) GROUP BY pid
    ) ARRAY JOIN weeks AS w
    WHERE w >= cohort AND w - cohort <= 8
    GROUP BY cohort, k"""


def timed_ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def side_by_side(ours: Callable[[], Any], theirs: Callable[[], Any] | None, runs: int) -> tuple[float, float | None]:
    """Medians, alternating the two sides so both see the same machine load."""
    mine, other = [], []
    for _ in range(runs):
        mine.append(timed_ms(ours))
        if theirs:
            other.append(timed_ms(theirs))
    return statistics.median(mine), statistics.median(other) if other else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rt = Runtime(Settings(data_dir=args.data_dir))
    try:
        with rt.meta.session() as session:
            project = session.scalar(select(Project).where(Project.name == "demo"))
        assert project is not None, "run `footfall demo` on this data dir first"
        last = dt.datetime.fromisoformat(
            rt.engine.scalar(
                "SELECT toString(toDate(max(timestamp))) FROM events WHERE project_id = {p:UInt32}", {"p": project.id}
            )
        )
        end = last + dt.timedelta(days=1)
        days30 = DateRange(end - dt.timedelta(days=30), end, "UTC")
        weeks8 = DateRange(end - dt.timedelta(weeks=8), end, "UTC")
        year = DateRange(end - dt.timedelta(days=365), end, "UTC")
        bounds30 = {"p": project.id, "s": days30.start, "e": days30.end}
        bounds8w = {"p": project.id, "s": weeks8.start, "e": weeks8.end}
        platform = PropertyRef(Source.COLUMN, "platform")
        steps = tuple(EventSelector(name) for name in STEPS)
        cases: list[tuple[str, Callable[[], Any], Callable[[], Any] | None, str]] = [
            (
                "segmentation: uniques, 30 days, by platform",
                lambda: run_trends(
                    rt.engine,
                    TrendsQuery(
                        Scope(project.id, days30), (Series(EventSelector("View Item"), Math.UNIQUES),), (platform,)
                    ),
                ),
                lambda: rt.engine.query(hand_segmentation(), bounds30),
                "same output",
            ),
            (
                "funnel: 4 steps ordered, 1-day window, 30 days",
                lambda: run_funnel(rt.engine, FunnelQuery(Scope(project.id, days30), steps, 86_400_000)),
                lambda: rt.engine.query(hand_funnel(), bounds30),
                "hand-written: counts only (windowFunnel)",
            ),
            (
                "funnel: the same, step times hand-written too",
                lambda: run_funnel(rt.engine, FunnelQuery(Scope(project.id, days30), steps, 86_400_000)),
                lambda: rt.engine.query(hand_funnel_with_times(), bounds30),
                "hand-written times use a simpler path (first start converting one step)",
            ),
            (
                "retention: 8 weeks, weekly cohorts",
                lambda: run_retention(
                    rt.engine,
                    RetentionQuery(
                        Scope(project.id, weeks8, Interval.WEEK, week_start=1),
                        EventSelector("View Item"),
                        EventSelector("View Item"),
                        8,
                    ),
                ),
                lambda: rt.engine.query(hand_retention(), bounds8w),
                "same counts",
            ),
            (
                "funnel: 20 steps, 30 days",
                lambda: run_funnel(rt.engine, FunnelQuery(Scope(project.id, days30), steps * 5, 86_400_000)),
                None,
                "must complete",
            ),
            (
                "segmentation: 365-day range, daily uniques",
                lambda: run_trends(
                    rt.engine, TrendsQuery(Scope(project.id, year), (Series(EventSelector(None), Math.UNIQUES),))
                ),
                None,
                "must complete",
            ),
        ]
        events = rt.engine.scalar("SELECT count() FROM events WHERE project_id = {p:UInt32}", {"p": project.id})
        print(f"{events:,} events in project demo; median of {args.runs} runs after a warm-up\n")
        print("| question | footfall (ms) | hand-written SQL (ms) | ratio | note |")
        print("|---|---|---|---|---|")
        for name, ours, theirs, note in cases:
            ours()
            if theirs:
                theirs()
            mine, other = side_by_side(ours, theirs, args.runs)
            ratio = f"{mine / other:.2f}×" if other else "—"
            print(f"| {name} | {mine:.0f} | {f'{other:.0f}' if other else '—'} | {ratio} | {note} |", flush=True)
    finally:
        rt.close()


if __name__ == "__main__":
    main()
