"""Event and property definitions, derived at ingestion (PostHog's event and property definitions).

Each flushed batch contributes its distinct event names, the property keys seen with each name, and the
property keys of the persons it changed. The distinct sets are built with C-level set updates (one per
event); a bounded memory of what is stored already reduces the writes to what is new (plus one
`last_seen_at` per event name of the batch), in the batch's own metadata transaction, so a replayed batch
writes the same rows again harmlessly. A key's type comes from its first value that has one, by PostHog's
rules (`property_type`); a key stored without one (its values so far null, lists or objects) is looked at again
when it arrives with a new event name or after a restart, not in every batch.

Events stored without the flusher (data ingested before definitions were kept; `footfall demo`, which
inserts into the engine directly) get theirs from `backfill`, one scan of the engine's events and persons.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import itertools
import time
import uuid
from collections.abc import Collection, Iterable
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from footfall.engine.base import Engine
from footfall.ingest.identity import PersonState
from footfall.meta.db import MetaDB
from footfall.meta.models import EventDefinition, EventProperty, IngestState, PropertyDefinition, utcnow
from footfall.query.sql import Params

EVENT, PERSON = 1, 2  # PropertyDefinition.kind, as PostHog numbers them
MAX_NAME = 400  # longer names and keys (Amplitude allows 1024) are not kept: PostHog's definitions stop at 400
CACHE_LIMIT = 200_000  # remembered keys; beyond it the memory starts over (rows are upserts, so nothing is lost)
BACKFILLED = "definitions_backfilled"

# A number whose key hints at a time and whose value is a recent Unix time is a DateTime (PostHog's rule).
_TIME_HINTS = ("time", "timestamp", "date", "_at", "-at", "createdat", "updatedat")
_RECENT_S = 15_768_000  # six months
_DATE_FORMATS = ("%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%m-%d-%Y", "%d-%m-%Y")


def _is_date(text: str) -> bool:
    """A date or date-time in a common format, and not a number (Unix times stay strings)."""
    try:
        float(text)
        return False
    except ValueError:
        pass
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            dt.datetime.strptime(text[:10], fmt)
            return True
        except ValueError:
            continue
    try:
        email.utils.parsedate_to_datetime(text)  # RFC 2822
        return True
    except (TypeError, ValueError, IndexError):
        return False


def property_type(key: str, value: Any, now_s: float) -> str | None:
    """String, Numeric, Boolean or DateTime, as PostHog infers a property's type from a value; None for null,
    lists and objects (the type stays open until a value that has one)."""
    lowered = key.lower()
    if lowered.startswith(("utm_", "$feature/", "$survey_response")) or lowered == "$feature_flag_response":
        return "String"  # these keys' first values often look like numbers or booleans, later ones do not
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        recent = value >= now_s - _RECENT_S
        return "DateTime" if recent and any(hint in lowered for hint in _TIME_HINTS) else "Numeric"
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "TRUE", "false", "FALSE"):
            return "Boolean"
        return "DateTime" if len(text) >= 10 and _is_date(text) else "String"
    return None


def _insert(session: Session, model: Any) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(model.__table__)


def _upsert_events(session: Session, rows: list[dict[str, Any]], touch: bool) -> None:
    """Event definitions; with `touch`, an existing one takes the row's `last_seen_at`."""
    if not rows:
        return
    stmt = _insert(session, EventDefinition)
    if touch:
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "name"], set_={"last_seen_at": stmt.excluded.last_seen_at}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "name"])
    session.execute(stmt, rows)


def _upsert_properties(session: Session, rows: list[dict[str, Any]]) -> None:
    """Property definitions; an existing one without a type takes the row's."""
    if not rows:
        return
    stmt = _insert(session, PropertyDefinition)
    table = PropertyDefinition.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "kind", "name"],
        set_={"property_type": func.coalesce(table.c.property_type, stmt.excluded.property_type)},
    )
    session.execute(stmt, rows)


def _add_event_properties(session: Session, pairs: Iterable[tuple[int, str, str]]) -> None:
    rows = [{"project_id": p, "event": e, "property": k} for p, e, k in pairs]
    if rows:
        session.execute(_insert(session, EventProperty).on_conflict_do_nothing(), rows)


def _event_row(project_id: int, name: str, first: dt.datetime, last: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "project_id": project_id,
        "name": name,
        "description": "",
        "tags": [],
        "created_at": first,
        "last_seen_at": last,
        "updated_at": first,
    }


def _property_row(project_id: int, kind: int, name: str, kind_type: str | None, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "project_id": project_id,
        "kind": kind,
        "name": name,
        "property_type": kind_type,
        "description": "",
        "tags": [],
        "created_at": now,
    }


class Definitions:
    """The flusher's side: `record` a batch inside its transaction, `commit` once that transaction committed."""

    def __init__(self) -> None:
        self._pairs: set[tuple[int, str, str]] = set()  # (project, event, key) stored in event_properties
        self._typed: dict[tuple[int, int, str], bool] = {}  # (project, kind, key) stored and examined → typed
        self._pending: tuple[set[tuple[int, str, str]], dict[tuple[int, int, str], bool]] = (set(), {})
        self._stale = False

    def forget(self) -> None:
        """Drop the memory of stored rows (after rows were deleted elsewhere); the flusher thread acts on it."""
        self._stale = True

    def record(
        self, session: Session, batches: list[tuple[int, dict[str, Any]]], persons: Collection[PersonState]
    ) -> None:
        """Write what this batch adds: its event names (seen now), new event/property pairs and new keys."""
        self._pending = (set(), {})
        if self._stale or len(self._pairs) + len(self._typed) > CACHE_LIMIT:
            self._pairs, self._typed, self._stale = set(), {}, False
        keys_by_event: dict[tuple[int, str], set[str]] = {}
        for _, batch in batches:
            project_id = batch["project_id"]
            for event in batch["events"]:
                found = keys_by_event.get((project_id, event["event"]))
                if found is None:
                    found = keys_by_event[(project_id, event["event"])] = set()
                found.update(event["properties"])
        keys_by_person: dict[int, set[str]] = {}
        for person in persons:
            keys_by_person.setdefault(person.project_id, set()).update(person.properties)
        if not keys_by_event and not keys_by_person:
            return
        now = utcnow()
        names = [(p, name) for p, name in keys_by_event if len(name) <= MAX_NAME]
        _upsert_events(session, [_event_row(p, name, now, now) for p, name in names], touch=True)
        pairs = {(p, name, key) for p, name in names for key in keys_by_event[(p, name)] if len(key) <= MAX_NAME}
        pairs -= self._pairs
        _add_event_properties(session, pairs)
        # Look for a typed value of keys not examined yet, and of untyped keys seen on a new event name (not on
        # every batch: a key whose values are objects, as `$set`, would cost a pass over each batch).
        seen = {(p, EVENT, key) for (p, _), keys in keys_by_event.items() for key in keys if len(key) <= MAX_NAME}
        seen.update((p, PERSON, key) for p, keys in keys_by_person.items() for key in keys if len(key) <= MAX_NAME)
        open_keys = {key for key in seen if key not in self._typed}
        open_keys.update(key for key in {(p, EVENT, key) for p, _, key in pairs} if not self._typed.get(key))
        types = _types(open_keys, batches, persons) if open_keys else {}
        _upsert_properties(session, [_property_row(*key, types.get(key), now) for key in open_keys])
        self._pending = (pairs, {key: key in types for key in open_keys})

    def commit(self) -> None:
        pairs, typed = self._pending
        self._pairs |= pairs
        self._typed.update(typed)
        self._pending = (set(), {})


def _types(
    wanted: set[tuple[int, int, str]], batches: list[tuple[int, dict[str, Any]]], persons: Iterable[PersonState]
) -> dict[tuple[int, int, str], str]:
    """The type of each wanted key's first value that has one (keys whose values are all null, lists or objects
    are left out)."""
    now_s = time.time()
    found: dict[tuple[int, int, str], str] = {}
    untyped: dict[tuple[int, int], set[str]] = {}
    for project_id, kind, key in wanted:
        untyped.setdefault((project_id, kind), set()).add(key)
    sources = itertools.chain(
        ((batch["project_id"], EVENT, event["properties"]) for _, batch in batches for event in batch["events"]),
        ((person.project_id, PERSON, person.properties) for person in persons),
    )
    for project_id, kind, props in sources:
        keys = untyped.get((project_id, kind))
        if not keys:
            continue
        for key in keys.intersection(props):
            kind_type = property_type(key, props[key], now_s)
            if kind_type is not None:
                found[(project_id, kind, key)] = kind_type
                keys.discard(key)
    return found


# JSON types whose values have a property type (null, arrays and objects have none).
_TYPED = "('String', 'Int64', 'UInt64', 'Double', 'Bool')"


def backfill(engine: Engine, session: Session, project_id: int | None = None) -> None:
    """Definitions of what the engine holds already: event names (first and last received), event property keys
    per event name, and current persons' property keys, each typed by a sample of its values."""
    p = Params()
    where = f"project_id = {p(project_id, 'UInt32')}" if project_id is not None else "1"
    short = p(MAX_NAME, "UInt32")
    now, now_s = utcnow(), time.time()
    names = engine.query(
        f"""SELECT project_id, event, toUnixTimestamp64Milli(min(received_at)), toUnixTimestamp64Milli(max(received_at))
        FROM events WHERE {where} AND lengthUTF8(event) <= {short} GROUP BY project_id, event""",
        p.values,
    )
    rows = [_event_row(pid, name, _moment(first), _moment(last)) for pid, name, first, last in names]
    _upsert_events(session, rows, touch=False)
    # Grouped by key set first: one parse per event, and the keys with a sample value come from a few rows per
    # distinct key set (5 times faster than carrying every value through the grouping).
    event_keys = engine.query(
        f"""SELECT project_id, event, key, JSONExtractRaw(anyIf(sample, JSONType(sample, key) IN {_TYPED}), key) FROM (
            SELECT project_id, event, JSONExtractKeys(properties) AS keys, any(properties) AS sample FROM events
            WHERE {where} AND lengthUTF8(event) <= {short} GROUP BY project_id, event, keys
        ) ARRAY JOIN keys AS key WHERE lengthUTF8(key) <= {short} GROUP BY project_id, event, key""",
        p.values,
    )
    _add_event_properties(session, {(pid, name, key) for pid, name, key, _ in event_keys})
    person_keys = engine.query(
        f"""SELECT project_id, kv.1 AS key, anyIf(kv.2, JSONType(kv.2) IN {_TYPED}) FROM (
            SELECT project_id, argMax(properties, version) AS properties FROM persons WHERE {where}
            GROUP BY project_id, id HAVING argMax(is_deleted, version) = 0
        ) ARRAY JOIN JSONExtractKeysAndValuesRaw(properties) AS kv WHERE lengthUTF8(key) <= {short}
        GROUP BY project_id, key""",
        p.values,
    )
    samples = {(pid, EVENT, key): raw for pid, _, key, raw in event_keys if raw} | {
        (pid, PERSON, key): raw for pid, key, raw in person_keys if raw
    }
    keys = {(pid, EVENT, key) for pid, _, key, _ in event_keys} | {(pid, PERSON, key) for pid, key, _ in person_keys}
    types = {key: property_type(key[2], orjson.loads(raw), now_s) for key, raw in samples.items()}
    _upsert_properties(session, [_property_row(*key, types.get(key), now) for key in keys])


def backfill_once(engine: Engine, meta: MetaDB) -> None:
    """Backfill every project's definitions the first time a data dir runs with definitions."""
    with meta.session() as session, session.begin():
        if session.scalar(select(IngestState.value).where(IngestState.key == BACKFILLED)):
            return
        backfill(engine, session)
        session.add(IngestState(key=BACKFILLED, value=1))


def _moment(ms: int | str) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC)
