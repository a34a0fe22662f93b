"""Retention: n-day, rolling and bracket; first-in-range, recurring and first-ever cohorts; time zones."""

from __future__ import annotations

import datetime as dt
from typing import Any

from footfall.query.retention import run_retention
from footfall.query.spec import (
    CohortBy,
    DateRange,
    EventSelector,
    Interval,
    RetentionMode,
    RetentionQuery,
    Scope,
)
from footfall.runtime import Runtime

NOW = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)


def _query(project: dict[str, Any], **kw: Any) -> RetentionQuery:
    scope = Scope(
        project["id"], DateRange.days(dt.date(2024, 6, 1), dt.date(2024, 6, 3), "America/New_York"), Interval.DAY
    )
    return RetentionQuery(scope, EventSelector("open"), EventSelector("open"), kw.pop("periods", 3), **kw)


def test_n_day_first_in_range(runtime: Runtime, app_usage: dict[str, Any]) -> None:
    result = run_retention(runtime.engine, _query(app_usage), NOW)
    table = result.groups[""]
    # June 1: ann, ben. June 2: cat, dan, eve (eve's first in-range start; her May 31 is outside).
    assert [(c.size, c.counts) for c in table] == [
        (2, [2, 1, 1, 1]),  # day0 both; ann day1; ben day2; ann day3
        (3, [3, 1, 1, 1]),  # cat: day1 (3rd), day2 (4th), day3 (5th)
        (0, [0, 0, 0, 0]),
    ]
    assert result.combined[""] == (5, [5, 2, 2, 2])


def test_rolling_counts_any_later_return(runtime: Runtime, app_usage: dict[str, Any]) -> None:
    table = run_retention(runtime.engine, _query(app_usage, mode=RetentionMode.ROLLING), NOW).groups[""]
    assert table[0].counts == [2, 2, 2, 1]  # day1+: ann (2,4), ben (3); day3+: ann (4)


def test_brackets(runtime: Runtime, app_usage: dict[str, Any]) -> None:
    query = _query(app_usage, mode=RetentionMode.BRACKET, brackets=((1, 1), (2, 3)))
    table = run_retention(runtime.engine, query, NOW).groups[""]
    assert [c.counts for c in table[:2]] == [[1, 2], [1, 1]]


def test_recurring_and_first_ever_cohorts(runtime: Runtime, app_usage: dict[str, Any]) -> None:
    every = run_retention(runtime.engine, _query(app_usage, cohort_by=CohortBy.EVERY), NOW).groups[""]
    assert [c.size for c in every] == [2, 4, 2]  # June 2: ann, cat, dan, eve ; June 3: ben, cat
    first = run_retention(runtime.engine, _query(app_usage, cohort_by=CohortBy.FIRST_EVER), NOW).groups[""]
    assert [c.size for c in first] == [2, 2, 0]  # eve's first ever open was May 31: in no cohort


def test_incomplete_flags(runtime: Runtime, app_usage: dict[str, Any]) -> None:
    soon = dt.datetime(2024, 6, 3, 20, tzinfo=dt.UTC)  # June 3rd, 16:00 in New York
    table = run_retention(runtime.engine, _query(app_usage), soon).groups[""]
    assert table[0].incomplete == [False, False, True, True]
