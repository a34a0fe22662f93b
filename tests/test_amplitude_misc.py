"""GET /api/2/composition, /events/list, /realtime, /revenue/ltv, and 400 for an unknown event type."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from footfall.query.definitions import event_type_id
from footfall.query.realtime import run_realtime
from footfall.runtime import Runtime
from tests.conftest import flush, new_project
from tests.test_query_trends import send


def get(client: TestClient, project: dict[str, Any], path: str, **params: Any) -> Any:
    query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    return client.get(path, params=query, auth=(project["api_key"], project["secret_key"]))


def amplitude_400(r: Any, reason: str) -> bool:
    return r.status_code == 400 and r.text.startswith("HTTP 400: Bad Request (") and reason in r.text


def midday_zone() -> str:
    """A fixed-offset zone where it is now about noon, so "now minus a few minutes" is today, this week."""
    offset = 12 - dt.datetime.now(dt.UTC).hour  # -11 … +12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


# -- composition ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def devices(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    """New York (UTC-4): 2024-06-04T02:00Z is still June 3rd there."""
    project = new_project(runtime, "America/New_York")
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Open", "platform": "iOS", "user_properties": {"plan": "free"},
             "time": "2024-06-01T15:00:00"},
            {"user_id": "alice", "event_type": "Open", "platform": "Android", "user_properties": {"plan": "pro"},
             "time": "2024-06-02T15:00:00"},
            {"user_id": "bob01", "event_type": "Open", "platform": "iOS", "time": "2024-06-01T15:00:00"},
            {"user_id": "carol", "event_type": "Open", "platform": "iOS", "user_properties": {"plan": "pro"},
             "time": "2024-06-02T15:00:00"},
            {"user_id": "dan01", "event_type": "Open", "platform": "Web", "time": "2024-06-05T15:00:00"},
            {"user_id": "eve01", "event_type": "Open", "platform": "Web", "time": "2024-06-04T02:00:00"},
        ],
    )  # fmt: skip
    flush(runtime)
    return project


def composition(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    return get(client, project, "/api/2/composition", **{"start": "20240601", "end": "20240603", **params})


def test_composition_by_builtin_property(client: TestClient, devices: dict[str, Any]) -> None:
    r = composition(client, devices, p="platform")
    assert r.status_code == 200, r.text
    # alice counts once, under her latest platform; dan is outside the range; eve's evening is June 3rd.
    assert r.json()["data"] == {
        "series": [[2, 1, 1]],
        "seriesLabels": ["platform"],
        "xValues": ["iOS", "Android", "Web"],
    }


def test_composition_by_custom_user_property(client: TestClient, devices: dict[str, Any]) -> None:
    data = composition(client, devices, p="gp:plan").json()["data"]
    assert data == {"series": [[2, 2]], "seriesLabels": ["gp:plan"], "xValues": ["(none)", "pro"]}
    one_day = composition(client, devices, p="gp:plan", end="20240601").json()["data"]
    assert one_day["xValues"] == ["(none)", "free"] and one_day["series"] == [[1, 1]]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "Missing required parameter: p"),
        ({"p": ""}, "Missing required parameter: p"),
        ({"p": "platform", "start": "June"}, "Invalid date for start"),
        ({"p": "platform", "s": "{"}, "Invalid JSON in parameter s"),
    ],
)
def test_composition_bad_input(
    client: TestClient, devices: dict[str, Any], params: dict[str, str], reason: str
) -> None:
    assert amplitude_400(composition(client, devices, **params), reason)


# -- events list ----------------------------------------------------------------------------------------
def test_events_list_with_this_weeks_totals(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime, midday_zone())
    now = dt.datetime.now(dt.UTC)
    recent = [iso(now - dt.timedelta(minutes=m)) for m in (1, 2, 3)]
    send(
        client,
        project,
        [
            *({"user_id": "alice", "event_type": "Play", "time": t} for t in recent),
            {"user_id": "bob01", "event_type": "Search", "time": recent[0]},
            {"user_id": "bob01", "event_type": "Old Event", "time": iso(now - dt.timedelta(days=8))},
            {"user_id": "bob01", "event_type": "$identify", "time": recent[0]},
        ],
    )
    flush(runtime)
    r = get(client, project, "/api/2/events/list")
    assert r.status_code == 200, r.text
    flags = dict.fromkeys(
        (
            "non_active",
            "deleted",
            "hidden",
            "flow_hidden",
            "autohidden",
            "clusters_hidden",
            "in_waitroom",
            "timeline_hidden",
        ),
        False,
    )
    assert r.json()["data"] == [
        {"id": event_type_id(project["id"], name), "value": name, "name": name, "display": name, "totals": n, **flags}
        for name, n in (("Play", 3), ("Search", 1), ("Old Event", 0))
    ]
    ids = [e["id"] for e in get(client, project, "/api/2/events/list").json()["data"]]
    assert ids == [e["id"] for e in r.json()["data"]]  # stable
    assert event_type_id(project["id"], "Play") != event_type_id(project["id"] + 1, "Play")
    assert get(client, {**project, "secret_key": "wrong"}, "/api/2/events/list").status_code == 401


# -- realtime -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "Asia/Kolkata")  # UTC+5:30
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Open", "time": "2024-05-10T11:57:30"},  # last whole slot
            {"user_id": "bob01", "event_type": "Open", "time": "2024-05-10T11:58:00"},
            {"user_id": "alice", "event_type": "Open", "time": "2024-05-10T11:50:00"},
            {"user_id": "carol", "event_type": "Open", "time": "2024-05-09T12:00:00"},  # first slot of the day
            {"user_id": "carol", "event_type": "Open", "time": "2024-05-09T11:59:59"},  # yesterday's last
            {"user_id": "dan01", "event_type": "Open", "time": "2024-05-08T12:00:00"},  # yesterday's first
            {"user_id": "dan01", "event_type": "Open", "time": "2024-05-10T12:01:00"},  # the unfinished slot
            {"user_id": "eve01", "event_type": "$identify", "time": "2024-05-10T11:51:00"},  # not activity
        ],
    )
    flush(runtime)
    return project


def test_realtime_slots_of_the_last_day_and_the_day_before(runtime: Runtime, live: dict[str, Any]) -> None:
    result = run_realtime(runtime.engine, live["id"], "Asia/Kolkata", dt.datetime(2024, 5, 10, 12, 2, tzinfo=dt.UTC))
    assert len(result.labels) == len(result.today) == len(result.yesterday) == 288
    # Slots start at the current time of day (12:00Z is 17:30 in Kolkata) and end before the current one.
    assert result.labels[:2] == ["17:30", "17:35"] and result.labels[-1] == "17:25"
    assert (result.today[0], result.today[-2], result.today[-1], sum(result.today)) == (1, 1, 2, 4)
    assert (result.yesterday[0], result.yesterday[-1], sum(result.yesterday)) == (1, 1, 2)


def test_realtime_endpoint_shape(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime, midday_zone())
    now = dt.datetime.now(dt.UTC)
    send(
        client,
        project,
        [
            {"user_id": "alice", "event_type": "Open", "time": iso(now - dt.timedelta(hours=1))},
            {"user_id": "bob01", "event_type": "Open", "time": iso(now - dt.timedelta(hours=1))},
            {"user_id": "carol", "event_type": "Open", "time": iso(now - dt.timedelta(hours=26))},
        ],
    )
    flush(runtime)
    r = get(client, project, "/api/2/realtime", i="5")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["seriesLabels"] == ["Today", "Yesterday"]
    assert len(data["xValues"]) == 288 and all(len(x) == 5 and x[2] == ":" for x in data["xValues"])
    assert [sum(s) for s in data["series"]] == [2, 1]
    assert get(client, project, "/api/2/realtime").status_code == 200  # i defaults to 5
    assert amplitude_400(get(client, project, "/api/2/realtime", i="1"), "The realtime interval i must be 5")
    assert client.get("/api/2/realtime").status_code == 401


# -- revenue LTV ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime, "UTC")
    us, fr = {"country": "US"}, {"country": "FR"}
    send(
        client,
        project,
        [
            {"user_id": "alice", **us, "event_type": "Open", "time": "2024-03-01T10:00:00"},
            {"user_id": "alice", **us, "event_type": "Buy", "revenue": 10, "time": "2024-03-01T11:00:00"},
            # price × quantity wins over revenue, as Amplitude documents
            {"user_id": "alice", **us, "event_type": "Buy", "price": 5, "quantity": 2, "revenue": 999,
             "time": "2024-03-03T11:00:00"},
            {"user_id": "alice", **us, "event_type": "Buy", "revenue": 100, "time": "2024-06-15T11:00:00"},  # day 107
            {"user_id": "bob01", **us, "event_type": "Open", "time": "2024-03-01T12:00:00"},
            {"user_id": "carol", **fr, "event_type": "Buy", "revenue": 4.5, "time": "2024-03-02T08:00:00"},
            {"user_id": "carol", **fr, "event_type": "Refund", "revenue": -1.5, "time": "2024-03-04T08:00:00"},
            {"user_id": "dan01", **us, "event_type": "Open", "time": "2024-02-20T08:00:00"},  # first seen before
            {"user_id": "dan01", **us, "event_type": "Buy", "revenue": 50, "time": "2024-03-01T08:00:00"},
            {"device_id": "dev-eve-1", "event_type": "Open", "time": "2024-03-02T09:00:00"},
            {"device_id": "dev-eve-1", "user_id": "eve01", "event_type": "Buy", "price": 20,
             "time": "2024-03-05T09:00:00"},  # day 4, merged into the device's person
        ],
    )  # fmt: skip
    flush(runtime)
    return project


def ltv(client: TestClient, project: dict[str, Any], **params: Any) -> Any:
    return get(client, project, "/api/2/revenue/ltv", **{"start": "20240301", "end": "20240302", **params})


def _days(cell: dict[str, Any], *days: int) -> list[Any]:
    return [cell[f"r{d}d"] for d in days]


@pytest.mark.parametrize(
    ("m", "march_1st", "march_2nd"),
    [
        ("0", [5, 5, 10, 10, 10], [2.25, 2.25, 1.5, 11.5, 11.5]),  # ARPU: over 2 users each
        ("1", [10, 10, 20, 20, 20], [4.5, 4.5, 3, 11.5, 11.5]),  # ARPPU: over the paying users so far
        ("2", [10, 10, 20, 20, 20], [4.5, 4.5, 3, 23, 23]),  # total revenue
        ("3", [1, 1, 1, 1, 1], [1, 1, 1, 2, 2]),  # paying users
    ],
)
def test_ltv_metrics_per_cohort(
    client: TestClient, shop: dict[str, Any], m: str, march_1st: list[float], march_2nd: list[float]
) -> None:
    r = ltv(client, shop, m=m)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["seriesLabels"] == [""]
    series = data["series"][0]
    assert series["dates"] == ["2024-03-02", "2024-03-01"]
    first, second = series["values"]["2024-03-01"], series["values"]["2024-03-02"]
    assert _days(first, 1, 2, 3, 4, 90) == march_1st
    assert _days(second, 1, 2, 3, 4, 90) == march_2nd
    assert {k: first[k] for k in ("count", "paid", "total_amount")} == {"count": 2, "paid": 1, "total_amount": 20}
    assert {k: second[k] for k in ("count", "paid", "total_amount")} == {"count": 2, "paid": 2, "total_amount": 23}
    assert len([k for k in first if k.startswith("r")]) == 90


def test_ltv_combined_and_grouped(client: TestClient, shop: dict[str, Any]) -> None:
    combined = ltv(client, shop, m="2").json()["data"]["series"][0]["combined"]
    assert _days(combined, 1, 3, 4, 90) == [14.5, 23, 43, 43]
    assert (combined["count"], combined["paid"], combined["total_amount"]) == (4, 3, 43)
    grouped = ltv(client, shop, m="2", g="country").json()["data"]
    assert grouped["seriesLabels"] == ["US", "(none)", "FR"]  # most users first
    us, none, fr = grouped["series"]
    assert us["values"]["2024-03-01"]["r90d"] == 20 and us["values"]["2024-03-02"]["count"] == 0
    assert none["values"]["2024-03-02"]["r4d"] == 20 and fr["values"]["2024-03-02"]["r3d"] == 3


def test_ltv_weekly_and_segment(client: TestClient, shop: dict[str, Any]) -> None:
    weekly = ltv(client, shop, m="2", i="7").json()["data"]["series"][0]
    assert weekly["dates"] == ["2024-02-25"]
    assert _days(weekly["values"]["2024-02-25"], 1, 4) == [14.5, 43]
    french = ltv(client, shop, m="2", s=[{"prop": "country", "op": "is", "values": ["FR"]}]).json()["data"]
    assert french["series"][0]["combined"]["r90d"] == 3


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"m": "4"}, "Unknown metric: 4"),
        ({"i": "-3600000"}, "intervals are 1, 7 or 30"),
        ({"start": "20230101"}, "Time range exceeds maximum of 365 days"),
        ({"g": "{"}, "Invalid JSON in parameter g"),
    ],
)
def test_ltv_bad_input(client: TestClient, shop: dict[str, Any], params: dict[str, str], reason: str) -> None:
    assert amplitude_400(ltv(client, shop, **params), reason)


def test_ltv_auth(client: TestClient, shop: dict[str, Any]) -> None:
    assert client.get("/api/2/revenue/ltv", params={"start": "20240301", "end": "20240302"}).status_code == 401


# -- unknown event types --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/2/events/segmentation", {"e": {"event_type": "Nope"}}),
        ("/api/2/events/segmentation", {"e": {"event_type": "Buy"}, "e2": {"event_type": "Nope"}}),
        ("/api/2/funnels", {"e": [{"event_type": "Open"}, {"event_type": "Nope"}]}),
        ("/api/2/retention", {"se": {"event_type": "Nope"}, "re": {"event_type": "_all"}}),
        ("/api/2/retention", {"se": {"event_type": "_new"}, "re": {"event_type": "Nope"}}),
    ],
)
def test_an_unknown_event_type_is_a_400(
    client: TestClient, shop: dict[str, Any], path: str, params: dict[str, Any]
) -> None:
    r = get(client, shop, path, start="20240301", end="20240302", **params)
    assert amplitude_400(r, "Unknown event type: Nope")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/2/events/segmentation", {"e": {"event_type": "_active"}, "e2": {"event_type": "revenue_amount"}}),
        ("/api/2/funnels", {"e": [{"event_type": "Open"}, {"event_type": "Buy"}]}),
        ("/api/2/retention", {"se": {"event_type": "_new"}, "re": {"event_type": "_all"}}),
        ("/api/2/retention", {"se": {"event_type": "Refund"}, "re": {"event_type": "_active"}}),
    ],
)
def test_known_and_pseudo_events_pass(
    client: TestClient, shop: dict[str, Any], path: str, params: dict[str, Any]
) -> None:
    r = get(client, shop, path, start="20240301", end="20240302", **params)
    assert r.status_code == 200, r.text


def test_an_event_stored_moments_ago_is_known(client: TestClient, runtime: Runtime) -> None:
    project = new_project(runtime)
    send(client, project, [{"user_id": "alice", "event_type": "Open", "time": "2024-03-01T10:00:00"}])
    flush(runtime)
    segmentation = {"e": {"event_type": "Open"}, "start": "20240301", "end": "20240301"}
    assert get(client, project, "/api/2/events/segmentation", **segmentation).status_code == 200  # names cached
    send(client, project, [{"user_id": "alice", "event_type": "Brand New", "time": "2024-03-01T11:00:00"}])
    flush(runtime)
    r = get(client, project, "/api/2/events/segmentation", **{**segmentation, "e": {"event_type": "Brand New"}})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["series"] == [[1]]
