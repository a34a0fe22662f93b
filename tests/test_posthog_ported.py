"""Cases ported from PostHog's own insight tests: their events in, their numbers out, through POST /query/.

Each test names the PostHog test it comes from (repository PostHog/posthog; `TR` is
posthog/hogql_queries/insights/trends/test/test_trends_query_runner.py, `FUNNELS` the directory
posthog/hogql_queries/insights/funnels/test/, `INSIGHTS` posthog/hogql_queries/insights/test/). Porting notes:
- PostHog's fixtures create persons directly; here a person with two distinct_ids is one `$identify` sent
  at their first event, so the person is created when their first event happens (as the fixtures' freeze_time).
- Events that PostHog's tests create without a timestamp (ordered by insertion) get one a minute apart.
- PostHog tests freeze "now"; here every date range is explicit. PostHog's legacy `filters` become the
  equivalent query JSON (funnel_window_days → funnelWindowInterval, exclusions → FunnelExclusionEventsNode).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from footfall.meta.accounts import create_personal_key
from footfall.runtime import Runtime
from tests.conftest import flush, new_project

TR = "posthog/hogql_queries/insights/trends/test/test_trends_query_runner.py"
FUNNELS = "posthog/hogql_queries/insights/funnels/test"
INSIGHTS = "posthog/hogql_queries/insights/test"

Event = tuple[str, str, str] | tuple[str, str, str, dict[str, Any]]  # distinct_id, event, UTC time[, properties]


class Run:
    """A project holding a test's events: calling it runs a query there and gives the results."""

    def __init__(self, client: TestClient, key: str, project: dict[str, Any]) -> None:
        self.client, self.key, self.project = client, key, project

    def post(self, query: dict[str, Any]) -> httpx.Response:
        return self.client.post(
            f"/api/projects/{self.project['id']}/query/",
            json={"query": query},
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def __call__(self, query: dict[str, Any]) -> Any:
        r = self.post(query)
        assert r.status_code == 200, r.text
        return r.json()["results"]


@pytest.fixture(scope="module")
def key(runtime: Runtime) -> str:
    with runtime.meta.session() as session, session.begin():
        return create_personal_key(session, ["query:read"], "ported")["key"]


@pytest.fixture
def load(client: TestClient, runtime: Runtime, key: str) -> Callable[..., Run]:
    return lambda events, aliases=None: _load(client, runtime, key, events, aliases)


def _load(
    client: TestClient, runtime: Runtime, key: str, events: Iterable[Event], aliases: dict[str, str] | None = None
) -> Run:
    """A new project holding `events` (`aliases`: other distinct_id → the person's main one)."""
    project = new_project(runtime, "UTC")
    rows = [
        {"distinct_id": e[0], "event": e[1], "timestamp": e[2], "properties": e[3] if len(e) > 3 else {}}
        for e in events
    ]
    batch = [
        {
            "event": "$identify",
            "distinct_id": main,
            "timestamp": min(r["timestamp"] for r in rows if r["distinct_id"] in (main, other)),
            "properties": {"$anon_distinct_id": other},
        }
        for other, main in (aliases or {}).items()
    ] + rows
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return Run(client, key, project)


def _at(start: str, *names: str, step: dt.timedelta = dt.timedelta(minutes=1)) -> list[tuple[str, str]]:
    """(event, time) for events PostHog's tests create without a timestamp: in order, a minute apart."""
    first = dt.datetime.fromisoformat(start)
    return [(name, (first + i * step).isoformat()) for i, name in enumerate(names)]


# --- trends: TR's `_create_test_events` ------------------------------------------------------------------
PEOPLE = {
    "p1": {"$browser": "Chrome", "prop": 10, "bool_field": True},
    "p2": {"$browser": "Firefox", "prop": 20, "bool_field": False},
    "p3": {"$browser": "Edge", "prop": 30, "bool_field": True},
    "p4": {"$browser": "Safari", "prop": 40, "bool_field": False},
}
PAGEVIEWS = {"p1": [11, 12, 13, 15, 17, 19], "p2": [9, 12], "p3": [12], "p4": [15]}
PAGELEAVES = {"p1": [11, 12, 13], "p2": [13], "p3": [13], "p4": [16]}


@pytest.fixture(scope="module")
def trends_data(client: TestClient, runtime: Runtime, key: str) -> Run:
    events: list[Event] = []
    for person, props in PEOPLE.items():
        for name, days in (("$pageview", PAGEVIEWS), ("$pageleave", PAGELEAVES)):
            events += [(person, name, f"2020-01-{day:02d}T12:00:00Z", props) for day in days[person]]
    return _load(client, runtime, key, events)


def trends(date_from: str, date_to: str, *events: str, **extra: Any) -> dict[str, Any]:
    series = [{"kind": "EventsNode", "event": e} for e in events or ("$pageview",)]
    return {"kind": "TrendsQuery", "dateRange": {"date_from": date_from, "date_to": date_to}, "series": series, **extra}


BROWSER = {"breakdownFilter": {"breakdown": "$browser", "breakdown_type": "event"}}


def test_trends_data_and_count(trends_data: Run) -> None:
    """TR::test_trends_data, TR::test_trends_count"""
    [series] = trends_data(trends("2020-01-09", "2020-01-19"))
    assert series["data"] == [1, 0, 1, 3, 1, 0, 2, 0, 1, 0, 1] and series["count"] == 10
    assert series["label"] == "$pageview" and series["labels"][0] == "9-Jan-2020"


def test_trends_multiple_series(trends_data: Run) -> None:
    """TR::test_trends_multiple_series"""
    views, leaves = trends_data(trends("2020-01-09", "2020-01-19", "$pageview", "$pageleave"))
    assert (views["label"], views["count"]) == ("$pageview", 10) and (leaves["label"], leaves["count"]) == (
        "$pageleave",
        6,
    )
    assert leaves["data"] == [0, 0, 1, 1, 3, 0, 0, 1, 0, 0, 0]


def test_formula(trends_data: Run) -> None:
    """TR::test_formula"""
    [series] = trends_data(
        trends("2020-01-09", "2020-01-19", "$pageview", "$pageleave", trendsFilter={"formulas": ["A+2*B"]})
    )
    assert (series["label"], series["count"]) == ("Formula (A+2*B)", 22)
    assert series["data"] == [1, 0, 3, 5, 7, 0, 2, 2, 1, 0, 1]


def test_multiple_formulas(trends_data: Run) -> None:
    """TR::test_multiple_formulas"""
    query = trends("2020-01-09", "2020-01-19", "$pageview", "$pageleave", trendsFilter={"formulas": ["A+2*B", "A-B"]})
    first, second = trends_data(query)
    assert (first["label"], first["count"]) == ("Formula (A+2*B)", 22)
    assert (second["label"], second["count"]) == ("Formula (A-B)", 4)
    assert second["data"] == [1, 0, 0, 2, -2, 0, 2, -1, 1, 0, 1]


def test_formula_with_compare(trends_data: Run) -> None:
    """TR::test_formula_with_compare"""
    query = trends("2020-01-15", "2020-01-19", "$pageview", "$pageleave", trendsFilter={"formula": "A+2*B"})
    current, previous = trends_data({**query, "compareFilter": {"compare": True}})
    assert (current["compare_label"], current["count"], current["data"]) == ("current", 6, [2, 2, 1, 0, 1])
    assert (previous["compare_label"], previous["count"], previous["data"]) == ("previous", 15, [0, 3, 5, 7, 0])
    assert current["label"] == "Formula (A+2*B)" and current["compare"] is True


def test_formula_with_breakdown(trends_data: Run) -> None:
    """TR::test_formula_with_breakdown"""
    query = trends("2020-01-09", "2020-01-20", "$pageview", "$pageleave", trendsFilter={"formula": "A+2*B"}, **BROWSER)
    results = trends_data(query)
    assert len(results) == 4
    assert (results[0]["breakdown_value"], results[0]["count"]) == ("Chrome", 12)
    assert results[0]["data"] == [0, 0, 3, 3, 3, 0, 1, 0, 1, 0, 1, 0]
    assert (results[1]["breakdown_value"], results[1]["count"]) == ("Firefox", 4)
    assert results[0]["label"] == "Formula (A+2*B)" and results[0]["action"] is None


def test_formula_with_breakdown_and_compare(trends_data: Run) -> None:
    """TR::test_formula_with_breakdown_and_compare"""
    query = trends("2020-01-15", "2020-01-19", "$pageview", "$pageleave", trendsFilter={"formula": "A+2*B"}, **BROWSER)
    results = trends_data({**query, "compareFilter": {"compare": True}})
    assert len(results) == 5
    assert [(r["compare_label"], r["breakdown_value"], r["count"]) for r in results[:3]] == [
        ("current", "Chrome", 3),
        ("current", "Safari", 3),
        ("previous", "Chrome", 9),
    ]
    assert results[0]["data"] == [1, 0, 1, 0, 1]


def test_trends_breakdowns(trends_data: Run) -> None:
    """TR::test_trends_breakdowns"""
    results = trends_data(trends("2020-01-09", "2020-01-20", **BROWSER))
    assert [(r["breakdown_value"], r["label"], r["count"]) for r in results] == [
        ("Chrome", "Chrome", 6),
        ("Firefox", "Firefox", 2),
        ("Edge", "Edge", 1),
        ("Safari", "Safari", 1),
    ]


def test_trends_breakdowns_boolean(trends_data: Run) -> None:
    """TR::test_trends_breakdowns_boolean"""
    query = trends("2020-01-09", "2020-01-20", breakdownFilter={"breakdown": "bool_field", "breakdown_type": "event"})
    assert [(r["breakdown_value"], r["label"], r["count"]) for r in trends_data(query)] == [
        ("true", "true", 7),
        ("false", "false", 3),
    ]


def test_trends_breakdowns_multiple_series(trends_data: Run) -> None:
    """TR::test_trends_breakdowns_multiple_hogql, with the event property the HogQL `properties.$browser` reads"""
    results = trends_data(trends("2020-01-09", "2020-01-20", "$pageview", "$pageleave", **BROWSER))
    assert [(r["label"], r["count"]) for r in results] == [
        ("$pageview - Chrome", 6),
        ("$pageview - Firefox", 2),
        ("$pageview - Edge", 1),
        ("$pageview - Safari", 1),
        ("$pageleave - Chrome", 3),
        ("$pageleave - Edge", 1),
        ("$pageleave - Firefox", 1),
        ("$pageleave - Safari", 1),
    ]


def test_trends_breakdowns_and_compare(trends_data: Run) -> None:
    """TR::test_trends_breakdowns_and_compare"""
    results = trends_data({**trends("2020-01-15", "2020-01-20", **BROWSER), "compareFilter": {"compare": True}})
    assert [(r["compare_label"], r["breakdown_value"], r["count"]) for r in results] == [
        ("current", "Chrome", 3),
        ("current", "Safari", 1),
        ("previous", "Chrome", 3),
        ("previous", "Firefox", 2),
        ("previous", "Edge", 1),
    ]


def test_trends_breakdown_and_aggregation(trends_data: Run) -> None:
    """TR::test_trends_breakdown_and_aggregation_query_orchestration"""
    query = trends("2020-01-09", "2020-01-20", **BROWSER)
    query["series"] = [{"kind": "EventsNode", "event": "$pageview", "math": "sum", "math_property": "prop"}]
    assert [(r["breakdown_value"], r["data"]) for r in trends_data(query)] == [
        ("Chrome", [0, 0, 10, 10, 10, 0, 10, 0, 10, 0, 10, 0]),
        ("Firefox", [20, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("Safari", [0, 0, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0]),
        ("Edge", [0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0]),
    ]


@pytest.mark.parametrize(
    ("math", "data"),
    [
        ({"math": "dau"}, [1, 0, 1, 3, 1, 0, 2, 0, 1, 0, 1, 0]),  # TR::test_trends_aggregation_dau
        ({"math": "weekly_active"}, [1, 1, 2, 3, 3, 3, 4, 4, 4, 4, 2, 2]),  # TR::test_trends_aggregation_wau
        ({"math": "monthly_active"}, [1, 1, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4]),  # TR::test_trends_aggregation_mau
        ({"math": "sum", "math_property": "prop"}, [20, 0, 10, 60, 10, 0, 50, 0, 10, 0, 10, 0]),  # ..._property_sum
        ({"math": "avg", "math_property": "prop"}, [20, 0, 10, 20, 10, 0, 25, 0, 10, 0, 10, 0]),  # ..._property_avg
    ],
    ids=["dau", "wau", "mau", "property_sum", "property_avg"],
)
def test_trends_aggregations(trends_data: Run, math: dict[str, Any], data: list[int]) -> None:
    """TR::test_trends_aggregation_dau, _wau, _mau, _property_sum, _property_avg"""
    query = trends("2020-01-09", "2020-01-20")
    query["series"] = [{"kind": "EventsNode", "event": "$pageview", **math}]
    [series] = trends_data(query)
    assert series["data"] == data


def test_trends_display_aggregate(trends_data: Run) -> None:
    """TR::test_trends_display_aggregate"""
    [series] = trends_data(trends("2020-01-09", "2020-01-20", trendsFilter={"display": "BoldNumber"}))
    assert (series["data"], series["days"], series["count"], series["aggregated_value"]) == ([], [], 0, 10)


def test_trends_compare(trends_data: Run) -> None:
    """TR::test_trends_compare"""
    current, previous = trends_data({**trends("2020-01-15", "2020-01-19"), "compareFilter": {"compare": True}})
    assert current["days"] == ["2020-01-15", "2020-01-16", "2020-01-17", "2020-01-18", "2020-01-19"]
    assert previous["days"] == ["2020-01-10", "2020-01-11", "2020-01-12", "2020-01-13", "2020-01-14"]
    assert previous["labels"] == ["10-Jan-2020", "11-Jan-2020", "12-Jan-2020", "13-Jan-2020", "14-Jan-2020"]


def test_breakdown_values_limit(load: Callable[..., Run]) -> None:
    """TR::test_breakdown_values_limit: 25 values by default, then one "Other" series for the rest"""
    run = load([(f"person_{v}", "$pageview", "2020-01-11T12:00:00Z", {"breakdown_value": f"{v}"}) for v in range(30)])
    by_value = {"breakdown": "breakdown_value", "breakdown_type": "event"}
    results = run(trends("2020-01-09", "2020-01-20", breakdownFilter=by_value))
    assert len(results) == 26
    # Not asserted by PostHog's test, implied by it: the 26th series folds the 5 values past the limit.
    assert (results[-1]["breakdown_value"], results[-1]["count"]) == ("$$_posthog_breakdown_other_$$", 5)
    assert len(run(trends("2020-01-09", "2020-01-20", breakdownFilter={**by_value, "breakdown_limit": 10}))) == 11
    hidden = {**by_value, "breakdown_limit": 10, "breakdown_hide_other_aggregation": True}
    assert len(run(trends("2020-01-09", "2020-01-20", breakdownFilter=hidden))) == 10
    table = trends("2020-01-09", "2020-01-20", breakdownFilter={**by_value, "breakdown_limit": 10})
    assert len(run({**table, "trendsFilter": {"display": "ActionsTable"}})) == 11


# --- funnels -----------------------------------------------------------------------------------------------
def funnel(date_from: str, date_to: str, *steps: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "FunnelsQuery",
        "dateRange": {"date_from": date_from, "date_to": date_to},
        "series": [{"kind": "EventsNode", "event": s} for s in steps],
        "funnelsFilter": options,
    }


def exclusion(event: str, from_step: int, to_step: int, **node: Any) -> dict[str, Any]:
    return {"kind": "EventsNode", "event": event, "funnelFromStep": from_step, "funnelToStep": to_step, **node}


def counts(results: list[dict[str, Any]]) -> list[int]:
    return [step["count"] for step in results]


ORDERS = ["ordered", "strict", "unordered"]


@pytest.mark.parametrize("order", ORDERS)
def test_funnel_step_conversion_times(load: Callable[..., Run], order: str) -> None:
    """FUNNELS/conversion_time_cases.py::test_funnel_step_conversion_times (run by test_funnel.py,
    test_funnel_strict.py and test_funnel_unordered.py)"""
    run = load(
        [
            ("person1", "sign up", "2020-01-01T12:00:00"),
            ("person1", "play movie", "2020-01-01T13:00:00"),
            ("person1", "buy", "2020-01-01T15:00:00"),
            ("person2", "sign up", "2020-01-02T14:00:00"),
            ("person2", "play movie", "2020-01-02T16:00:00"),
            ("person3", "sign up", "2020-01-02T14:00:00"),
            ("person3", "play movie", "2020-01-02T16:00:00"),
            ("person3", "buy", "2020-01-02T17:00:00"),
        ]
    )
    query = funnel(
        "2020-01-01", "2020-01-08", "sign up", "play movie", "buy", funnelWindowInterval=7, funnelOrderType=order
    )
    results = run(query)
    assert [s["average_conversion_time"] for s in results] == [None, 6000, 5400]
    assert [s["median_conversion_time"] for s in results] == [None, 7200, 5400]


@pytest.mark.parametrize("order", ORDERS)
def test_funnel_with_multiple_incomplete_tries(load: Callable[..., Run], order: str) -> None:
    """FUNNELS/conversion_time_cases.py::test_funnel_with_multiple_incomplete_tries"""
    run = load(
        [
            ("person1", "user signed up", "2021-05-01T01:00:00"),
            ("person1", "$pageview", "2021-05-01T02:00:00"),
            ("person1", "something else", "2021-05-01T03:00:00"),
            ("person1", "user signed up", "2021-05-03T04:00:00"),
            ("person1", "$pageview", "2021-05-03T05:00:00"),
            ("person1", "user signed up", "2021-05-04T07:00:00"),
            ("person1", "$pageview", "2021-05-04T10:00:00"),
        ]
    )
    steps = ("user signed up", "$pageview", "something else")
    results = run(
        funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", *steps, funnelWindowInterval=1, funnelOrderType=order)
    )
    assert results[0]["count"] == 1
    assert (results[1]["average_conversion_time"], results[1]["median_conversion_time"]) == (3600, 3600)


@pytest.mark.parametrize("order", ORDERS)
def test_funnel_times_with_different_conversion_windows(load: Callable[..., Run], order: str) -> None:
    """FUNNELS/conversion_time_cases.py::test_funnel_times_with_different_conversion_windows"""
    run = load(
        [
            ("stopped_after_signup1", "user signed up", "2020-01-02T14:00:00"),
            ("stopped_after_signup1", "pageview", "2020-01-02T14:05:00"),
            ("stopped_after_signup2", "user signed up", "2020-01-02T14:03:00"),
            ("stopped_after_signup3", "user signed up", "2020-01-02T12:00:00"),
            ("stopped_after_signup3", "pageview", "2020-01-02T12:15:00"),
        ]
    )
    days = funnel(
        "2020-01-01", "2020-01-14", "user signed up", "pageview", funnelWindowInterval=14, funnelOrderType=order
    )
    results = run(days)
    assert counts(results) == [3, 2] and results[1]["average_conversion_time"] == 600
    minutes = {
        **days,
        "funnelsFilter": {**days["funnelsFilter"], "funnelWindowInterval": 5, "funnelWindowIntervalUnit": "minute"},
    }
    results = run(minutes)
    assert counts(results) == [3, 1] and results[1]["average_conversion_time"] == 300


EXCLUSION_PEOPLE: list[Event] = [
    ("person1", "user signed up", "2021-05-01T01:00:00"),
    ("person1", "paid", "2021-05-01T02:00:00"),
    ("person2", "user signed up", "2021-05-01T03:00:00"),
    ("person2", "x", "2021-05-01T03:30:00"),
    ("person2", "paid", "2021-05-01T04:00:00"),
]


def test_funnel_exclusion_no_end_event(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel.py::test_funnel_exclusion_no_end_event: an excluded event inside the window
    disqualifies the attempt even when the funnel never goes on; one past the window does not"""
    run = load(
        [
            *EXCLUSION_PEOPLE,
            ("person3", "user signed up", "2021-05-01T05:00:00"),
            ("person3", "x", "2021-05-01T06:00:00"),
            ("person4", "user signed up", "2021-05-01T07:00:00"),
            ("person4", "x", "2021-05-02T08:00:00"),
        ]
    )
    query = funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", "user signed up", "paid", funnelWindowInterval=1)
    query["funnelsFilter"]["exclusions"] = [exclusion("x", 0, 1)]
    assert counts(run(query)) == [2, 1]


def test_funnel_exclusions_full_window(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel.py::test_funnel_exclusions_full_window"""
    steps = [(p, "x 1 name with numbers 2" if e == "x" else e, t) for p, e, t in EXCLUSION_PEOPLE]
    run = load(
        [*steps, ("person3", "user signed up", "2021-05-01T05:00:00"), ("person3", "paid", "2021-05-01T06:00:00")]
    )
    query = funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", "user signed up", "paid", funnelWindowInterval=14)
    query["funnelsFilter"]["exclusions"] = [exclusion("x 1 name with numbers 2", 0, 1)]
    assert counts(run(query)) == [2, 2]


def test_funnel_exclusions_with_actions(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel.py::test_funnel_exclusions_with_actions, the action ("sign up" with key=val) as an
    events node with the same property filter"""
    run = load(
        [
            *[(p, "sign up", t, {"key": "val"}) if e == "x" else (p, e, t) for p, e, t in EXCLUSION_PEOPLE],
            ("person3", "user signed up", "2021-05-01T05:00:00"),
            ("person3", "paid", "2021-05-01T06:00:00"),
        ]
    )
    query = funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", "user signed up", "paid", funnelWindowInterval=14)
    key_val = [{"key": "key", "value": ["val"], "operator": "exact", "type": "event"}]
    query["funnelsFilter"]["exclusions"] = [exclusion("sign up", 0, 1, properties=key_val)]
    assert counts(run(query)) == [2, 2]


@pytest.mark.parametrize(
    ("journey", "expected"),
    [
        ([("step one", 0), ("exclusion", 1), ("step one", 31)], [1, 0]),  # the retry at 31 s is clean
        ([("step one", 0), ("step one", 31), ("exclusion", 32)], [1, 0]),  # the try at 0 s ended clean
        ([("step one", 0), ("step one", 1), ("exclusion", 2)], [0, 0]),  # both tries excluded: left out
    ],
    ids=["event1", "event2", "event3"],
)
def test_funnel_exclusion_multiple_possible_no_end_event(
    load: Callable[..., Run], journey: list[tuple[str, int]], expected: list[int]
) -> None:
    """FUNNELS/test_funnel.py::test_funnel_exclusion_multiple_possible_no_end_event1, 2 and 3 (PostHog's UDF
    answers [] for the third; its SQL funnels, like these, [0, 0])"""
    run = load([("user_one", name, f"2021-05-01T00:00:{s:02d}") for name, s in journey])
    query = funnel(
        "2021-05-01 00:00:00",
        "2021-05-13 23:59:59",
        "step one",
        "step two",
        funnelWindowInterval=10,
        funnelWindowIntervalUnit="second",
        exclusions=[exclusion("exclusion", 0, 1)],
    )
    assert counts(run(query)) == expected


ADVANCED_STEPS = ("user signed up", "$pageview", "insight viewed", "invite teammate", "pageview2")


def _advanced(person: str, *between: tuple[str, str]) -> list[Event]:
    """A person doing the five steps at 01:00, 02:00, 04:00, 05:00, 06:00, plus `between` events."""
    times = ["01:00", "02:00", "04:00", "05:00", "06:00"]
    return [(person, step, f"2021-05-01T{t}:00") for step, t in zip(ADVANCED_STEPS, times, strict=True)] + [
        (person, name, f"2021-05-01T{t}:00") for name, t in between
    ]


def test_advanced_funnel_exclusions_between_steps(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel.py::test_advanced_funnel_exclusions_between_steps"""
    run = load(
        [
            *_advanced("person1", ("x", "03:00"), ("x", "04:30"), ("x", "05:30")),
            *_advanced("person2", ("x", "04:30"), ("x", "05:30")),
            *_advanced("person3", ("x", "01:30"), ("x", "05:30")),
        ]
    )
    expected = {(0, 1): 2, (1, 2): 2, (2, 3): 1, (3, 4): 0, (1, 3): 1}
    for (first, last), persons in expected.items():
        query = funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", *ADVANCED_STEPS)
        query["funnelsFilter"]["exclusions"] = [exclusion("x", first, last)]
        results = run(query)
        assert (results[0]["count"], results[4]["count"]) == (persons, persons), (first, last)


def test_advanced_funnel_multiple_exclusions_between_steps(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel.py::test_advanced_funnel_multiple_exclusions_between_steps"""
    run = load(
        [
            *_advanced("person1", ("x", "01:30"), ("y", "04:30")),
            *_advanced("person2", ("y", "01:30"), ("y", "04:30"), ("x", "05:30")),
            *_advanced("person3", ("x", "01:30")),
            *_advanced("person4"),
        ]
    )
    for ranges in ([("x", 0, 1), ("y", 2, 3)], [("x", 0, 1), ("y", 0, 1)], [("x", 0, 4), ("y", 0, 4)]):
        query = funnel("2021-05-01 00:00:00", "2021-05-14 00:00:00", *ADVANCED_STEPS)
        query["funnelsFilter"]["exclusions"] = [exclusion(*r) for r in ranges]
        results = run(query)
        assert (results[0]["count"], results[4]["count"]) == (1, 1), ranges


@pytest.mark.parametrize("bounds", [(1, 1), (1, 2), (2, 1), (0, 2)])
def test_funnel_exclusions_invalid_params(load: Callable[..., Run], bounds: tuple[int, int]) -> None:
    """FUNNELS/test_funnel.py::test_funnel_exclusions_invalid_params: PostHog's ValidationError is a 400"""
    run = load(EXCLUSION_PEOPLE)
    query = funnel(
        "2021-05-01 00:00:00", "2021-05-14 00:00:00", "user signed up", "paid", exclusions=[exclusion("x", *bounds)]
    )
    r = run.post(query)
    assert r.status_code == 400 and "Exclusion event range is invalid" in r.json()["detail"], r.text


def test_basic_strict_funnel(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_strict.py::test_basic_strict_funnel"""
    journeys = {
        "stopped_after_signup1": ["user signed up"],
        "stopped_after_pageview1": ["$pageview", "user signed up"],
        "stopped_after_insightview": ["user signed up", "$pageview", "blaah blaa", "insight viewed"],
        "stopped_after_insightview2": ["insight viewed", "blaah blaa", "$pageview", "user signed up"],
        "stopped_after_insightview3": ["$pageview", "user signed up", "blaah blaa", "$pageview", "insight viewed"],
        "person6": ["blaah blaa", "user signed up", "blaah blaa", "$pageview"],
        "person7": ["blaah blaa", "user signed up", "$pageview", "insight viewed", "blaah blaa"],
        "stopped_after_insightview6": ["insight viewed", "$pageview"],
    }
    run = load([(p, e, t) for p, names in journeys.items() for e, t in _at("2021-05-02T00:00:00", *names)])
    query = funnel(
        "2021-05-01", "2021-05-07", "user signed up", "$pageview", "insight viewed", funnelOrderType="strict"
    )
    results = run(query)
    assert [s["name"] for s in results] == ["user signed up", "$pageview", "insight viewed"]
    assert counts(results) == [7, 2, 1]


def test_basic_strict_funnel_conversion_times(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_strict.py::test_basic_strict_funnel_conversion_times"""
    run = load(
        [
            ("stopped_after_signup1", "user signed up", "2021-05-02T00:00:00"),
            ("stopped_after_pageview1", "user signed up", "2021-05-02T00:00:00"),
            ("stopped_after_pageview1", "$pageview", "2021-05-02T01:00:00"),
            ("stopped_after_insightview", "user signed up", "2021-05-02T00:00:00"),
            ("stopped_after_insightview", "$pageview", "2021-05-02T02:00:00"),
            ("stopped_after_insightview", "insight viewed", "2021-05-02T04:00:00"),
        ]
    )
    steps = ("user signed up", "$pageview", "insight viewed")
    results = run(funnel("2021-05-01 00:00:00", "2021-05-07 23:59:59", *steps, funnelOrderType="strict"))
    assert counts(results) == [3, 2, 1]
    assert [s["average_conversion_time"] for s in results] == [None, 5400, 7200]


def test_basic_unordered_funnel(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_unordered.py::test_basic_unordered_funnel"""
    journeys = {
        "stopped_after_signup1": ["user signed up"],
        "stopped_after_pageview1": ["$pageview", "user signed up"],
        "stopped_after_insightview": ["user signed up", "$pageview", "blaah blaa", "insight viewed"],
        "stopped_after_insightview2": ["insight viewed", "$pageview", "user signed up"],
        "stopped_after_insightview3": ["$pageview", "user signed up", "blaah blaa", "insight viewed"],
        "stopped_after_insightview4": ["blaah blaa", "insight viewed"],
        "stopped_after_insightview5": ["$pageview", "blaah blaa"],
        "stopped_after_insightview6": ["insight viewed", "$pageview"],
    }
    run = load([(p, e, t) for p, names in journeys.items() for e, t in _at("2021-05-02T00:00:00", *names)])
    query = funnel(
        "2021-05-01", "2021-05-07", "user signed up", "$pageview", "insight viewed", funnelOrderType="unordered"
    )
    results = run(query)
    assert [s["name"] for s in results] == ["Completed 1 step", "Completed 2 steps", "Completed 3 steps"]
    assert counts(results) == [8, 5, 3]


def test_basic_unordered_funnel_conversion_times(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_unordered.py::test_basic_unordered_funnel_conversion_times (the UDF's numbers:
    a person's first conversion counts, not the mean of their conversions)"""
    run = load(
        [
            ("stopped_after_signup1", "user signed up", "2021-05-02T00:00:00"),
            ("stopped_after_pageview1", "$pageview", "2021-05-02T00:00:00"),
            ("stopped_after_pageview1", "user signed up", "2021-05-02T01:00:00"),
            ("stopped_after_insightview", "insight viewed", "2021-05-02T00:00:00"),
            ("stopped_after_insightview", "user signed up", "2021-05-02T02:00:00"),
            ("stopped_after_insightview", "$pageview", "2021-05-02T04:00:00"),
            ("stopped_after_insightview", "$pageview", "2021-05-03T00:00:00"),
            ("stopped_after_insightview", "insight viewed", "2021-05-03T03:00:00"),
            ("stopped_after_insightview", "user signed up", "2021-05-03T06:00:00"),
        ]
    )
    steps = ("user signed up", "$pageview", "insight viewed")
    query = funnel(
        "2021-05-01 00:00:00", "2021-05-07 23:59:59", *steps, funnelOrderType="unordered", funnelWindowInterval=1
    )
    results = run(query)
    assert results[0]["count"] == 3
    assert [s["average_conversion_time"] for s in results] == [None, 5400, 7200]


TIME_TO_CONVERT: list[Event] = [
    ("user a", "step one", "2021-06-08T18:00:00"),
    ("user a", "step two", "2021-06-08T19:00:00"),
    ("user a", "step three", "2021-06-08T21:00:00"),
    ("user b", "step one", "2021-06-09T13:00:00"),
    ("user b", "step two", "2021-06-09T13:37:00"),
    ("user c", "step one", "2021-06-11T07:00:00"),
    ("user c", "step two", "2021-06-12T06:00:00"),
]


def time_to_convert(**options: Any) -> dict[str, Any]:
    steps = ("step one", "step two", "step three")
    return funnel(
        "2021-06-07 00:00:00",
        "2021-06-13 23:59:59",
        *steps,
        funnelVizType="time_to_convert",
        funnelFromStep=0,
        funnelToStep=1,
        funnelWindowInterval=7,
        **options,
    )


AUTO_BINS = {"bins": [[2220, 2], [42510, 0], [82800, 1]], "average_conversion_time": 29540}


def test_time_to_convert_auto_bin_count_single_step(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_time_to_convert.py::test_auto_bin_count_single_step"""
    assert load(TIME_TO_CONVERT)(time_to_convert()) == AUTO_BINS


def test_time_to_convert_custom_bin_count_single_step(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_time_to_convert.py::test_custom_bin_count_single_step"""
    assert load(TIME_TO_CONVERT)(time_to_convert(binCount=7)) == {
        "bins": [[2220, 2], [13732, 0], [25244, 0], [36756, 0], [48268, 0], [59780, 0], [71292, 1], [82804, 0]],
        "average_conversion_time": 29540,
    }


def test_time_to_convert_basic_unordered(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_time_to_convert.py::test_basic_unordered"""
    run = load(
        [
            ("user a", "step three", "2021-06-08T18:00:00"),
            ("user a", "step one", "2021-06-08T19:00:00"),
            ("user a", "step two", "2021-06-08T21:00:00"),
            ("user b", "step one", "2021-06-09T13:00:00"),
            ("user b", "step two", "2021-06-09T13:37:00"),
            ("user c", "step two", "2021-06-11T07:00:00"),
            ("user c", "step one", "2021-06-12T06:00:00"),
        ]
    )
    assert run(time_to_convert(funnelOrderType="unordered")) == AUTO_BINS


def test_time_to_convert_basic_strict(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_time_to_convert.py::test_basic_strict: "blah" breaks user d's conversion"""
    run = load(
        [
            *TIME_TO_CONVERT[:5],
            ("user b", "blah", "2021-06-09T13:38:00"),
            ("user b", "step three", "2021-06-09T13:39:00"),
            *TIME_TO_CONVERT[5:],
            ("user d", "step one", "2021-06-11T07:00:00"),
            ("user d", "blah", "2021-06-12T07:00:00"),
            ("user d", "step two", "2021-06-12T09:00:00"),
        ]
    )
    assert run(time_to_convert(funnelOrderType="strict")) == AUTO_BINS


def test_funnel_trends_one_person_in_multiple_periods_and_windows(load: Callable[..., Run]) -> None:
    """FUNNELS/test_funnel_trends.py::test_one_person_in_multiple_periods_and_windows: a person counts in every
    period they entered in (rates: 1 of 1, none, 0 of 1, 1 of 2)"""
    run = load(
        [
            ("user_one", "step one", "2021-05-01T01:00:00"),
            ("user_one", "step two", "2021-05-01T02:00:00"),
            ("user_one", "step three", "2021-05-01T03:00:00"),
            ("user_one", "step one", "2021-05-03T01:00:00"),
            ("user_one", "step two", "2021-05-03T02:00:00"),
            ("user_one", "step one", "2021-05-04T11:00:00"),
            ("user_one", "step two", "2021-05-04T12:00:00"),
            ("user_one", "step three", "2021-05-04T13:00:00"),
            ("user_two", "step one", "2021-05-04T18:00:00"),
        ]
    )
    steps = ("step one", "step two", "step three")
    query = funnel("2021-05-01 00:00:00", "2021-05-04 23:59:59", *steps, funnelVizType="trends", funnelWindowInterval=1)
    [line] = run({**query, "interval": "day"})
    assert line["data"] == [100, 0, 0, 50] and line["count"] == 4
    assert line["days"] == ["2021-05-01", "2021-05-02", "2021-05-03", "2021-05-04"]


@pytest.mark.parametrize(
    ("options", "rates"),
    [({"funnelFromStep": 1}, [100, 0]), ({"funnelToStep": 1}, [50, 100])],
    ids=["test_from_second_step", "test_to_second_step"],
)
def test_funnel_trends_step_range(load: Callable[..., Run], options: dict[str, int], rates: list[int]) -> None:
    """FUNNELS/test_funnel_trends.py::test_from_second_step and ::test_to_second_step"""
    run = load(
        [
            ("user_one", "step one", "2021-05-01T01:00:00"),
            ("user_one", "step two", "2021-05-02T02:00:00"),
            ("user_one", "step three", "2021-05-02T03:00:00"),
            ("user_two", "step one", "2021-05-01T01:00:00"),
            ("user_three", "step two", "2021-05-02T02:00:00"),
            ("user_three", "step three", "2021-05-02T03:00:00"),
            ("user_four", "step one", "2021-05-02T01:00:00"),
            ("user_four", "step two", "2021-05-02T02:00:00"),
        ]
    )
    steps = ("step one", "step two", "step three")
    query = funnel(
        "2021-05-01 00:00:00", "2021-05-02 23:59:59", *steps, funnelVizType="trends", funnelWindowInterval=3, **options
    )
    [line] = run(query)
    assert line["data"] == rates


# --- retention: INSIGHTS/test_retention_query_runner.py (`_date(d, h)` is 2020-06-{10 + d} h:00) ----------
def _date(day: int, hour: int = 5) -> str:
    return f"2020-06-{10 + day:02d}T{hour:02d}:00:00Z"


PAGEVIEWS_WITH_ALIAS: list[tuple[str, str]] = [
    ("person1", _date(0)),
    ("person1", _date(1)),
    ("person1", _date(2)),
    ("person1", _date(5)),
    ("alias1", _date(5, 9)),
    ("person1", _date(6)),
    ("person2", _date(1)),
    ("person2", _date(2)),
    ("person2", _date(3)),
    ("person2", _date(6)),
]


def retention(date_from: str, date_to: str, **options: Any) -> dict[str, Any]:
    return {
        "kind": "RetentionQuery",
        "dateRange": {"date_from": date_from, "date_to": date_to},
        "retentionFilter": options,
    }


def table(results: list[dict[str, Any]]) -> list[list[int]]:
    return [[v["count"] for v in row["values"]] for row in results]


def test_retention_day_interval(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_retention_query_runner.py::test_day_interval: person1 and alias1 are one person"""
    run = load([(p, "$pageview", t) for p, t in PAGEVIEWS_WITH_ALIAS], aliases={"alias1": "person1"})
    results = run(retention("2020-06-10", "2020-06-20", totalIntervals=11))
    assert [r["label"] for r in results] == [f"Day {i}" for i in range(11)]
    assert results[0]["date"] == "2020-06-10T00:00:00"
    assert table(results) == [
        [1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0],
        [2, 2, 1, 0, 1, 2, 0, 0, 0, 0, 0],
        [2, 1, 0, 1, 2, 0, 0, 0, 0, 0, 0],
        [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        [0] * 11,
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        *[[0] * 11] * 4,
    ]


def test_retention_counted_back_from_date_to(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_retention_query_runner.py::test_day_interval as PostHog runs it, with only date_to
    (06-20 06:00): totalIntervals days ending on that day"""
    run = load([(p, "$pageview", t) for p, t in PAGEVIEWS_WITH_ALIAS], aliases={"alias1": "person1"})
    results = run(
        {"kind": "RetentionQuery", "dateRange": {"date_to": _date(10, 6)}, "retentionFilter": {"totalIntervals": 11}}
    )
    assert len(results) == 11 and results[0]["date"] == "2020-06-10T00:00:00"
    assert table(results)[1] == [2, 2, 1, 0, 1, 2, 0, 0, 0, 0, 0]


def test_first_time_retention(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_retention_query_runner.py::test_first_time_retention: a cohort is a person's first
    sign-up ever ("shouldnt_include" signed up before the range)"""
    signups = [("shouldnt_include", -5), ("shouldnt_include", -1), ("person1", -1), ("person1", 1), ("person1", 2)]
    signups += [("person1", 3), ("person1", 4), ("person2", -1), ("person3", 0), ("person4", 2)]
    views = [
        *PAGEVIEWS_WITH_ALIAS,
        *[("person3", _date(d)) for d in (1, 3, 4, 5)],
        ("person4", _date(3)),
        ("person4", _date(5)),
    ]
    events: list[Event] = [(p, "$user_signed_up", _date(d)) for p, d in signups] + [
        (p, "$pageview", t) for p, t in views
    ]
    run = load(sorted(events, key=lambda e: e[2]), aliases={"alias1": "person1"})
    results = run(
        retention(
            "2020-06-09",
            "2020-06-15",
            period="Day",
            totalIntervals=7,
            retentionType="retention_first_time",
            targetEntity={"id": "$user_signed_up", "type": "events"},
            returningEntity={"id": "$pageview", "type": "events"},
        )
    )
    assert table(results) == [
        [2, 1, 2, 2, 1, 0, 1],
        [1, 1, 0, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 1, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ]


def test_retention_with_properties_on_return_event(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_retention_query_runner.py::test_retention_with_properties_on_return_event"""
    events: list[Event] = [
        (p, "$pageview", t, {"$target_event_property": "value"} if t == _date(1) and p == "person1" else {})
        for p, t in PAGEVIEWS_WITH_ALIAS
    ]
    run = load(events, aliases={"alias1": "person1"})
    returning = {
        "id": "$pageview",
        "type": "events",
        "properties": [{"key": "$target_event_property", "type": "event", "operator": "exact", "value": ["value"]}],
    }
    results = run(retention("2020-06-10", "2020-06-20", totalIntervals=11, returningEntity=returning))
    assert [row[:2] for row in table(results)] == [
        [1, 1],
        [2, 0],
        [2, 0],
        [1, 0],
        [0, 0],
        [1, 0],
        [2, 0],
        *[[0, 0]] * 4,
    ]
    assert all(sum(row[2:]) == 0 for row in table(results))


# --- lifecycle: INSIGHTS/test_lifecycle_query_runner.py ----------------------------------------------------
LIFECYCLE = {
    "p1": ["2020-01-11", "2020-01-12", "2020-01-13", "2020-01-15", "2020-01-17", "2020-01-19"],
    "p2": ["2020-01-09", "2020-01-12"],
    "p3": ["2020-01-12"],
    "p4": ["2020-01-15"],
}
LIFECYCLE_EXPECTED = {
    "new": [1, 0, 0, 1, 0, 0, 0, 0],
    "returning": [1, 1, 0, 0, 0, 0, 0, 0],
    "resurrecting": [1, 0, 0, 1, 0, 1, 0, 1],
    "dormant": [0, -2, -1, 0, -2, 0, -1, 0],
}


def lifecycle(event: str | None = "$pageview", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "LifecycleQuery",
        "dateRange": {"date_from": "2020-01-12T00:00:00Z", "date_to": "2020-01-19T00:00:00Z"},
        "interval": "day",
        "series": [{"kind": "EventsNode", "event": event, **extra.pop("node", {})}],
        **extra,
    }


def test_lifecycle_trend(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_lifecycle_query_runner.py::test_lifecycle_trend"""
    run = load([(p, "$pageview", f"{d}T12:00:00Z") for p, days in LIFECYCLE.items() for d in days])
    results = run(lifecycle())
    assert results[0]["label"] == "$pageview - new"
    assert {r["status"]: r["data"] for r in results} == LIFECYCLE_EXPECTED


def test_lifecycle_trend_all_events(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_lifecycle_query_runner.py::test_lifecycle_trend_all_events: p3 and p4 only do "$other\""""
    run = load(
        [
            (p, "$pageview" if p in ("p1", "p2") else "$other", f"{d}T12:00:00Z")
            for p, days in LIFECYCLE.items()
            for d in days
        ]
    )
    results = run(lifecycle(None))
    assert results[0]["label"] == "All events - new"
    assert {r["status"]: r["data"] for r in results} == LIFECYCLE_EXPECTED


def test_lifecycle_trend_prop_filtering(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_lifecycle_query_runner.py::test_lifecycle_trend_prop_filtering: only p1's events have
    $number = 1; the filter on the query and on the series give the same answer"""
    run = load(
        [
            (p, "$pageview", f"{d}T12:00:00Z", {"$number": 1} if p == "p1" else {})
            for p, days in LIFECYCLE.items()
            for d in days
        ]
    )
    number = [{"key": "$number", "value": "1", "operator": "exact", "type": "event"}]
    expected = {
        "dormant": [0, 0, -1, 0, -1, 0, -1, 0],
        "new": [0] * 8,
        "resurrecting": [0, 0, 0, 1, 0, 1, 0, 1],
        "returning": [1, 1, 0, 0, 0, 0, 0, 0],
    }
    for query in (lifecycle(properties=number), lifecycle(node={"properties": number})):
        assert {r["status"]: r["data"] for r in run(query)} == expected


# --- paths: INSIGHTS/test_paths_query_runner.py ------------------------------------------------------------
def edges(results: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    return [(e["source"], e["target"], e["value"]) for e in results]


def test_current_url_paths_and_logic(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_paths_query_runner.py::test_current_url_paths_and_logic (now frozen at 2012-01-15, the
    last seven days; "fake" browsed on 2012-01-01, outside them); person_2a and person_2b are one person"""
    visits = [
        ("fake", "/", "2012-01-01T03:21:34"),
        ("fake", "/about", "2012-01-01T03:21:34"),
        ("person_1", "/", "2012-01-14T03:21:34"),
        ("person_1", "/about", "2012-01-14T03:28:34"),
        ("person_2a", "/", "2012-01-14T03:21:34"),
        ("person_2b", "/pricing", "2012-01-14T03:28:34"),
        ("person_2a", "/about", "2012-01-14T03:29:34"),
        ("person_3", "/pricing", "2012-01-14T03:21:34"),
        ("person_3", "/", "2012-01-14T03:28:34"),
        ("person_4", "/", "2012-01-14T03:21:34"),
        ("person_4", "/pricing", "2012-01-14T03:28:34"),
    ]
    run = load([(p, "$pageview", t, {"$current_url": url}) for p, url, t in visits], aliases={"person_2b": "person_2a"})
    query = {"kind": "PathsQuery", "dateRange": {"date_from": "2012-01-08", "date_to": "2012-01-15"}, "pathsFilter": {}}
    assert edges(run(query)) == [
        ("1_/", "2_/pricing", 2),
        ("1_/", "2_/about", 1),
        ("1_/pricing", "2_/", 1),
        ("2_/pricing", "3_/about", 1),
    ]


def test_custom_event_paths(load: Callable[..., Run]) -> None:
    """INSIGHTS/test_paths_query_runner.py::test_custom_event_paths: person_1's $pageview is not a custom event"""
    journeys = {
        "person_1": ["custom_event_1", "custom_event_3", "$pageview"],
        "person_2": ["custom_event_1", "custom_event_2", "custom_event_3"],
        "person_3": ["custom_event_2", "custom_event_1"],
        "person_4": ["custom_event_1", "custom_event_2"],
    }
    run = load(
        [
            (p, e, t, {"$current_url": "/"})
            for p, names in journeys.items()
            for e, t in _at("2012-01-14T03:00:00", *names)
        ]
    )
    query = {
        "kind": "PathsQuery",
        "dateRange": {"date_from": "2012-01-08", "date_to": "2012-01-15"},
        "pathsFilter": {"includeEventTypes": ["custom_event"]},
    }
    assert edges(run(query)) == [
        ("1_custom_event_1", "2_custom_event_2", 2),
        ("1_custom_event_1", "2_custom_event_3", 1),
        ("1_custom_event_2", "2_custom_event_1", 1),
        ("2_custom_event_2", "3_custom_event_3", 1),
    ]
