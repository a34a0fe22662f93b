"""What a question asks, independent of which API asked it. API modules translate into these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class QueryError(ValueError):
    """A question the caller asked wrongly (bad filter value, formula, bracket…): a 400, never a 500."""


class Interval(StrEnum):
    MINUTE = "minute"
    MINUTE5 = "5minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class Op(StrEnum):
    EQ = "eq"
    NEQ = "neq"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    REGEX = "regex"
    NOT_REGEX = "not_regex"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"
    SET_CONTAINS = "set_contains"  # an array property holds any of the values
    SET_NOT_CONTAINS = "set_not_contains"
    DATE_BEFORE = "date_before"
    DATE_AFTER = "date_after"
    IN_COHORT = "in_cohort"
    NOT_IN_COHORT = "not_in_cohort"


class Source(StrEnum):
    EVENT = "event"  # a key of the event's properties
    PERSON = "person"  # a key of the person's properties at event time
    COLUMN = "column"  # a first-class events column (country, platform, os_name, ...)
    COHORT = "cohort"  # membership of a cohort (values are cohort ids)


@dataclass(frozen=True)
class PropertyRef:
    source: Source
    key: str


@dataclass(frozen=True)
class PropertyFilter:
    prop: PropertyRef
    op: Op
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class FilterGroup:
    """Filters joined by OR (any_of) or AND; items are filters or nested groups (PostHog property groups)."""

    any_of: bool
    items: tuple[PropertyFilter | FilterGroup, ...]


@dataclass(frozen=True)
class EventSelector:
    """An event (None: any analytics event) narrowed by property filters (ANDed)."""

    event: str | None
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()


@dataclass(frozen=True)
class DateRange:
    """Whole local days [start, end] in the project's time zone, or exact instants for sub-day ranges."""

    start: dt.datetime
    end: dt.datetime  # exclusive
    timezone: str = "UTC"

    @classmethod
    def days(cls, first: dt.date, last: dt.date, timezone: str) -> DateRange:
        return cls(
            dt.datetime.combine(first, dt.time()), dt.datetime.combine(last + dt.timedelta(days=1), dt.time()), timezone
        )


@dataclass(frozen=True)
class Scope:
    """Who is asked about: the project, the window, and conditions on every event (ANDed)."""

    project_id: int
    date_range: DateRange
    interval: Interval = Interval.DAY
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()
    week_start: int = 0  # 0 Sunday, 1 Monday


class Math(StrEnum):
    TOTAL = "total"
    UNIQUES = "uniques"
    UNIQUE_SESSIONS = "unique_sessions"
    PER_USER = "per_user"  # totals / uniques
    SUM = "sum"
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    MEDIAN = "median"
    P90 = "p90"
    P95 = "p95"
    P99 = "p99"


@dataclass(frozen=True)
class Series:
    selector: EventSelector
    math: Math = Math.TOTAL
    math_property: PropertyRef | None = None
    # A rolling window of this many intervals ending at each bucket: uniques over the window (Amplitude's
    # rollingWindow, PostHog's weekly/monthly active) or the window's sum for other math.
    window: int = 1
    # Then each value averaged with the ones before it, over this many intervals (Amplitude's rollingAverage).
    average_over: int = 1


@dataclass(frozen=True)
class TrendsQuery:
    scope: Scope
    series: tuple[Series, ...]
    breakdowns: tuple[PropertyRef, ...] = ()
    breakdown_limit: int = 100


@dataclass
class SeriesResult:
    series_index: int
    breakdown: tuple[str, ...]
    values: list[float]
    total: float  # the metric over the whole range (uniques are not the sum of daily uniques)


@dataclass
class TrendsResult:
    buckets: list[dt.datetime]
    series: list[SeriesResult] = field(default_factory=list)


class FunnelOrder(StrEnum):
    ORDERED = "ordered"  # steps in order, other events allowed between
    STRICT = "strict"  # steps in order with no other event between (Amplitude "sequential")
    UNORDERED = "unordered"  # all steps within the window, in any order


@dataclass(frozen=True)
class FunnelQuery:
    scope: Scope
    steps: tuple[EventSelector, ...]
    window_ms: int = 30 * 86_400_000
    order: FunnelOrder = FunnelOrder.ORDERED
    breakdown: PropertyRef | None = None
    breakdown_limit: int = 100
    # Amplitude lets later steps happen after the range (within the window); PostHog keeps all in range.
    convert_past_range: bool = True


@dataclass
class FunnelGroup:
    breakdown: str | None
    counts: list[int]  # persons reaching each step
    avg_ms: list[float | None]  # mean time from the previous step, per step (None for the first)
    median_ms: list[float | None]
    by_bucket: dict[dt.datetime, list[int]] = field(default_factory=dict)  # counts by the bucket of entry
    by_bucket_avg_ms: dict[dt.datetime, list[float | None]] = field(default_factory=dict)
    by_bucket_median_ms: dict[dt.datetime, list[float | None]] = field(default_factory=dict)


@dataclass
class FunnelResult:
    buckets: list[dt.datetime]
    groups: list[FunnelGroup]


class RetentionMode(StrEnum):
    N_DAY = "n_day"  # returned in exactly the k-th interval after the cohort's
    ROLLING = "rolling"  # returned in the k-th interval or any later one (unbounded)
    BRACKET = "bracket"  # returned within each bracket [lo, hi] of intervals


class CohortBy(StrEnum):
    FIRST_IN_RANGE = "first_in_range"  # Amplitude: a person's first start event in the range
    EVERY = "every"  # PostHog recurring: every interval with a start event
    FIRST_EVER = "first_ever"  # PostHog first_time / Amplitude `_new`: the first start event ever


@dataclass(frozen=True)
class RetentionQuery:
    scope: Scope
    start: EventSelector
    returning: EventSelector
    periods: int = 10
    mode: RetentionMode = RetentionMode.N_DAY
    brackets: tuple[tuple[int, int], ...] = ()
    cohort_by: CohortBy = CohortBy.FIRST_IN_RANGE
    breakdown: PropertyRef | None = None


@dataclass
class RetentionCohort:
    bucket: dt.datetime
    size: int
    counts: list[int]  # per column: offsets 0..periods, or per bracket
    incomplete: list[bool]


@dataclass
class RetentionResult:
    columns: list[tuple[int, int]]  # the [lo, hi] offsets each count covers
    groups: dict[str, list[RetentionCohort]]  # by breakdown value ("" without a breakdown)
    combined: dict[str, tuple[int, list[int]]]  # persons over all cohorts, each counted once


@dataclass(frozen=True)
class LifecycleQuery:
    scope: Scope
    selector: EventSelector


@dataclass
class LifecycleResult:
    buckets: list[dt.datetime]
    new: list[int]
    returning: list[int]
    resurrecting: list[int]
    dormant: list[int]  # negative, as PostHog shows them


@dataclass(frozen=True)
class StickinessQuery:
    scope: Scope
    series: tuple[Series, ...]


@dataclass
class StickinessResult:
    intervals: int  # how many intervals the range has
    counts: list[list[int]]  # per series: persons active in exactly 1, 2, … intervals


class PathItem(StrEnum):
    PAGEVIEW = "$pageview"  # the page's $current_url
    SCREEN = "$screen"  # the $screen_name
    CUSTOM = "custom_event"  # the event's name, for every other event


@dataclass(frozen=True)
class PathsQuery:
    scope: Scope
    include: tuple[PathItem, ...] = (PathItem.PAGEVIEW,)
    start_point: str | None = None
    end_point: str | None = None
    step_limit: int = 5
    edge_limit: int = 50
    min_edge_weight: int = 1
    exclude: tuple[str, ...] = ()
    session_gap_ms: int = 30 * 60_000


@dataclass
class PathEdge:
    source: str  # "<step>_<item>", as PostHog names nodes
    target: str
    value: int  # persons' paths that took this edge
    average_conversion_time_ms: float
