"""Funnels: ordered, strict and unordered; the window's inclusive edge; times; breakdowns; merged users."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

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
from tests.datasets import HOUR


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
