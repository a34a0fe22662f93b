"""Trends: events in, exact numbers out, including a day boundary in a non-UTC project and merged users."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.filters import FilterError
from footfall.query.spec import (
    DateRange,
    EventSelector,
    Interval,
    Math,
    Op,
    PropertyFilter,
    PropertyRef,
    Scope,
    Series,
    Source,
    TrendsQuery,
)
from footfall.query.trends import run_trends
from footfall.runtime import Runtime
from tests.conftest import flush, new_project


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp() * 1000)


def send(client: TestClient, project: dict[str, Any], events: list[dict[str, Any]]) -> None:
    for event in events:
        event = dict(event)
        event["time"] = _ms(event["time"])
        r = client.post("/2/httpapi", json={"api_key": project["api_key"], "events": [event]})
        assert r.status_code == 200, r.text


@pytest.fixture
def tokyo(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """Asia/Tokyo (UTC+9): 2024-03-01T15:30Z is already March 2nd locally."""
    project = new_project(runtime, "Asia/Tokyo")
    send(
        client,
        project,
        [
            {
                "user_id": "alice",
                "event_type": "Play",
                "time": "2024-03-01T14:59:00",
                "country": "Japan",
                "event_properties": {"seconds": 30},
            },
            {
                "user_id": "alice",
                "event_type": "Play",
                "time": "2024-03-01T15:30:00",
                "country": "Japan",
                "event_properties": {"seconds": 10},
            },
            {
                "user_id": "bob01",
                "event_type": "Play",
                "time": "2024-03-01T16:00:00",
                "country": "France",
                "event_properties": {"seconds": 5},
            },
            {"user_id": "bob01", "event_type": "Play", "time": "2024-03-02T01:00:00", "country": "France"},
            {"device_id": "device-c", "event_type": "Play", "time": "2024-03-02T02:00:00", "country": "France"},
            {"user_id": "carol", "device_id": "device-c", "event_type": "Stop", "time": "2024-03-02T03:00:00"},
        ],
    )
    flush(runtime)
    return project


def _query(project: dict[str, Any], math: Math = Math.TOTAL, **kw: Any) -> TrendsQuery:
    scope = Scope(
        project["id"],
        DateRange.days(dt.date(2024, 3, 1), dt.date(2024, 3, 2), "Asia/Tokyo"),
        kw.pop("interval", Interval.DAY),
        kw.pop("filters", ()),
    )
    prop = kw.pop("prop", None)
    return TrendsQuery(scope, (Series(EventSelector(kw.pop("event", "Play")), math, prop),), **kw)


def test_totals_and_uniques_bucket_by_local_day(runtime: Runtime, tokyo: dict[str, Any]) -> None:
    totals = run_trends(runtime.engine, _query(tokyo))
    assert totals.buckets == [dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2)]
    assert [(s.values, s.total) for s in totals.series] == [([1, 4], 5)]
    uniques = run_trends(runtime.engine, _query(tokyo, Math.UNIQUES))
    # device-c merged into carol later: still one user; alice counts once over the range.
    assert [(s.values, s.total) for s in uniques.series] == [([1, 3], 3)]


def test_breakdown_by_column_ranked_and_limited(runtime: Runtime, tokyo: dict[str, Any]) -> None:
    result = run_trends(
        runtime.engine, _query(tokyo, Math.UNIQUES, breakdowns=(PropertyRef(Source.COLUMN, "country"),))
    )
    assert [(s.breakdown, s.values, s.total) for s in result.series] == [
        (("France",), [0, 2], 2),
        (("Japan",), [1, 1], 1),
    ]
    limited = run_trends(
        runtime.engine, _query(tokyo, breakdowns=(PropertyRef(Source.COLUMN, "country"),), breakdown_limit=1)
    )
    assert [s.breakdown for s in limited.series] == [("France",)]


def test_property_math_and_filters(runtime: Runtime, tokyo: dict[str, Any]) -> None:
    seconds = PropertyRef(Source.EVENT, "seconds")
    assert run_trends(runtime.engine, _query(tokyo, Math.SUM, prop=seconds)).series[0].values == [30, 15]
    assert run_trends(runtime.engine, _query(tokyo, Math.MAX, prop=seconds)).series[0].total == 30
    japan = (PropertyFilter(PropertyRef(Source.COLUMN, "country"), Op.EQ, ("Japan",)),)
    assert run_trends(runtime.engine, _query(tokyo, filters=japan)).series[0].values == [1, 1]
    long_plays = (PropertyFilter(seconds, Op.GTE, ("10",)),)
    assert run_trends(runtime.engine, _query(tokyo, filters=long_plays)).series[0].values == [1, 1]
    with pytest.raises(FilterError):
        run_trends(runtime.engine, _query(tokyo, filters=(PropertyFilter(seconds, Op.GT, ("many",)),)))


def test_empty_range_gives_zeros(runtime: Runtime, tokyo: dict[str, Any]) -> None:
    result = run_trends(runtime.engine, _query(tokyo, event="Never"))
    assert [(s.values, s.total) for s in result.series] == [([0, 0], 0)]
