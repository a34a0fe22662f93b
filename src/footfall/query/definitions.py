"""A project's event types: which names exist (Amplitude answers 400 for an unknown one), their stable ids,
the week's totals behind Amplitude's events list, and the 30-day volumes PostHog's event definitions show.

Which names and property keys exist, with their types, is kept at ingestion (`footfall.ingest.definitions`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from footfall.engine import Engine
from footfall.query.filters import IDENTITY_EVENTS
from footfall.query.spec import EventSelector, Interval, QueryError
from footfall.query.sql import Params
from footfall.query.timerange import align

CACHE_SECONDS = 30.0

_cache: dict[tuple[int, int], tuple[float, frozenset[str]]] = {}
_lock = threading.Lock()


class UnknownEvent(QueryError):
    pass


def known_events(engine: Engine, project_id: int, fresh: bool = False) -> frozenset[str]:
    """Every event name the project has stored, cached briefly (the query reads only the primary key's
    first two columns, but selectors are checked on every request)."""
    key = (id(engine), project_id)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and not fresh and hit[0] > now:
        return hit[1]
    p = Params()
    rows = engine.query(f"SELECT DISTINCT event FROM events WHERE project_id = {p(project_id, 'UInt32')}", p.values)
    names = frozenset(row[0] for row in rows)
    with _lock:
        _cache[key] = (now + CACHE_SECONDS, names)
    return names


def check_known(engine: Engine, project_id: int, selectors: Iterable[EventSelector]) -> None:
    """Raise UnknownEvent for a selector naming an event the project has never stored ("any event" is
    always fine). A miss re-reads the names, so an event stored seconds ago is never refused."""
    wanted = {s.event for s in selectors if s.event is not None}
    if not wanted or wanted <= known_events(engine, project_id):
        return
    missing = sorted(wanted - known_events(engine, project_id, fresh=True))
    if missing:
        raise UnknownEvent(f"Unknown event type: {missing[0]}")


def event_type_id(project_id: int, name: str) -> int:
    """A stable numeric id for an event type of a project (48 bits: exact in JavaScript clients)."""
    digest = hashlib.blake2b(f"{project_id}\0{name}".encode(), digest_size=6).digest()
    return int.from_bytes(digest, "big")


@dataclass
class EventType:
    id: int
    name: str
    week_totals: int


def event_types(engine: Engine, project_id: int, timezone: str, now: dt.datetime | None = None) -> list[EventType]:
    """Every analytics event type (identity operations left out) with its count this week: from the start of
    the current local week (weeks start on Sunday) until now. Most frequent first, then by name."""
    local_now = (now or dt.datetime.now(dt.UTC)).astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)
    week_start = align(local_now, Interval.WEEK)
    names = known_events(engine, project_id, fresh=True) - set(IDENTITY_EVENTS)
    p = Params()
    rows = engine.query(
        f"""SELECT event, count() FROM events
        WHERE project_id = {p(project_id, "UInt32")}
          AND timestamp >= toDateTime64({p(week_start.strftime("%Y-%m-%d %H:%M:%S"))}, 3, {p(timezone)})
        GROUP BY event""",
        p.values,
    )
    totals = {name: int(n) for name, n in rows}
    types = [EventType(event_type_id(project_id, name), name, totals.get(name, 0)) for name in names]
    types.sort(key=lambda t: (-t.week_totals, t.name))
    return types


def event_volumes(engine: Engine, project_id: int, names: list[str], days: int = 30) -> dict[str, int]:
    """How many of each event the project stored with a timestamp in the last `days` days (PostHog's
    volume_30_day); reads only the primary key's leading columns and the day."""
    if not names:
        return {}
    p = Params()
    rows = engine.query(
        f"""SELECT event, count() FROM events
        WHERE project_id = {p(project_id, "UInt32")} AND has({p(names, "Array(String)")}, event)
          AND timestamp >= now64(3) - toIntervalDay({p(days, "UInt32")})
        GROUP BY event""",
        p.values,
    )
    return {name: int(n) for name, n in rows}
