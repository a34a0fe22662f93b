"""Property tests: the engine's trends, funnels and retention against a brute-force reference (tests/reference.py).

Each generated case is a few persons with a few dozen events over a few days, in a time zone that is often not
UTC (some cases straddle a DST change), some persons using two ids that an Amplitude event carrying both
user_id and device_id (sometimes an `$identify`) merges. Each case goes into a fresh project through the real
HTTP endpoint in one request, is flushed, queried and compared.

FOOTFALL_PROPERTY_SCALE=10 runs ten times as many examples (a deeper hunt than the suite's default).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from footfall.query.funnels import run_funnel
from footfall.query.retention import run_retention
from footfall.query.spec import (
    CohortBy,
    DateRange,
    EventSelector,
    FunnelOrder,
    FunnelQuery,
    Interval,
    Math,
    PropertyRef,
    RetentionMode,
    RetentionQuery,
    Scope,
    Series,
    Source,
    TrendsQuery,
)
from footfall.query.trends import run_trends
from footfall.runtime import Runtime
from tests import reference as ref
from tests.conftest import flush, new_project

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
NAMES = ("a", "b", "c", "d")
TIMEZONES = ("UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Australia/Adelaide")
# Ordinary days, and the days before DST changes (New York: March 10, November 3; Adelaide: April 7).
FIRST_DAYS = (dt.date(2024, 6, 1), dt.date(2024, 3, 9), dt.date(2024, 11, 2), dt.date(2024, 4, 6))
PLATFORMS = ("", "iOS", "Web")
# The `plan` event property as sent (None: not sent) and as the engine shows it.
PLANS: tuple[tuple[Any, str], ...] = ((None, ""), ("free", "free"), ("pro", "pro"), (3, "3"), (True, "true"))
NULL_PLAN = "null"  # sent as JSON null, shown as ''
NOW = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # every retention cell is complete

SCALE = float(os.environ.get("FOOTFALL_PROPERTY_SCALE", "1"))
SETTINGS: dict[str, Any] = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}


@dataclass(frozen=True)
class Sent:
    """One generated event: what the reference sees, and which of its person's ids it carries."""

    ev: ref.Ev
    ids: str  # "user", "device" or "both"
    plan: Any  # the JSON value sent, None when not sent, NULL_PLAN for an explicit null


@dataclass(frozen=True)
class Case:
    tz: str
    first: dt.date
    last: dt.date
    sent: tuple[Sent, ...]

    @property
    def events(self) -> list[ref.Ev]:
        return [s.ev for s in self.sent]

    @property
    def start_ms(self) -> int:
        return ref.local_midnight_ms(self.first, self.tz)

    @property
    def end_ms(self) -> int:
        return ref.local_midnight_ms(self.last + dt.timedelta(days=1), self.tz)

    def date_range(self) -> DateRange:
        return DateRange.days(self.first, self.last, self.tz)


@st.composite
def cases(draw: st.DrawFn, max_persons: int = 6, max_events: int = 25) -> Case:
    tz = draw(st.sampled_from(TIMEZONES))
    first = draw(st.sampled_from(FIRST_DAYS))
    last = first + dt.timedelta(days=draw(st.integers(0, 3)))
    # Events from a day before the range until two days after it, on a grid coarse enough for ties or
    # fine enough (1 ms) for none.
    grid = draw(st.sampled_from((6 * HOUR, HOUR, 15 * MINUTE, 1)))
    origin = int(dt.datetime.combine(first - dt.timedelta(days=1), dt.time(), dt.UTC).timestamp() * 1000)
    slots = ((last - first).days + 4) * DAY // grid
    sent: list[Sent] = []
    for person in range(draw(st.integers(1, max_persons))):
        ids = draw(st.sampled_from(("user", "device", "both")))
        size = draw(st.integers(0, max_events))
        # A person's events span the whole time, or a quarter or a day of it (denser, so more conversions).
        width = max(1, slots // draw(st.sampled_from((1, 4, (last - first).days + 4))))
        begin = draw(st.integers(0, slots - width))
        rows = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(NAMES),
                    st.integers(begin, begin + width),
                    st.sampled_from(PLATFORMS),
                    st.sampled_from((*range(len(PLANS)), -1)),
                ),
                min_size=size,
                max_size=size,
            )
        )
        mine: list[Sent] = []
        for name, slot, platform, plan in rows:
            plan_sent, plan_shown = (NULL_PLAN, "") if plan < 0 else PLANS[plan]
            kind = ids if ids != "both" else draw(st.sampled_from(("user", "device", "both")))
            mine.append(Sent(ref.Ev(person, name, origin + slot * grid, platform, plan_shown), kind, plan_sent))
        if ids == "both" and mine and all(s.ids != "both" for s in mine):
            # The two ids must meet once: on one of the events, or on an Amplitude `$identify`.
            if draw(st.booleans()):
                i = draw(st.integers(0, len(mine) - 1))
                mine[i] = Sent(mine[i].ev, "both", mine[i].plan)
            else:
                at = origin + draw(st.integers(0, slots)) * grid
                mine.append(Sent(ref.Ev(person, "$identify", at), "both", None))
        sent.extend(mine)
    return Case(tz, first, last, tuple(sent))


def _amplitude(s: Sent) -> dict[str, Any]:
    body: dict[str, Any] = {"event_type": s.ev.name, "time": s.ev.ms}
    if s.ids in ("user", "both"):
        body["user_id"] = f"user-{s.ev.person:03d}"
    if s.ids in ("device", "both"):
        body["device_id"] = f"device-{s.ev.person:03d}"
    if s.ev.platform:
        body["platform"] = s.ev.platform
    if s.ev.name == "$identify":
        body["user_properties"] = {"$set": {"merged": True}}
    elif s.plan is not None:
        body["event_properties"] = {"plan": None if s.plan == NULL_PLAN else s.plan}
    return body


def ingest(client: TestClient, runtime: Runtime, case: Case) -> dict[str, Any]:
    """A fresh project in the case's time zone holding the case's events, sent in one request."""
    project = new_project(runtime, case.tz)
    if case.sent:
        body = {"api_key": project["api_key"], "events": [_amplitude(s) for s in case.sent]}
        r = client.post("/2/httpapi", json=body)
        assert r.status_code == 200, r.text
    flush(runtime)
    return project


# -- trends ----------------------------------------------------------------------------------------------
BREAKDOWNS: dict[str, PropertyRef] = {
    "platform": PropertyRef(Source.COLUMN, "platform"),
    "plan": PropertyRef(Source.EVENT, "plan"),
}


@settings(max_examples=round(15 * SCALE), **SETTINGS)
@given(
    case=cases(),
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=2, unique=True),
    week_start=st.integers(0, 1),
)
def test_trends_match_reference(
    client: TestClient, runtime: Runtime, case: Case, names: list[str], week_start: int
) -> None:
    project = ingest(client, runtime, case)
    series = [(name, math) for name in names for math in ("total", "uniques")]
    for interval in ("day", "week", "hour"):
        scope = Scope(project["id"], case.date_range(), Interval(interval), week_start=week_start)
        for breakdown in (None, "platform", "plan"):
            query = TrendsQuery(
                scope,
                tuple(Series(EventSelector(name), Math(math)) for name, math in series),
                breakdowns=(BREAKDOWNS[breakdown],) if breakdown else (),
            )
            result = run_trends(runtime.engine, query)
            expected = ref.trends(case.events, case.tz, case.first, case.last, series, interval, week_start, breakdown)
            assert result.buckets == ref.bucket_starts(case.first, case.last, interval, week_start)
            got = [
                ref.TrendsSeries(s.series_index, tuple(s.breakdown), tuple(s.values), s.total) for s in result.series
            ]
            assert got == expected, (interval, breakdown)


# -- funnels ---------------------------------------------------------------------------------------------
def edge_windows(case: Case, steps: tuple[str, ...]) -> list[int]:
    """The windows at which some person just reaches some step: from one of their first-step events in the
    range, the time to the earliest later event of each following step, in order."""
    out: set[int] = set()
    for person in {e.person for e in case.events}:
        evs = sorted((e for e in case.events if e.person == person and e.name in steps), key=lambda e: e.ms)
        for i, first in enumerate(evs):
            if first.name != steps[0] or not case.start_ms <= first.ms < case.end_ms:
                continue
            j = i + 1
            for step in steps[1:]:
                j = next((m for m in range(j, len(evs)) if evs[m].name == step), -1)
                if j < 0:
                    break
                out.add(evs[j].ms - first.ms)
                j += 1
    return sorted(w for w in out if w > 0)


@st.composite
def windows(draw: st.DrawFn, case: Case, steps: tuple[str, ...]) -> int:
    """A conversion window: often exactly one at which a person just reaches a step (or 1 ms short of it)."""
    edges = edge_windows(case, steps)
    kind = draw(st.sampled_from(("edge", "edge", "edge", "round", "any") if edges else ("round", "any")))
    if kind == "any":
        return draw(st.integers(1, 3 * DAY))
    base = draw(st.sampled_from(edges if kind == "edge" else (HOUR, 6 * HOUR, DAY, 2 * DAY, 3 * DAY)))
    return max(1, base + draw(st.sampled_from((0, 0, -1, 1))))


def _funnel_answer(runtime: Runtime, query: FunnelQuery) -> ref.FunnelAnswer:
    [group] = run_funnel(runtime.engine, query).groups
    return ref.FunnelAnswer(group.counts, group.avg_ms, group.median_ms)


@settings(max_examples=round(25 * SCALE), **SETTINGS)
@given(case=cases(), data=st.data())
def test_funnels_match_reference(client: TestClient, runtime: Runtime, case: Case, data: st.DataObject) -> None:
    steps = tuple(data.draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=4), label="steps"))
    window = data.draw(windows(case, steps), label="window")
    past_range = data.draw(st.booleans(), label="past_range")
    project = ingest(client, runtime, case)
    scope = Scope(project["id"], case.date_range())
    start, end = case.start_ms, case.end_ms
    for order, its_steps in (
        ("ordered", steps),
        ("strict", steps),
        ("unordered", tuple(dict.fromkeys(steps))),  # a step repeated in any order is no new step
    ):
        query = FunnelQuery(
            scope,
            tuple(EventSelector(name) for name in its_steps),
            window,
            FunnelOrder(order),
            convert_past_range=past_range,
        )
        got = _funnel_answer(runtime, query)
        expected = ref.funnel(case.events, its_steps, order, window, start, end, past_range)
        assert got.counts == expected.counts, order
        if order != "unordered":  # conversion times come from the path funnels.py describes
            assert got.avg_ms == pytest.approx(expected.avg_ms), order
            assert got.median_ms == pytest.approx(expected.median_ms), order


# -- retention -------------------------------------------------------------------------------------------
@settings(max_examples=round(15 * SCALE), **SETTINGS)
@given(
    case=cases(),
    start_event=st.sampled_from(NAMES[:2]),
    return_event=st.sampled_from(NAMES[:2]),
    periods=st.integers(0, 5),
)
def test_retention_matches_reference(
    client: TestClient, runtime: Runtime, case: Case, start_event: str, return_event: str, periods: int
) -> None:
    project = ingest(client, runtime, case)
    scope = Scope(project["id"], case.date_range(), Interval.DAY)
    for cohort_by in ("first_in_range", "every", "first_ever"):
        for mode in ("n_day", "rolling"):
            query = RetentionQuery(
                scope,
                EventSelector(start_event),
                EventSelector(return_event),
                periods,
                RetentionMode(mode),
                cohort_by=CohortBy(cohort_by),
            )
            result = run_retention(runtime.engine, query, NOW)
            expected = ref.retention(
                case.events, case.tz, case.first, case.last, start_event, return_event, periods, mode, cohort_by
            )
            table = result.groups[""]
            assert [c.bucket for c in table] == ref.bucket_starts(case.first, case.last, "day")
            assert [c.size for c in table] == expected.sizes, (cohort_by, mode)
            assert [c.counts for c in table] == expected.counts, (cohort_by, mode)
            assert result.combined[""] == expected.combined, (cohort_by, mode)


# -- counterexamples the properties found, kept as plain tests --------------------------------------------
JUNE_1 = int(dt.datetime(2024, 6, 1, tzinfo=dt.UTC).timestamp() * 1000)


def _case(*events: tuple[int, str, int]) -> Case:
    """A UTC case over June 1st from (person, event, ms after its midnight) triples, all sent by user_id."""
    day = dt.date(2024, 6, 1)
    return Case("UTC", day, day, tuple(Sent(ref.Ev(p, name, JUNE_1 + ms), "user", None) for p, name, ms in events))


def test_first_ever_cohort_needs_a_start_event(client: TestClient, runtime: Runtime) -> None:
    # A person with only a return event (here the day before the range) was put in the first cohort: the
    # minimum over no start event is 0, the first cohort's index.
    case = _case((0, "a", -DAY))
    project = ingest(client, runtime, case)
    scope = Scope(project["id"], case.date_range(), Interval.DAY)
    for mode in RetentionMode.N_DAY, RetentionMode.ROLLING:
        query = RetentionQuery(scope, EventSelector("b"), EventSelector("a"), 0, mode, cohort_by=CohortBy.FIRST_EVER)
        result = run_retention(runtime.engine, query, NOW)
        assert [c.size for c in result.groups[""]] == [0]
        assert result.combined[""] == (0, [0])


def test_median_conversion_time_of_an_even_count_is_the_midpoint(client: TestClient, runtime: Runtime) -> None:
    # Two persons convert in 1 h and 3 h: the median is 2 h (PostHog's median(); it was the upper value, 3 h).
    case = _case((0, "a", 0), (0, "b", HOUR), (1, "a", 0), (1, "b", 3 * HOUR))
    project = ingest(client, runtime, case)
    query = FunnelQuery(Scope(project["id"], case.date_range()), (EventSelector("a"), EventSelector("b")), DAY)
    got = _funnel_answer(runtime, query)
    assert got == ref.FunnelAnswer([2, 2], [None, 2 * HOUR], [None, 2 * HOUR])
    assert got == ref.funnel(case.events, ("a", "b"), "ordered", DAY, case.start_ms, case.end_ms)


def test_strict_funnel_ignores_an_event_simultaneous_with_a_step(client: TestClient, runtime: Runtime) -> None:
    # Amplitude's exact order counts a user whose other event fires at the same moment as a step, whichever
    # step: person 0's x is simultaneous with b (it used to break the chain, sorting first), person 1's with a.
    # Person 2's x happens strictly between a and b and breaks it.
    case = _case(
        (0, "a", 0), (0, "x", HOUR), (0, "b", HOUR),
        (1, "a", HOUR), (1, "x", HOUR), (1, "b", 2 * HOUR),
        (2, "a", 0), (2, "x", HOUR), (2, "b", 2 * HOUR),
    )  # fmt: skip
    project = ingest(client, runtime, case)
    steps = (EventSelector("a"), EventSelector("b"))
    query = FunnelQuery(Scope(project["id"], case.date_range()), steps, DAY, FunnelOrder.STRICT)
    assert _funnel_answer(runtime, query).counts == [3, 2]
    assert ref.funnel(case.events, ("a", "b"), "strict", DAY, case.start_ms, case.end_ms).counts == [3, 2]


def test_ordered_times_come_from_the_earliest_start_reaching_furthest(client: TestClient, runtime: Runtime) -> None:
    # a 01:00, b 03:00, a 04:00, b 08:00: both starts convert; the times come from the earliest (2 h), each later
    # step being the first event after the previous one (Amplitude's "earliest, longest path").
    case = _case((0, "a", HOUR), (0, "b", 3 * HOUR), (0, "a", 4 * HOUR), (0, "b", 8 * HOUR))
    project = ingest(client, runtime, case)
    steps = (EventSelector("a"), EventSelector("b"))
    query = FunnelQuery(Scope(project["id"], case.date_range()), steps, DAY - 1)
    assert _funnel_answer(runtime, query) == ref.FunnelAnswer([1, 1], [None, 2 * HOUR], [None, 2 * HOUR])
    assert ref.funnel(case.events, ("a", "b"), "ordered", DAY - 1, case.start_ms, case.end_ms).avg_ms[1] == 2 * HOUR
