"""One user's summary and events, found by Amplitude ID (`amplitude_id()`: a hash of the person's UUID).

A user is a merged person (DESIGN rule 4): the ID of a person merged into another finds the survivor,
and the summary and events cover every person merged into it. Events are written in the export's
event shape (`footfall.export.amplitude.LINE`), so both APIs show an event the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from footfall.engine import Engine
from footfall.export.amplitude import _USER_ID as USER_ID  # the export's rule for an event's user id
from footfall.export.amplitude import LINE
from footfall.query.events import source_sql
from footfall.query.persons import ZERO_UUID, amplitude_id
from footfall.query.revenue import REVENUE_SQL
from footfall.query.sessions import MAX_LENGTH_MS
from footfall.query.sql import Params

MAX_EVENTS = 1000


def overrides_sql(p: Params, project_id: int) -> str:
    """Merged-away person -> the person it counts for now (the newest override wins)."""
    return f"""(SELECT old_person_id, argMax(person_id, version) AS person_id FROM person_overrides
        WHERE project_id = {p(project_id, "UInt32")} GROUP BY old_person_id)"""


def persons_of_sql(p: Params, project_id: int, pids: list[str]) -> str:
    """A condition on events.person_id: the merged persons `pids` and everyone merged into them."""
    bound = p(pids, "Array(UUID)")
    return (
        f"person_id IN {bound} OR person_id IN "
        f"(SELECT old_person_id FROM {overrides_sql(p, project_id)} WHERE person_id IN {bound})"
    )


@dataclass(frozen=True)
class User:
    pid: str  # the merged person's UUID
    amplitude_id: int
    merged_amplitude_ids: tuple[int, ...]  # of the persons merged into it


def resolve(engine: Engine, project_id: int, user: int) -> User | None:
    """The user an Amplitude ID names (its own or one merged into it), or None if unknown."""
    p = Params()
    rows = engine.query(
        f"""SELECT DISTINCT toString(pid), {amplitude_id("pid")}
        FROM (SELECT if(o.person_id = toUUID('{ZERO_UUID}'), ps.id, o.person_id) AS pid
              FROM (SELECT DISTINCT id FROM persons
                    WHERE project_id = {p(project_id, "UInt32")} AND {amplitude_id("id")} = {p(user, "UInt64")}) AS ps
              LEFT ANY JOIN {overrides_sql(p, project_id)} AS o ON ps.id = o.old_person_id)""",
        p.values,
    )
    if not rows:
        return None
    pid, canonical = rows[0][0], int(rows[0][1])
    p = Params()
    merged = engine.query(
        f"""SELECT {amplitude_id("old_person_id")} AS a FROM {overrides_sql(p, project_id)}
        WHERE person_id = {p(pid, "UUID")} AND old_person_id != person_id ORDER BY a""",
        p.values,
    )
    return User(pid, canonical, tuple(int(row[0]) for row in merged))


# Amplitude's userData names -> the SQL of the value on the user's latest event that has one.
LATEST = {
    "user_id": USER_ID,
    "last_device_id": "device_id",
    "platform": "platform",
    "os": "trim(concat(os_name, ' ', os_version))",
    "version": "app_version",
    "device": "device_model",
    "device_type": "device_type",
    "carrier": "carrier",
    "country": "country",
    "region": "region",
    "city": "city",
    "dma": "dma",
    "language": "language",
}


@dataclass
class UserSummary:
    num_events: int = 0
    num_sessions: int = 0
    usage_time: int = 0  # ms: the sum of the user's session lengths
    first_used: str | None = None  # local dates, YYYY-MM-DD
    last_used: str | None = None
    purchases: int = 0  # events with revenue
    revenue: float = 0.0
    latest: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(LATEST))  # latest non-empty values
    start_version: str | None = None
    device_ids: list[str] = field(default_factory=list)
    last_location: dict[str, float] | None = None
    properties: dict[str, Any] = field(default_factory=dict)


def summary(engine: Engine, project_id: int, timezone: str, pid: str) -> UserSummary:
    """Totals over all the user's events (identity operations included: they are in the user's stream too)."""
    p = Params()
    tz = p(timezone)
    latest = ", ".join(f"argMaxIf({sql}, timestamp, {sql} != '')" for sql in LATEST.values())
    row = engine.query(
        f"""SELECT count(), uniqExactIf(session, session != ''),
               formatDateTime(min(timestamp), '%Y-%m-%d', {tz}), formatDateTime(max(timestamp), '%Y-%m-%d', {tz}),
               countIf(rev IS NOT NULL), sum(ifNull(rev, 0)),
               argMinIf(app_version, timestamp, app_version != ''),
               arraySort(groupUniqArrayIf(device_id, device_id != '')),
               argMaxIf((location_lat, location_lng), timestamp, location_lat IS NOT NULL AND location_lng IS NOT NULL),
               countIf(location_lat IS NOT NULL AND location_lng IS NOT NULL),
               {latest}
        FROM (SELECT *, {REVENUE_SQL} AS rev FROM {source_sql(p, project_id, persons_of_sql(p, project_id, [pid]))})""",
        p.values,
    )[0]
    out = UserSummary(properties=_properties(engine, project_id, pid))
    if not row[0]:  # a person known from an identify call alone
        return out
    out.num_events, out.num_sessions = int(row[0]), int(row[1])
    out.first_used, out.last_used = row[2], row[3]
    out.purchases, out.revenue = int(row[4]), float(row[5])
    out.start_version = row[6] or None
    out.device_ids = list(row[7])
    if row[9]:
        lat, lng = row[8]
        out.last_location = {"lat": float(lat), "lng": float(lng)}
    out.latest = {name: value or None for name, value in zip(LATEST, row[10:], strict=True)}
    out.usage_time = _usage_ms(engine, project_id, pid)
    return out


def _usage_ms(engine: Engine, project_id: int, pid: str) -> int:
    """The user's session lengths added up, each capped at a day as in `query.sessions`."""
    p = Params()
    where = f"({persons_of_sql(p, project_id, [pid])}) AND session != ''"
    rows = engine.query(
        f"""SELECT sum(least(ended - started, {p(MAX_LENGTH_MS, "Int64")}))
        FROM (SELECT toUnixTimestamp64Milli(min(timestamp)) AS started, toUnixTimestamp64Milli(max(timestamp)) AS ended
              FROM {source_sql(p, project_id, where)} GROUP BY session)""",
        p.values,
    )
    return int(rows[0][0] or 0) if rows else 0


def _properties(engine: Engine, project_id: int, pid: str) -> dict[str, Any]:
    """The person's current properties (the newest version of the survivor)."""
    p = Params()
    rows = engine.query(
        f"""SELECT argMax(properties, version) FROM persons
        WHERE project_id = {p(project_id, "UInt32")} AND id = {p(pid, "UUID")}""",
        p.values,
    )
    value = orjson.loads(rows[0][0]) if rows and rows[0][0] else {}
    return value if isinstance(value, dict) else {}


def events(
    engine: Engine, project_id: int, pid: str, offset: int = 0, limit: int = MAX_EVENTS, earliest: bool = False
) -> list[dict[str, Any]]:
    """The user's events, newest first (oldest first when `earliest`), skipping `offset` of them."""
    p = Params()
    order = "ASC" if earliest else "DESC"
    rows = engine.query(
        f"""SELECT {LINE} FROM {source_sql(p, project_id, persons_of_sql(p, project_id, [pid]))}
        ORDER BY timestamp {order}, wal_pos {order}, uuid {order}
        LIMIT {p(limit, "UInt64")} OFFSET {p(offset, "UInt64")}
        SETTINGS output_format_json_escape_forward_slashes = 0""",
        p.values,
    )
    return [orjson.loads(row[0]) for row in rows]
