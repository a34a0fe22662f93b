"""Funnels: ordered, strict and unordered; the window's inclusive edge; times; breakdowns; merged users."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.funnels import run_funnel
from footfall.query.spec import (
    DateRange,
    EventSelector,
    FunnelOrder,
    FunnelQuery,
    PropertyRef,
    Scope,
    Source,
)
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send

HOUR = 3_600_000


@pytest.fixture(scope="module")
def shop(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    events = []

    def add(user: str, name: str, at: str, **extra: Any) -> None:
        events.append({"user_id": user, "event_type": name, "time": f"2024-05-{at}", **extra})

    # u1 converts fully: view 10:00, cart 11:00, buy 13:00 (1 h then 2 h).
    add("user1", "view", "01T10:00:00", platform="iOS")
    add("user1", "cart", "01T11:00:00")
    add("user1", "buy", "01T13:00:00")
    # u2 reaches cart only; an unrelated event sits between view and cart.
    add("user2", "view", "01T10:00:00", platform="Web")
    add("user2", "other", "01T10:30:00")
    add("user2", "cart", "01T12:00:00")
    # u3 does the steps out of order: cart then view then buy.
    add("user3", "cart", "01T09:00:00", platform="Web")
    add("user3", "view", "01T09:30:00", platform="Web")
    add("user3", "buy", "01T10:00:00")
    # u4 buys exactly at the window's edge (24 h after view) and cart in between.
    add("user4", "view", "02T08:00:00", platform="Web")
    add("user4", "cart", "02T09:00:00")
    add("user4", "buy", "03T08:00:00")
    # u5: a device views, then the same device logs in as user5 and buys: one person.
    events.append({"device_id": "device-5", "event_type": "view", "time": "2024-05-02T10:00:00", "platform": "iOS"})
    events.append({"user_id": "user5", "device_id": "device-5", "event_type": "cart", "time": "2024-05-02T10:05:00"})
    send(client, project, events)
    flush(runtime)
    return project


def _funnel(project: dict[str, Any], order: FunnelOrder = FunnelOrder.ORDERED, **kw: Any) -> FunnelQuery:
    scope = Scope(project["id"], DateRange.days(dt.date(2024, 5, 1), dt.date(2024, 5, 3), "UTC"))
    steps = tuple(EventSelector(name) for name in kw.pop("steps", ("view", "cart", "buy")))
    return FunnelQuery(scope, steps, kw.pop("window_ms", 24 * HOUR), order, **kw)


def test_ordered_counts_window_edge_and_merge(runtime: Runtime, shop: dict[str, Any]) -> None:
    result = run_funnel(runtime.engine, _funnel(shop))
    [group] = result.groups
    # view: all five (device-5 and user5 are one person); cart after view: u1 u2 u4 u5 (u3 carted first);
    # buy: u1, and u4 exactly 24 h after its view (the window is inclusive).
    assert group.counts == [5, 4, 2]
    assert group.avg_ms[1] == pytest.approx((1 + 2 + 1) * HOUR / 4 + 5 * 60_000 / 4)
    assert group.median_ms[2] is not None


def test_window_just_short_drops_the_edge(runtime: Runtime, shop: dict[str, Any]) -> None:
    [group] = run_funnel(runtime.engine, _funnel(shop, window_ms=24 * HOUR - 1)).groups
    assert group.counts == [5, 4, 1]


def test_strict_order_breaks_on_other_events(runtime: Runtime, shop: dict[str, Any]) -> None:
    [group] = run_funnel(runtime.engine, _funnel(shop, FunnelOrder.STRICT)).groups
    # u2 had "other" between view and cart.
    assert group.counts == [5, 3, 2]


def test_unordered_counts_any_order(runtime: Runtime, shop: dict[str, Any]) -> None:
    [group] = run_funnel(runtime.engine, _funnel(shop, FunnelOrder.UNORDERED)).groups
    # Any order: u3 (cart, view, buy) completes all three; everyone who viewed also carted.
    assert group.counts == [5, 5, 3]


def test_breakdown_by_first_step_property(runtime: Runtime, shop: dict[str, Any]) -> None:
    result = run_funnel(runtime.engine, _funnel(shop, breakdown=PropertyRef(Source.COLUMN, "platform")))
    assert {g.breakdown: g.counts for g in result.groups} == {"Web": [3, 2, 1], "iOS": [2, 2, 1]}


def test_entry_buckets(runtime: Runtime, shop: dict[str, Any]) -> None:
    [group] = run_funnel(runtime.engine, _funnel(shop)).groups
    assert group.by_bucket == {dt.datetime(2024, 5, 1): [3, 2, 1], dt.datetime(2024, 5, 2): [2, 2, 1]}
