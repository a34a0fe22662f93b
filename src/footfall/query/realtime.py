"""Realtime active users: distinct users per 5 minutes over the last day, and over the day before it.

The window is the 288 whole five-minute slots before the current (unfinished) one, so its first slot
has the current time of day, as Amplitude's realtime chart starts "from the current time"; "yesterday"
is the same slots 24 hours earlier. Slots are labelled by their local start time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import selector_sql
from footfall.query.spec import EventSelector
from footfall.query.sql import Params, and_all

SLOT_SECONDS = 300
SLOTS = 288  # a day


@dataclass
class Realtime:
    labels: list[str]  # local "HH:MM" of each slot
    today: list[int]
    yesterday: list[int]


def run_realtime(engine: Engine, project_id: int, timezone: str, now: dt.datetime | None = None) -> Realtime:
    now_s = int((now or dt.datetime.now(dt.UTC)).timestamp())
    end = now_s - now_s % SLOT_SECONDS  # start of the current slot: the window ends there
    first = end - SLOTS * SLOT_SECONDS
    earliest = first - SLOTS * SLOT_SECONDS
    p = Params()
    where = and_all(
        [
            f"timestamp >= fromUnixTimestamp64Milli({p(earliest * 1000, 'Int64')})",
            f"timestamp < fromUnixTimestamp64Milli({p(end * 1000, 'Int64')})",
            selector_sql(EventSelector(None), p),
        ]
    )
    rows = engine.query(
        f"""SELECT intDiv(toUnixTimestamp(timestamp) - {p(earliest, "Int64")}, {SLOT_SECONDS}) AS slot,
                   uniqExact(pid)
        FROM {source_sql(p, project_id, where)} GROUP BY slot""",
        p.values,
    )
    counts = [0] * (2 * SLOTS)
    for slot, users in rows:
        counts[int(slot)] = int(users)
    zone = zoneinfo.ZoneInfo(timezone)
    labels = [dt.datetime.fromtimestamp(first + i * SLOT_SECONDS, zone).strftime("%H:%M") for i in range(SLOTS)]
    return Realtime(labels, counts[SLOTS:], counts[:SLOTS])
