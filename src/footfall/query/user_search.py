"""Finding users by Amplitude ID, device ID, user ID, or user ID prefix, in that order of preference.

The first kind of match that finds anyone answers: an Amplitude ID, else users with that exact user ID
or device ID, else users whose user ID starts with the text. Each match is a merged person, described
by the latest values of their events.
"""

from __future__ import annotations

from dataclasses import dataclass

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.persons import amplitude_id
from footfall.query.sql import Params
from footfall.query.user_activity import USER_ID, persons_of_sql, resolve

MAX_MATCHES = 100


@dataclass
class Match:
    amplitude_id: int
    user_id: str | None
    last_device_id: str | None
    platform: str | None
    country: str | None
    last_seen: str  # local date, YYYY-MM-DD


def search(engine: Engine, project_id: int, timezone: str, text: str) -> tuple[str, list[Match]]:
    """(match type, matches); ("nomatch", []) when nothing matches."""
    if text.isdigit() and len(text) <= 19 and (user := resolve(engine, project_id, int(text))) is not None:
        found = _describe(engine, project_id, timezone, [user.pid])
        if found:  # a person without events is nobody to show
            return "match_amplitude_id", found
    p = Params()
    exact = f"device_id = {p(text)} OR ({USER_ID}) = {p(text)}"
    pids = _pids(engine, project_id, exact, p)
    if pids:
        return "match_user_or_device_id", _describe(engine, project_id, timezone, pids)
    p = Params()
    pids = _pids(engine, project_id, f"startsWith({USER_ID}, {p(text)})", p) if text else []
    if pids:
        return "match_user_prefix", _describe(engine, project_id, timezone, pids)
    return "nomatch", []


def _pids(engine: Engine, project_id: int, where: str, p: Params) -> list[str]:
    rows = engine.query(
        f"SELECT DISTINCT toString(pid) FROM {source_sql(p, project_id, where)} LIMIT {MAX_MATCHES}", p.values
    )
    return [row[0] for row in rows]


def _describe(engine: Engine, project_id: int, timezone: str, pids: list[str]) -> list[Match]:
    p = Params()
    rows = engine.query(
        f"""SELECT {amplitude_id("pid")}, argMaxIf({USER_ID}, timestamp, {USER_ID} != ''),
               argMaxIf(device_id, timestamp, device_id != ''), argMaxIf(platform, timestamp, platform != ''),
               argMaxIf(country, timestamp, country != ''), formatDateTime(max(timestamp), '%Y-%m-%d', {p(timezone)})
        FROM {source_sql(p, project_id, persons_of_sql(p, project_id, pids))}
        GROUP BY pid ORDER BY max(timestamp) DESC, pid""",
        p.values,
    )
    return [
        Match(int(a), user_id or None, device or None, platform or None, country or None, seen)
        for a, user_id, device, platform, country, seen in rows
    ]
