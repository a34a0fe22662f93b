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
    REVENUE = "revenue"  # what the event earned: key "amount", or the part "verified" / "unverified"


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
    items: tuple[PropertyFilter | FilterGroup | Performed, ...]


@dataclass(frozen=True)
class EventSelector:
    """An event (None: any analytics event) narrowed by property filters (ANDed). With `any_of` (a custom
    event), any of those selectors instead of `event`, each with its own filters, then `filters`."""

    event: str | None
    filters: tuple[PropertyFilter | FilterGroup, ...] = ()
    any_of: tuple[EventSelector, ...] = ()


@dataclass(frozen=True)
class Performed:
    """A cohort rule on what a person of the project did (PostHog's behavioral filters): `selector` done a number
    of times satisfying `count_op count` (GTE, GT, LTE, LT, EQ) since `since` (UTC; None: ever), or with
    `first_time`, done for the first time since then. `negated` inverts the rule."""

    project_id: int
    selector: EventSelector
    since: dt.datetime | None
    count_op: Op = Op.GTE
    count: int = 1
    first_time: bool = False
    negated: bool = False


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
    # Values past the limit: dropped (Amplitude), or folded into one series keyed OTHER (PostHog).
    fold_other: bool = False


# The breakdown value of the series that folds every value past the breakdown limit.
OTHER = "\x00other"


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


@dataclass(frozen=True)
class HistogramQuery:
    """How a number is distributed, in bins: a property's value per event (`prop`), or without one how many
    times each person did the event (per interval, and over the whole range for the totals)."""

    scope: Scope
    selector: EventSelector
    prop: PropertyRef | None = None
    max_bins: int = 10


@dataclass
class HistogramResult:
    buckets: list[dt.datetime]
    bins: list[tuple[float, float]]  # [low, high): evenly wide, at multiples of the width
    counts: list[list[int]]  # per bin, per bucket: events (with a property) or persons in it
    totals: list[int]  # per bin, over the whole range


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
    fold_other: bool = False  # persons past the breakdown limit: dropped, or one group keyed OTHER (PostHog)
    # Amplitude lets later steps happen after the range (within the window); PostHog keeps all in range.
    convert_past_range: bool = True
    exclusions: tuple[FunnelExclusion, ...] = ()
    # Count each person in every bucket in which they entered, by their best path starting there (PostHog's
    # funnel trends), rather than once, by their best path overall. Totals then count entries, not persons.
    per_entry: bool = False
    # Only persons new in the range, their first event ever in it (Amplitude's n=new; `events.new_persons_sql`).
    new_users: bool = False


@dataclass(frozen=True)
class FunnelExclusion:
    """An event that disqualifies a path when it happens after step `from_step` and before `to_step` (0-based;
    before the window ends when `to_step` is never reached)."""

    selector: EventSelector
    from_step: int
    to_step: int


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


@dataclass
class ConversionTimes:
    """How long persons took from one funnel step to a later one: a histogram and the mean, in seconds."""

    bins: list[tuple[int, int]]  # (lower edge, persons), evenly spaced from the fastest conversion
    average_s: float | None


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


# --- who is behind a number: one cell of an insight's result, answered with person ids ----------------


@dataclass(frozen=True)
class TrendsCell:
    query: TrendsQuery
    series_index: int = 0
    bucket: dt.datetime | None = None  # a local bucket start; None: the whole range (one-number displays)
    breakdown: tuple[str, ...] | None = None  # one value per breakdown; None: all values


@dataclass(frozen=True)
class FunnelCell:
    """Persons whose path reached step `reached` (1-based) and, with `missed`, not step `missed`."""

    query: FunnelQuery
    reached: int
    missed: int | None = None
    breakdown: str | None = None
    entered: dt.datetime | None = None  # only persons who entered the funnel in this bucket


@dataclass(frozen=True)
class RetentionCell:
    query: RetentionQuery
    cohort: int  # the cohort's row (0 = the range's first interval)
    breakdown: str = ""


class LifecycleStatus(StrEnum):
    NEW = "new"
    RETURNING = "returning"
    RESURRECTING = "resurrecting"
    DORMANT = "dormant"


@dataclass(frozen=True)
class LifecycleCell:
    query: LifecycleQuery
    bucket: dt.datetime  # a local bucket start
    status: LifecycleStatus


@dataclass(frozen=True)
class StickinessCell:
    query: StickinessQuery
    series_index: int
    intervals: int  # persons active in exactly this many intervals


Cell = TrendsCell | FunnelCell | RetentionCell | LifecycleCell | StickinessCell
