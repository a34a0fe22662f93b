"""Time windows and buckets in the project's time zone (DESIGN rule 6: store UTC, bucket locally)."""

from __future__ import annotations

import datetime as dt

from footfall.query.spec import DateRange, Interval, Scope
from footfall.query.sql import Params

_STEP = {
    Interval.MINUTE5: dt.timedelta(minutes=5),
    Interval.HOUR: dt.timedelta(hours=1),
    Interval.DAY: dt.timedelta(days=1),
    Interval.WEEK: dt.timedelta(days=7),
}


def bucket_sql(interval: Interval, tz: str, week_start: int = 0, column: str = "timestamp") -> str:
    """Start of the local bucket holding `column`, as a local DateTime (tz is a bound placeholder)."""
    if interval is Interval.MINUTE:
        return f"toStartOfMinute({column}, {tz})"
    if interval is Interval.MINUTE5:
        return f"toStartOfFiveMinutes({column}, {tz})"
    if interval is Interval.HOUR:
        return f"toStartOfHour({column}, {tz})"
    if interval is Interval.DAY:
        return f"toStartOfDay({column}, {tz})"
    if interval is Interval.WEEK:
        return f"toDateTime(toStartOfWeek({column}, {3 if week_start else 0}, {tz}), {tz})"
    return f"toDateTime(toStartOfMonth({column}, {tz}), {tz})"


def window_sql(scope: Scope, p: Params, column: str = "timestamp") -> str:
    """The scope's time window as a condition on a UTC column (bounds are local times in the project zone)."""
    rng = scope.date_range
    tz = p(rng.timezone)
    start = p(rng.start.strftime("%Y-%m-%d %H:%M:%S"))
    end = p(rng.end.strftime("%Y-%m-%d %H:%M:%S"))
    return f"{column} >= toDateTime64({start}, 3, {tz}) AND {column} < toDateTime64({end}, 3, {tz})"


def align(moment: dt.datetime, interval: Interval, week_start: int = 0) -> dt.datetime:
    if interval is Interval.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if interval is Interval.MINUTE5:
        return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)
    if interval is Interval.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        # Python: Monday=0 … Sunday=6; weeks start on Sunday (0) or Monday (1).
        back = (day.weekday() + 1) % 7 if week_start == 0 else day.weekday()
        return day - dt.timedelta(days=back)
    return day.replace(day=1)


def advance(moment: dt.datetime, interval: Interval, steps: int = 1) -> dt.datetime:
    if interval is Interval.MONTH:
        month = moment.month - 1 + steps
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment + _STEP[interval] * steps


def buckets(rng: DateRange, interval: Interval, week_start: int = 0) -> list[dt.datetime]:
    """Every bucket start (local, naive) that overlaps the range."""
    out, current = [], align(rng.start, interval, week_start)
    while current < rng.end:
        out.append(current)
        current = advance(current, interval)
    return out


def parse_bucket(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def bucket_index_sql(interval: Interval, tz: str, origin: dt.datetime, p: Params, column: str = "timestamp") -> str:
    """Whole local intervals between `origin` (an aligned local bucket start) and `column`: 0, 1, 2, …"""
    if interval in (Interval.DAY, Interval.WEEK):
        days = f"dateDiff('day', {p(origin.date().isoformat(), 'Date')}, toDate({column}, {tz}))"
        return days if interval is Interval.DAY else f"toInt64(floor({days} / 7))"
    if interval is Interval.MONTH:
        return f"(toYear({column}, {tz}) * 12 + toMonth({column}, {tz}) - {origin.year * 12 + origin.month})"
    seconds = {Interval.HOUR: 3600, Interval.MINUTE5: 300, Interval.MINUTE: 60}[interval]
    origin_sql = f"toUnixTimestamp(toDateTime({p(origin.strftime('%Y-%m-%d %H:%M:%S'))}, {tz}))"
    return f"toInt64(floor((toUnixTimestamp({column}) - {origin_sql}) / {seconds}))"
