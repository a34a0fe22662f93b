"""Event data sets shared by several test modules, as module-scoped fixtures (a pytest plugin)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

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


@pytest.fixture(scope="module")
def app_usage(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """New York (UTC-4 in June). Days are local: 2024-06-01T02:00Z is still May 31st there."""
    project = new_project(runtime, "America/New_York")
    events = []
    for user, days in {"ann01": [1, 2, 4], "ben01": [1, 3], "cat01": [2, 3, 4, 5], "dan01": [2]}.items():
        for day in days:
            events.append({"user_id": user, "event_type": "open", "time": f"2024-06-0{day}T15:00:00"})
    events.append({"user_id": "eve01", "event_type": "open", "time": "2024-06-01T02:00:00"})  # May 31 local
    events.append({"user_id": "eve01", "event_type": "open", "time": "2024-06-02T15:00:00"})
    send(client, project, events)
    flush(runtime)
    return project


@pytest.fixture(scope="module")
def posthog_people(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """PostHog events of three persons over 2020-01-01..03 (UTC); anon-green is identified as green, so the
    two are one person. blue and red have email and plan person properties, green a name."""
    project = new_project(runtime, "UTC")
    blue = {"$browser": "Chrome", "$set": {"email": "blue@example.com", "plan": "pro"}}
    red = {"$browser": "Safari", "$set": {"email": "red@example.com", "plan": "free"}}
    rows = [
        ("blue", "$pageview", "2020-01-01T12:00:00Z", blue),
        ("blue", "sign up", "2020-01-01T12:05:00Z", {"$browser": "Chrome"}),
        ("blue", "$pageview", "2020-01-02T12:00:00Z", {"$browser": "Chrome"}),
        ("red", "$pageview", "2020-01-02T13:00:00Z", red),
        ("red", "$pageview", "2020-01-03T13:00:00Z", {"$browser": "Safari"}),
        ("anon-green", "$pageview", "2020-01-03T12:00:00Z", {"$browser": "Firefox"}),
        ("green", "sign up", "2020-01-03T13:00:00Z", {"$browser": "Firefox", "$set": {"name": "Green"}}),
        ("green", "$identify", "2020-01-03T13:01:00Z", {"$anon_distinct_id": "anon-green"}),
    ]
    batch = [{"event": e, "distinct_id": d, "timestamp": t, "properties": p} for d, e, t, p in rows]
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project
