"""Lifecycle and stickiness, with cases in the shape of PostHog's test_lifecycle_query_runner.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.lifecycle import run_lifecycle
from footfall.query.spec import (
    DateRange,
    EventSelector,
    Interval,
    LifecycleQuery,
    Scope,
    Series,
    StickinessQuery,
)
from footfall.query.stickiness import run_stickiness
from footfall.runtime import Runtime
from tests.conftest import flush, new_project


@pytest.fixture(scope="module")
def activity(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """PostHog's classic lifecycle fixture: persons created on their first event, active on these days."""
    project = new_project(runtime, "UTC")
    days = {
        "p1": ["2020-01-11", "2020-01-12", "2020-01-13", "2020-01-15", "2020-01-17", "2020-01-19"],
        "p2": ["2020-01-09", "2020-01-12"],
        "p3": ["2020-01-12"],
        "p4": ["2020-01-15"],
    }
    batch = [
        {"event": "$pageview", "distinct_id": person, "timestamp": f"{day}T12:00:00Z"}
        for person, dates in days.items()
        for day in dates
    ]
    r = client.post("/batch/", json={"api_key": project["api_key"], "batch": batch})
    assert r.status_code == 200
    flush(runtime)
    return project


def _scope(project: dict[str, Any]) -> Scope:
    return Scope(project["id"], DateRange.days(dt.date(2020, 1, 12), dt.date(2020, 1, 19), "UTC"), Interval.DAY)


def test_lifecycle_statuses(runtime: Runtime, activity: dict[str, Any]) -> None:
    result = run_lifecycle(runtime.engine, LifecycleQuery(_scope(activity), EventSelector("$pageview")))
    #                        12  13  14  15  16  17  18  19
    assert result.new == [1, 0, 0, 1, 0, 0, 0, 0]  # p3 on the 12th, p4 on the 15th
    assert result.returning == [1, 1, 0, 0, 0, 0, 0, 0]  # p1 (active on the 11th, 12th, 13th)
    assert result.resurrecting == [1, 0, 0, 1, 0, 1, 0, 1]  # p2 (12th), p1 (15th, 17th, 19th)
    assert result.dormant == [0, -2, -1, 0, -2, 0, -1, 0]


def test_stickiness_counts_active_days(runtime: Runtime, activity: dict[str, Any]) -> None:
    result = run_stickiness(runtime.engine, StickinessQuery(_scope(activity), (Series(EventSelector("$pageview")),)))
    assert result.intervals == 8
    # In the range: p1 on 5 days (12,13,15,17,19), p2 on 1, p3 on 1, p4 on 1.
    assert result.counts == [[3, 0, 0, 0, 1, 0, 0, 0]]
