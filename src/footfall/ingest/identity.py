"""One person model for PostHog distinct_ids and Amplitude user_id/device_id.

Rules (PostHog's person processing, which Amplitude's device→user linking matches):
- an unseen distinct_id gets a person whose id is uuid5("<project>:<distinct_id>"), so a replayed log
  batch recreates exactly the same persons;
- `$identify` (PostHog), `$create_alias`, and an Amplitude event carrying both user_id and device_id join
  the two ids: an unseen id is added to the other's person; two different persons merge only when the
  one being merged in is still anonymous (two identified users are never merged);
- a merge moves the distinct_ids, keeps the target's properties (the source's fill the gaps), and records
  an override old→new that queries apply, so older events count for the merged person too.

State lives in the metadata database; this class keeps a bounded in-memory cache of it and computes a
batch's changes in memory, which the flusher persists in one transaction with the batch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from footfall.ingest.event import person_uuid
from footfall.meta.models import Group, Person, PersonDistinctId, PersonOverride

CACHE_LIMIT = 500_000


@dataclass
class PersonState:
    id: str
    project_id: int
    created_at: int  # ms
    properties: dict[str, Any]
    identified: bool
    _json: bytes | None = field(default=None, repr=False)

    def props_json(self) -> bytes:
        if self._json is None:
            self._json = orjson.dumps(self.properties)
        return self._json

    def touched(self) -> None:
        self._json = None


@dataclass
class Changes:
    """What one batch changed, to persist in the metadata store and mirror to the engine."""

    persons: dict[str, PersonState] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)  # person id -> project id
    distinct_ids: dict[tuple[int, str], str] = field(default_factory=dict)
    overrides: dict[tuple[int, str], str] = field(default_factory=dict)
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = field(default_factory=dict)  # ops, in order

    def __bool__(self) -> bool:
        return bool(self.persons or self.deleted or self.distinct_ids or self.overrides or self.groups)


def apply_amplitude_ops(props: dict[str, Any], ops: dict[str, Any]) -> bool:
    """Apply Amplitude user/group property operations (plain keys mean $set). True if props changed."""
    before = dict(props)
    if not any(key.startswith("$") for key in ops):
        ops = {"$set": ops}
    for op, values in ops.items():
        if op == "$clearAll":
            props.clear()
            continue
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            current = props.get(key)
            if op == "$set":
                props[key] = value
            elif op == "$setOnce":
                props.setdefault(key, value)
            elif op == "$unset":
                props.pop(key, None)
            elif op == "$add":
                if isinstance(value, int | float) and not isinstance(value, bool):
                    base = current if isinstance(current, int | float) and not isinstance(current, bool) else 0
                    props[key] = base + value
            elif op in ("$append", "$prepend", "$preInsert", "$postInsert", "$remove"):
                items = list(current) if isinstance(current, list) else ([] if current is None else [current])
                new = value if isinstance(value, list) else [value]
                if op == "$append":
                    items += new
                elif op == "$prepend":
                    items = new + items
                elif op == "$postInsert":
                    items += [v for v in new if v not in items]
                elif op == "$preInsert":
                    items = [v for v in new if v not in items] + items
                else:
                    items = [v for v in items if v not in new]
                props[key] = items
    return props != before


class Identity:
    def __init__(self) -> None:
        self._dids: dict[tuple[int, str], str] = {}
        self._persons: dict[str, PersonState] = {}

    def reset_cache(self) -> None:
        """Forget cached state (after a failed batch, whose changes were rolled back)."""
        self._dids.clear()
        self._persons.clear()

    # -- loading ------------------------------------------------------------------------------------
    def preload(self, session: Session, keys: Iterable[tuple[int, str]]) -> None:
        """Fetch the distinct_ids (and their persons) this batch needs that are not cached."""
        if len(self._dids) > CACHE_LIMIT or len(self._persons) > CACHE_LIMIT:
            self.reset_cache()
        missing: dict[int, set[str]] = {}
        for project_id, distinct_id in keys:
            if (project_id, distinct_id) not in self._dids and distinct_id:
                missing.setdefault(project_id, set()).add(distinct_id)
        person_ids: set[str] = set()
        for project_id, ids in missing.items():
            chunk = list(ids)
            for start in range(0, len(chunk), 500):
                rows = session.execute(
                    select(PersonDistinctId.distinct_id, PersonDistinctId.person_id).where(
                        PersonDistinctId.project_id == project_id,
                        PersonDistinctId.distinct_id.in_(chunk[start : start + 500]),
                    )
                )
                for distinct_id, person_id in rows:
                    self._dids[(project_id, distinct_id)] = person_id
                    person_ids.add(person_id)
        self._load_persons(session, person_ids - self._persons.keys())

    def _load_persons(self, session: Session, ids: set[str]) -> None:
        chunk = list(ids)
        for start in range(0, len(chunk), 500):
            for person in session.scalars(select(Person).where(Person.id.in_(chunk[start : start + 500]))):
                self._persons[person.id] = PersonState(
                    person.id,
                    person.project_id,
                    int(person.created_at.replace(tzinfo=dt.UTC).timestamp() * 1000),
                    dict(person.properties or {}),
                    person.is_identified,
                )

    # -- resolving ----------------------------------------------------------------------------------
    def lookup(self, project_id: int, distinct_id: str) -> PersonState | None:
        person_id = self._dids.get((project_id, distinct_id))
        return self._persons.get(person_id) if person_id else None

    def resolve(
        self, session: Session, project_id: int, event: dict[str, Any], changes: Changes | None
    ) -> tuple[str, bytes]:
        """The person (id, properties JSON at event time) of one event; with `changes`, apply its effects.

        Without `changes` (replaying a batch whose identity effects are already stored) it only looks up.
        """
        distinct_id = event["distinct_id"]
        if not event["person_profile"]:
            if changes is not None:  # group identifies are personless (Amplitude's /groupidentify)
                self._apply_groups(project_id, event, changes)
            known = self.lookup(project_id, distinct_id)
            return (known.id if known else person_uuid(project_id, distinct_id)), b"{}"
        if changes is None:
            known = self.lookup(project_id, distinct_id)
            if known is None:
                return person_uuid(project_id, distinct_id), b"{}"
            return known.id, known.props_json()

        other = event["anon_distinct_id"] or event["alias"]
        if event["user_id"] and event["device_id"] and event["device_id"] != distinct_id:
            other = event["device_id"]
        if other and other != distinct_id:
            person = self._join(session, project_id, distinct_id, other, event["timestamp"], changes)
        else:
            person = self._person_for(project_id, distinct_id, event["timestamp"], changes)
        # A user_id identifies; so do PostHog's $identify/$create_alias. Amplitude's $identify only updates
        # user properties (an anonymous device may send it), so it must not block a later merge.
        identifies = event["user_id"] or (
            event["source"] != "amplitude" and event["event"] in ("$identify", "$create_alias")
        )
        if identifies and not person.identified:
            person.identified = True
            changes.persons[person.id] = person
        if self._apply_properties(person, event):
            changes.persons[person.id] = person
        self._apply_groups(project_id, event, changes)
        return person.id, person.props_json()

    def _person_for(self, project_id: int, distinct_id: str, ts: int, changes: Changes) -> PersonState:
        person = self.lookup(project_id, distinct_id)
        if person is None:
            person = PersonState(person_uuid(project_id, distinct_id), project_id, ts, {}, False)
            self._persons[person.id] = person
            self._dids[(project_id, distinct_id)] = person.id
            changes.persons[person.id] = person
            changes.distinct_ids[(project_id, distinct_id)] = person.id
        return person

    def _join(
        self, session: Session, project_id: int, target_id: str, source_id: str, ts: int, changes: Changes
    ) -> PersonState:
        target = self.lookup(project_id, target_id)
        source = self.lookup(project_id, source_id)
        if target is None and source is None:
            person = self._person_for(project_id, target_id, ts, changes)
            self._dids[(project_id, source_id)] = person.id
            changes.distinct_ids[(project_id, source_id)] = person.id
            return person
        if target is None:
            assert source is not None
            if source.identified:  # that device/id already belongs to another user
                return self._person_for(project_id, target_id, ts, changes)
            self._dids[(project_id, target_id)] = source.id
            changes.distinct_ids[(project_id, target_id)] = source.id
            return source
        if source is None:
            self._dids[(project_id, source_id)] = target.id
            changes.distinct_ids[(project_id, source_id)] = target.id
            return target
        if source.id != target.id and not source.identified:
            self._merge(session, source, target, changes)
        return target

    def _merge(self, session: Session, source: PersonState, target: PersonState, changes: Changes) -> None:
        project_id = source.project_id
        stored = session.scalars(
            select(PersonDistinctId.distinct_id).where(
                PersonDistinctId.project_id == project_id, PersonDistinctId.person_id == source.id
            )
        )
        moving = set(stored) | {d for (p, d), pid in self._dids.items() if p == project_id and pid == source.id}
        for distinct_id in moving:
            if self._dids.get((project_id, distinct_id), source.id) == source.id:
                self._dids[(project_id, distinct_id)] = target.id
                changes.distinct_ids[(project_id, distinct_id)] = target.id
        for key, value in source.properties.items():
            target.properties.setdefault(key, value)
        target.created_at = min(target.created_at, source.created_at)
        target.touched()
        changes.persons[target.id] = target
        changes.persons.pop(source.id, None)
        changes.deleted[source.id] = project_id
        self._persons.pop(source.id, None)
        # Earlier merges into the source now point at the target, so one lookup resolves any event.
        redirected = session.scalars(
            select(PersonOverride.old_person_id).where(
                PersonOverride.project_id == project_id, PersonOverride.person_id == source.id
            )
        )
        for old in [*redirected, *(o for (p, o), n in changes.overrides.items() if p == project_id and n == source.id)]:
            changes.overrides[(project_id, old)] = target.id
        changes.overrides[(project_id, source.id)] = target.id

    @staticmethod
    def _apply_properties(person: PersonState, event: dict[str, Any]) -> bool:
        props = person.properties
        changed = False
        for key, value in event["set_once"].items():
            if key not in props:
                props[key] = value
                changed = True
        for key, value in event["set"].items():
            if props.get(key, _MISSING) != value:
                props[key] = value
                changed = True
        for key in event["unset"]:
            if key in props:
                del props[key]
                changed = True
        if event["user_properties"]:
            changed = apply_amplitude_ops(props, event["user_properties"]) or changed
        if changed:
            person.touched()
        return changed

    def _apply_groups(self, project_id: int, event: dict[str, Any], changes: Changes) -> None:
        update_ops = event["group_properties"]
        if event["event"] not in ("$groupidentify",) or not isinstance(update_ops, dict):
            return
        for group_type, group_key in event["groups"].items():
            key = (project_id, str(group_type), str(group_key))
            changes.groups.setdefault(key, []).append(update_ops)

    # -- persisting ---------------------------------------------------------------------------------
    def persist(self, session: Session, changes: Changes) -> None:
        def ts(ms: int) -> dt.datetime:
            return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)

        _upsert(
            session,
            Person,
            [
                {
                    "id": p.id,
                    "project_id": p.project_id,
                    "created_at": ts(p.created_at),
                    "properties": p.properties,
                    "is_identified": p.identified,
                    "version": 0,
                }
                for p in changes.persons.values()
            ],
            ["id"],
        )
        if changes.deleted:
            session.execute(delete(Person).where(Person.id.in_(list(changes.deleted))))
        _upsert(
            session,
            PersonDistinctId,
            [
                {"project_id": p, "distinct_id": d, "person_id": pid, "version": 0}
                for (p, d), pid in changes.distinct_ids.items()
            ],
            ["project_id", "distinct_id"],
        )
        _upsert(
            session,
            PersonOverride,
            [
                {"project_id": p, "old_person_id": o, "person_id": n, "version": 0}
                for (p, o), n in changes.overrides.items()
            ],
            ["project_id", "old_person_id"],
        )
        for (project_id, group_type, group_key), ops in changes.groups.items():
            group = session.get(Group, (project_id, group_type, group_key))
            if group is None:
                group = Group(project_id=project_id, group_type=group_type, group_key=group_key, properties={})
                session.add(group)
            props = dict(group.properties or {})
            for update in ops:  # applied to the stored properties, so $add/$unset/$append see them
                apply_amplitude_ops(props, update)
            group.properties = props

    @staticmethod
    def mirror_rows(changes: Changes, version: int) -> dict[str, bytes]:
        """JSONEachRow rows for the engine's person tables (newest version wins there)."""
        persons = [
            orjson.dumps(
                {
                    "project_id": p.project_id,
                    "id": p.id,
                    "created_at": p.created_at / 1000,
                    "properties": p.props_json().decode(),
                    "is_identified": int(p.identified),
                    "is_deleted": 0,
                    "version": version,
                }
            )
            for p in changes.persons.values()
        ]
        persons += [
            orjson.dumps(
                {
                    "project_id": project_id,
                    "id": pid,
                    "created_at": 0,
                    "properties": "{}",
                    "is_identified": 0,
                    "is_deleted": 1,
                    "version": version,
                }
            )
            for pid, project_id in changes.deleted.items()
        ]
        dids = [
            orjson.dumps({"project_id": p, "distinct_id": d, "person_id": pid, "is_deleted": 0, "version": version})
            for (p, d), pid in changes.distinct_ids.items()
        ]
        overrides = [
            orjson.dumps({"project_id": p, "old_person_id": o, "person_id": n, "version": version})
            for (p, o), n in changes.overrides.items()
        ]
        return {
            table: b"\n".join(rows) + b"\n"
            for table, rows in (("persons", persons), ("person_distinct_ids", dids), ("person_overrides", overrides))
            if rows
        }


_MISSING = object()


def _upsert(session: Session, model: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(model.__table__)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in rows[0] if c not in keys})
    # One cached statement with many parameter sets (executemany): a multi-row VALUES is compiled afresh
    # for every batch, and compiling cost more than the writes.
    session.execute(stmt, rows)
