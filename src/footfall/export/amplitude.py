"""Amplitude's Export API: which events an export holds, and how each one is written.

An export covers the events *uploaded* (`received_at`, Amplitude's `server_upload_time`) in a range of
whole UTC hours, both ends included, at most 365 days. Its zip holds, per upload hour,
`<project>/<project>_<YYYY-MM-DD>_<H>#<n>.json.gz` entries (hour not zero-padded, partitions from 0),
each one event JSON object per line in Amplitude's export shape (reference §2.3): times as
`YYYY-MM-DD HH:MM:SS.ffffff`, integer ids never null, objects `{}` rather than null, `user_properties`
the person's properties at the event, `amplitude_id` the merged person.

The engine builds each line (one `concat` per row) and returns the lines of a bounded slice of hours per
query; Python only groups them by hour and compresses, so memory stays flat over any range.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from footfall.engine.base import Engine
from footfall.export.archive import Lines, zip_stream
from footfall.query.events import source_sql
from footfall.query.persons import amplitude_id
from footfall.query.sql import Params

HOUR = 3600
MAX_DAYS = 365
DEFAULT_MAX_BYTES = 4 << 30  # Amplitude answers 400 above 4 GB
DEFAULT_PARTITION_EVENTS = 100_000  # events per file before an hour gets another partition
PAGE_EVENTS = 10_000  # events per engine query: what bounds the server's memory
# The size check runs before anything is sent, from a count and the stored JSON lengths: a line is those
# lengths plus about 1,400 bytes of names and fixed fields, and gzip keeps 6% (demo data) to 12% (random
# values) of it; the estimate takes the high end.
LINE_OVERHEAD_BYTES = 1_400
GZIP_RATIO = 0.12


class RangeError(ValueError):
    """A start/end Amplitude refuses; the message is the reason given to the caller."""


# -- the range ------------------------------------------------------------------------------------------
_HOUR_FORMAT = re.compile(r"(\d{8})(?:T(\d{2}))?")


@dataclass(frozen=True)
class HourRange:
    """Whole UTC hours from `first` to `last` (epoch seconds), both included."""

    first: int
    last: int

    @property
    def hours(self) -> int:
        return (self.last - self.first) // HOUR + 1

    @property
    def stop(self) -> int:
        return self.last + HOUR


def _hour(value: str | None, name: str, is_end: bool) -> int:
    if not value:
        raise RangeError(f"missing required parameter {name}")
    match = _HOUR_FORMAT.fullmatch(value)
    if match is None:
        raise RangeError(f"{name} must be YYYYMMDDTHH or YYYYMMDD, got {value[:32]!r}")
    try:
        day = dt.datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=dt.UTC)
    except ValueError:
        raise RangeError(f"{name} is not a valid date: {value!r}") from None
    # A bare date means its first hour as a start and its last hour as an end (the whole day).
    hour = int(match.group(2)) if match.group(2) is not None else (23 if is_end else 0)
    if hour > 23:
        raise RangeError(f"{name} has an hour above 23: {value!r}")
    return int(day.timestamp()) + hour * HOUR


def parse_range(start: str | None, end: str | None) -> HourRange:
    """The hours of `start`/`end` as Amplitude takes them (`20220201T05`, or `20220201` for whole days)."""
    hours = HourRange(_hour(start, "start", False), _hour(end, "end", True))
    if hours.last < hours.first:
        raise RangeError("end is before start")
    if hours.hours > MAX_DAYS * 24:
        raise RangeError(f"the range is longer than {MAX_DAYS} days")
    return hours


# -- settings -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportSettings:
    """Per project, from `Project.settings` keys `export_max_bytes` and `export_partition_events`."""

    max_bytes: int = DEFAULT_MAX_BYTES
    partition_events: int = DEFAULT_PARTITION_EVENTS

    @classmethod
    def of(cls, settings: Mapping[str, Any] | None) -> ExportSettings:
        settings = settings or {}
        return cls(
            max_bytes=int(settings.get("export_max_bytes", DEFAULT_MAX_BYTES)),
            partition_events=max(1, int(settings.get("export_partition_events", DEFAULT_PARTITION_EVENTS))),
        )


# -- the plan: which hours hold how much ----------------------------------------------------------------
@dataclass(frozen=True)
class HourStats:
    hour: int  # epoch seconds
    events: int
    stored_bytes: int


@dataclass(frozen=True)
class ExportPlan:
    project_id: int
    range: HourRange
    hours: list[HourStats]

    @property
    def events(self) -> int:
        return sum(h.events for h in self.hours)

    @property
    def estimated_bytes(self) -> int:
        """Roughly how large the zip will be (before anything is produced)."""
        raw = sum(h.stored_bytes + h.events * LINE_OVERHEAD_BYTES for h in self.hours)
        return int(raw * GZIP_RATIO)


def _ms(seconds: int) -> int:
    return seconds * 1000


def _uploaded_in(p: Params, first: int, stop: int) -> str:
    return (
        f"received_at >= fromUnixTimestamp64Milli({p(_ms(first), 'Int64')})"
        f" AND received_at < fromUnixTimestamp64Milli({p(_ms(stop), 'Int64')})"
    )


def plan_export(engine: Engine, project_id: int, hours: HourRange) -> ExportPlan:
    """Events and stored JSON bytes per upload hour of the range (one aggregate query)."""
    p = Params()
    rows = engine.query(
        f"""SELECT toUnixTimestamp(toStartOfHour(received_at)) AS hour, count(),
               sum(length(properties) + length(person_properties) + length(groups) + length(group_properties)
                   + length(extra) + length(user_id) + length(device_id) + length(insert_id))
        FROM events
        WHERE project_id = {p(project_id, "UInt32")} AND {_uploaded_in(p, hours.first, hours.stop)}
        GROUP BY hour ORDER BY hour""",
        p.values,
    )
    return ExportPlan(project_id, hours, [HourStats(int(h), int(n), int(b)) for h, n, b in rows])


# -- the line of one event ------------------------------------------------------------------------------
def _text(column: str) -> str:
    """A string column; Amplitude writes null for an absent value."""
    return f"if({column} = '', 'null', toJSONString({column}))"


def _time(column: str) -> str:
    return f"toJSONString(formatDateTime({column}, '%Y-%m-%d %H:%i:%S.%f'))"


def _object(column: str) -> str:
    """A stored JSON object; never null (consumers' parsers require an object)."""
    return f"if({column} IN ('', 'null'), '{{}}', {column})"


def _number(column: str) -> str:
    return f"ifNull(toJSONString({column}), 'null')"


def _kept(name: str, json_type: str, default: str = "null") -> str:
    """A field footfall does not compute, kept in `extra` from ingestion or import, when of the right type.

    The type check matters: consumers deserialise strictly (PostHog's importer fails on a number where
    it expects a string), so a value of another type is written as the default.
    """
    found = f"if(JSONType(extra, '{name}') = '{json_type}', JSONExtractRaw(extra, '{name}'), '{default}')"
    return f"if(extra = '{{}}', '{default}', {found})"  # most rows have no extra: skip parsing it


def _any_kept(name: str) -> str:
    return f"if(extra = '{{}}', 'null', if(JSONHas(extra, '{name}'), JSONExtractRaw(extra, '{name}'), 'null'))"


# PostHog events carry their id in distinct_id: it is the user id unless it is the device's id.
_USER_ID = "if(user_id != '', user_id, if(distinct_id != device_id, distinct_id, ''))"
# Amplitude's `data`: kept as imported, else what footfall knows (whether the event set user properties).
_DATA = (
    "if(extra != '{}' AND JSONType(extra, 'data') = 'Object', JSONExtractRaw(extra, 'data'), "
    """concat('{"path":"/batch","user_properties_updated":', if(user_properties IN ('', '{}'), 'false', 'true'), """
    """',"group_first_event":{},"group_ids":{}}'))"""
)

# Field name -> SQL producing its JSON text, in the order of Amplitude's documented schema.
FIELDS: dict[str, str] = {
    "server_received_time": _time("received_at"),
    "app": "toString(project_id)",
    "device_carrier": _text("carrier"),
    "$schema": "'null'",
    "city": _text("city"),
    "user_id": _text(_USER_ID),
    "uuid": "toJSONString(toString(uuid))",
    "event_time": _time("timestamp"),
    "platform": _text("platform"),
    "os_version": _text("os_version"),
    "amplitude_id": f"toString({amplitude_id('pid')})",
    "processed_time": _time("received_at"),
    "user_creation_time": _kept("user_creation_time", "String"),
    "version_name": f"if(app_version != '', toJSONString(app_version), {_kept('version_name', 'String')})",
    "ip_address": _text("ip"),
    "paying": _kept("paying", "Bool"),
    "dma": _text("dma"),
    "group_properties": _object("group_properties"),
    "user_properties": _object("person_properties"),
    "client_upload_time": _time("client_upload_time"),
    "$insert_id": _text("insert_id"),
    "$insert_key": _kept("$insert_key", "String"),
    "event_type": "toJSONString(event)",
    "library": _text("library"),
    "amplitude_attribution_ids": _any_kept("amplitude_attribution_ids"),
    "device_type": _text("device_type"),
    "device_manufacturer": _text("device_manufacturer"),
    "device_brand": _text("device_brand"),
    "device_model": _text("device_model"),
    "device_family": _kept("device_family", "String"),
    "start_version": _kept("start_version", "String"),
    "location_lng": _number("location_lng"),
    "location_lat": _number("location_lat"),
    "server_upload_time": _time("received_at"),
    "event_id": "toString(event_id)",
    "os_name": _text("os_name"),
    "amplitude_event_type": _kept("amplitude_event_type", "String"),
    "groups": _object("groups"),
    "event_properties": _object("properties"),
    "data": _DATA,
    "data_type": _kept("data_type", "String", '"event"'),
    "device_id": _text("device_id"),
    "language": _text("language"),
    "country": _text("country"),
    "region": _text("region"),
    "is_attribution_event": _kept("is_attribution_event", "Bool", "false"),
    "adid": _kept("adid", "String"),
    "idfa": _kept("idfa", "String"),
    "session_id": "toString(session_id)",
    "sample_rate": "'null'",
    "client_event_time": _time("timestamp"),
    "plan": _kept("plan", "Object", "{}"),
    "partner_id": _kept("partner_id", "String"),
    "source_id": _kept("source_id", "String"),
    "global_user_properties": _any_kept("global_user_properties"),
}

# Fields written from `extra` rather than from columns: an import keeps them there, so they survive.
KEPT_FIELDS = frozenset(
    {
        "user_creation_time",
        "paying",
        "$insert_key",
        "amplitude_attribution_ids",
        "device_family",
        "start_version",
        "amplitude_event_type",
        "data",
        "data_type",
        "is_attribution_event",
        "adid",
        "idfa",
        "plan",
        "partner_id",
        "source_id",
        "global_user_properties",
    }
)


def _line_sql() -> str:
    parts = []
    for index, (name, sql) in enumerate(FIELDS.items()):
        key = ("{" if index == 0 else ",") + f'"{name}":'
        parts += [f"'{key}'", sql]
    return "concat(" + ", ".join(parts) + ", '}')"


LINE = _line_sql()


def entry_name(project_id: int, hour: int, partition: int) -> str:
    """`<project>/<project>_<YYYY-MM-DD>_<H>#<n>.json.gz`, named by the upload hour (UTC)."""
    when = dt.datetime.fromtimestamp(hour, dt.UTC)
    return f"{project_id}/{project_id}_{when:%Y-%m-%d}_{when.hour}#{partition}.json.gz"


# -- producing the lines --------------------------------------------------------------------------------
def _windows(hours: list[HourStats], page: int) -> Iterator[tuple[int, int, int]]:
    """(first hour, stop, slices): consecutive hours grouped up to `page` events per query; an hour above
    `page` alone, split into slices by a hash of the uuid so that each query stays bounded without a sort."""
    first: int | None = None
    stop = count = 0
    for h in hours:
        if first is not None and (count + h.events > page or h.events > page):
            yield first, stop, 1
            first = None
        if h.events > page:
            yield h.hour, h.hour + HOUR, math.ceil(h.events / page)
            continue
        if first is None:
            first, count = h.hour, 0
        count += h.events
        stop = h.hour + HOUR
    if first is not None:
        yield first, stop, 1


# Each row starts with a fixed-width key, upload ms then log position, so that sorting the rows as bytes
# puts them in upload order, as ingestion saw them: an import replaying a file in that order rebuilds the
# same person properties. The engine does not sort: sorting there costs more than the whole query.
_ORDER_KEY = (
    "concat(leftPad(toString(toUnixTimestamp64Milli(received_at)), 14, '0'), leftPad(toString(wal_pos), 20, '0'))"
)
_KEY_BYTES = 34
_HOUR_MS = HOUR * 1000


# Queries run on long-lived threads (chDB keeps a connection per thread), one page ahead of compression:
# the engine and gzip each keep a core busy, and at most two pages are in memory.
_FETCHERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="export-fetch")


def _fetch(engine: Engine, project_id: int, first: int, stop: int, slices: int, index: int) -> list[bytes]:
    """The rows of one slice (`<key>\t<line>`), sorted: one bounded engine query."""
    p = Params()
    where = _uploaded_in(p, first, stop)
    if slices > 1:
        where += f" AND cityHash64(uuid) % {p(slices, 'UInt32')} = {p(index, 'UInt32')}"
    sql = (
        f"SELECT {_ORDER_KEY}, {LINE} FROM {source_sql(p, project_id, where)}"
        " SETTINGS output_format_json_escape_forward_slashes = 0"
    )
    rows = b"".join(engine.stream(sql, p.values, fmt="TabSeparatedRaw")).split(b"\n")
    rows.pop()  # after the last newline
    rows.sort()
    return rows


def hour_lines(engine: Engine, plan: ExportPlan, page: int = PAGE_EVENTS) -> Iterator[tuple[int, Lines]]:
    """(hour, lines) in ascending hour order: one bounded engine query per slice of the plan's hours.

    Lines are in upload order within each query's result (a whole hour unless the hour is over `page`).
    """
    jobs = [
        (first, stop, slices, index) for first, stop, slices in _windows(plan.hours, page) for index in range(slices)
    ]
    ahead: Future[list[bytes]] | None = None
    for number, job in enumerate(jobs):
        rows = ahead.result() if ahead is not None else _fetch(engine, plan.project_id, *job)
        ahead = _FETCHERS.submit(_fetch, engine, plan.project_id, *jobs[number + 1]) if number + 1 < len(jobs) else None
        start = 0
        while start < len(rows):
            hour_ms = int(rows[start][:14]) // _HOUR_MS * _HOUR_MS
            end = bisect.bisect_left(rows, b"%014d" % (hour_ms + _HOUR_MS), lo=start)
            yield hour_ms // 1000, [memoryview(row)[_KEY_BYTES + 1 :] for row in rows[start:end]]  # no copies
            start = end
        del rows


def export_zip(
    engine: Engine,
    plan: ExportPlan,
    settings: ExportSettings,
    progress: Callable[[int, int], None] | None = None,
    page: int = PAGE_EVENTS,
) -> Iterator[bytes]:
    """The export of `plan` as zip bytes, produced while they are consumed."""

    def counted() -> Iterator[tuple[int, Lines]]:
        done, total = 0, plan.events
        for hour, lines in hour_lines(engine, plan, page):
            yield hour, lines
            done += len(lines)
            if progress is not None:
                progress(done, max(total, done))

    return zip_stream(counted(), lambda hour, n: entry_name(plan.project_id, hour, n), settings.partition_events)
