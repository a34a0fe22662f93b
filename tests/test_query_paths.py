"""Paths: edges between pages, a start point, an end point, and session splitting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.paths import PathsError, run_paths
from footfall.query.spec import DateRange, PathItem, PathsQuery, Scope
from footfall.runtime import Runtime
from tests.conftest import flush, new_project


@pytest.fixture(scope="module")
def site(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    visits = {
        "p1": [("00:00", "/"), ("00:01", "/about"), ("00:02", "/about"), ("00:03", "/pricing")],
        "p2": [("00:00", "/"), ("00:01", "/pricing"), ("02:00", "/"), ("02:01", "/about")],  # 2 sessions
        "p3": [("00:00", "/"), ("00:05", "/about"), ("00:06", "/signup")],
    }
    batch = [
        {
            "event": "$pageview",
            "distinct_id": person,
            "timestamp": f"2021-05-01T{at}:00Z",
            "properties": {"$current_url": url},
        }
        for person, steps in visits.items()
        for at, url in steps
    ]
    batch.append({"event": "signed_up", "distinct_id": "p3", "timestamp": "2021-05-01T00:07:00Z"})
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project


def _edges(runtime: Runtime, project: dict[str, Any], **kw: Any) -> dict[tuple[str, str], int]:
    scope = Scope(project["id"], DateRange.days(dt.date(2021, 5, 1), dt.date(2021, 5, 1), "UTC"))
    return {(e.source, e.target): e.value for e in run_paths(runtime.engine, PathsQuery(scope, **kw))}


def test_edges_collapse_repeats_and_split_sessions(runtime: Runtime, site: dict[str, Any]) -> None:
    assert _edges(runtime, site) == {
        ("1_/", "2_/about"): 3,  # p1, p2's second session, p3
        ("1_/", "2_/pricing"): 1,
        ("2_/about", "3_/pricing"): 1,  # p1's repeated /about is one step
        ("2_/about", "3_/signup"): 1,
    }


def test_start_and_end_points_and_custom_events(runtime: Runtime, site: dict[str, Any]) -> None:
    assert _edges(runtime, site, start_point="/about") == {("1_/about", "2_/pricing"): 1, ("1_/about", "2_/signup"): 1}
    assert _edges(runtime, site, end_point="/pricing") == {
        ("1_/", "2_/about"): 1,
        ("2_/about", "3_/pricing"): 1,
        ("1_/", "2_/pricing"): 1,
    }
    mixed = _edges(runtime, site, include=(PathItem.PAGEVIEW, PathItem.CUSTOM), start_point="/signup")
    assert mixed == {("1_/signup", "2_signed_up"): 1}


def test_limits_are_validated(runtime: Runtime, site: dict[str, Any]) -> None:
    with pytest.raises(PathsError):
        _edges(runtime, site, step_limit=1)
