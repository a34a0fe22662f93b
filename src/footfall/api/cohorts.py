"""Cohorts for both APIs: create them, change static members, compute dynamic ones.

Each change goes to the metadata store and to the engine's `cohort_members` in one step (the engine
write happens before the metadata commit, so a failed write leaves nothing half done). Dynamic cohorts
are definitions in PostHog's form, `{"properties": {"type": "AND"|"OR", "values": [...]}}`, translated here
into rules (person properties and cohorts through `footfall.api.posthog.translate`, behavioral filters into
`Performed`; `negation` inverts a rule) and computed by `footfall.query.cohorts`; they are recomputed when
created or changed, and by `refresh` when older than a given age. A rule that cannot be computed exactly is
refused (a 400), never approximated.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.api.posthog import translate
from footfall.engine.base import Engine
from footfall.meta import cohorts as rows
from footfall.meta.db import MetaDB
from footfall.meta.models import Cohort, utcnow
from footfall.query import cohorts as membership
from footfall.query.spec import EventSelector, FilterGroup, Op, Performed, PropertyFilter, QueryError

STALE_AFTER = dt.timedelta(minutes=15)
log = logging.getLogger("footfall.cohorts")
Rule = PropertyFilter | FilterGroup | Performed
# A rule's negation, where one operator says exactly that (`x > 5` is NULL, not false, for a missing x, and so
# is `NOT x > 5`: SQL's three-valued logic makes these exact inverses too).
NEGATIONS = {
    Op.EQ: Op.NEQ,
    Op.CONTAINS: Op.NOT_CONTAINS,
    Op.REGEX: Op.NOT_REGEX,
    Op.IS_SET: Op.IS_NOT_SET,
    Op.SET_CONTAINS: Op.SET_NOT_CONTAINS,
    Op.IN_COHORT: Op.NOT_IN_COHORT,
    Op.GT: Op.LTE,
    Op.GTE: Op.LT,
}
NEGATIONS |= {negated: op for op, negated in NEGATIONS.items()}
BEHAVIORS = ("performed_event", "performed_event_multiple", "performed_event_first_time")
COUNT_OPERATORS = {"gte": Op.GTE, "gt": Op.GT, "lte": Op.LTE, "lt": Op.LT, "exact": Op.EQ, "eq": Op.EQ}
_RELATIVE = re.compile(r"^-(\d+)([hdwmy])$")
_UNITS = {"h": "hour", "d": "day", "w": "week", "m": "month", "y": "year"}


class CohortError(QueryError):
    """A cohort definition or change the caller got wrong (a 400)."""


def rules(definition: Any, project_id: int, now: dt.datetime | None = None) -> tuple[Rule, ...]:
    """A dynamic cohort's rules from `{"properties": {"type": "AND"|"OR", "values": [...]}}` (or a list, ANDed)."""
    if not isinstance(definition, dict) or not definition.get("properties"):
        raise CohortError("a dynamic cohort needs a definition {'properties': {'type': 'AND'|'OR', 'values': [...]}}")
    raw = definition["properties"]
    try:
        found = tuple(_rule(item, project_id, now or utcnow()) for item in (raw if isinstance(raw, list) else [raw]))
        membership.check_rules(found)
    except QueryError as exc:
        raise CohortError(str(exc)) from exc
    return found


def is_behavioral(definition: Any) -> bool:
    """Whether a definition has a behavioral filter (PostHog's cohort_type "behavioral")."""
    if isinstance(definition, dict):
        return definition.get("type") == "behavioral" or any(is_behavioral(v) for v in definition.values())
    return isinstance(definition, list) and any(is_behavioral(v) for v in definition)


def _rule(raw: Any, project_id: int, now: dt.datetime) -> Rule:
    if not isinstance(raw, dict):
        raise CohortError("a cohort filter must be an object")
    if raw.get("type") in ("AND", "OR"):
        values = raw.get("values")
        if not isinstance(values, list):
            raise CohortError("a filter group needs a list of values")
        return FilterGroup(raw["type"] == "OR", tuple(_rule(item, project_id, now) for item in values))
    if raw.get("type") == "behavioral":
        return _behavior(raw, project_id, now)
    found = translate.property_filter(raw)
    if not isinstance(found, PropertyFilter) or not raw.get("negation"):
        return found
    negated = NEGATIONS.get(found.op)
    if negated is None:
        raise CohortError(f"a negated {raw.get('operator')} filter cannot be computed exactly; use its opposite")
    return dataclasses.replace(found, op=negated)


def _behavior(raw: dict[str, Any], project_id: int, now: dt.datetime) -> Performed:
    """PostHog's performed_event (in a time window), performed_event_multiple (a count in the window) and
    performed_event_first_time; the other behaviors (sequences, regularly, stopped, restarted) are refused."""
    kind = raw.get("value")
    if kind not in BEHAVIORS:
        raise CohortError(f"behavioral filters of kind {kind} are not supported (only {', '.join(BEHAVIORS)})")
    if raw.get("event_type", "events") != "events":
        raise CohortError("behavioral filters on actions are not supported: name the event")
    event = raw.get("key")
    if not isinstance(event, str) or not event:
        raise CohortError("a behavioral filter needs the event name as key")
    op, count = Op.GTE, 1
    if kind == "performed_event_multiple":
        operator = raw.get("operator", "gte")
        if not isinstance(operator, str) or operator not in COUNT_OPERATORS:
            raise CohortError(f"unsupported count operator: {operator} (gte, gt, lte, lt or exact)")
        op, count = COUNT_OPERATORS[operator], _whole(raw.get("operator_value"), "operator_value")
    selector = EventSelector(event, translate.properties(raw.get("event_filters")))
    since = _since(raw, now)
    return Performed(
        project_id, selector, since, op, count, kind == "performed_event_first_time", bool(raw.get("negation"))
    )


def _since(raw: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """The start of a behavioral filter's window: `explicit_datetime` (ISO, or relative like -30d), else
    `time_value` `time_interval`s before now; None for all time."""
    explicit = raw.get("explicit_datetime")
    if isinstance(explicit, str) and explicit:
        match = _RELATIVE.match(explicit)
        if match:
            return _before(now, int(match.group(1)), _UNITS[match.group(2)])
        try:
            moment = dt.datetime.fromisoformat(explicit.replace("Z", "+00:00"))
        except ValueError as exc:
            raise CohortError(f"explicit_datetime must be an ISO date or like -30d, not {explicit!r}") from exc
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if raw.get("time_value") is None:
        return None
    unit = raw.get("time_interval") or "day"
    if unit not in _UNITS.values():
        raise CohortError(f"time_interval must be one of {', '.join(_UNITS.values())}, not {unit}")
    return _before(now, _whole(raw["time_value"], "time_value"), unit)


def _before(now: dt.datetime, n: int, unit: str) -> dt.datetime:
    """`n` units before `now`, as ClickHouse's now() - INTERVAL does (a month back keeps the day, clamped)."""
    if unit in ("hour", "day", "week"):
        try:
            return now - dt.timedelta(**{f"{unit}s": n})
        except OverflowError as exc:
            raise CohortError("the time window reaches before year 1") from exc
    months = now.year * 12 + now.month - 1 - n * (12 if unit == "year" else 1)
    year, month = divmod(months, 12)
    if year < 1:
        raise CohortError("the time window reaches before year 1")
    return now.replace(year=year, month=month + 1, day=min(now.day, calendar.monthrange(year, month + 1)[1]))


def _whole(raw: Any, name: str) -> int:
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw < 2**31:
        raise CohortError(f"{name} must be a whole number")
    return raw


def check_references(session: Session, project_id: int, definition: Any, own_id: int | None = None) -> None:
    """The cohorts a definition refers to are the project's, and none leads back to `own_id` (a loop has no
    members to compute)."""
    pending, seen = _referenced(definition), set()
    while pending:
        ref = pending.pop()
        if ref == own_id:
            raise CohortError("a cohort cannot refer to itself, directly or through other cohorts")
        if ref in seen:
            continue
        seen.add(ref)
        found = rows.get_cohort(session, project_id, ref, include_deleted=True)
        if found is None:
            raise CohortError(f"cohort {ref} is not a cohort of this project")
        pending |= _referenced(found.definition)


def _referenced(definition: Any) -> set[int]:
    """The ids of the cohorts a definition's cohort filters name."""
    if isinstance(definition, list):
        return set().union(*(_referenced(item) for item in definition))
    if not isinstance(definition, dict):
        return set()
    if definition.get("type") == "cohort":
        values = definition.get("value")
        ids = [rows.parse_id(v) for v in (values if isinstance(values, list) else [values])]
        if None in ids:
            raise CohortError(f"cohort filters name cohorts by id, not {values!r}")
        return {i for i in ids if i is not None}
    return set().union(*(_referenced(v) for v in definition.values()))


def create_static(
    session: Session, engine: Engine, project_id: int, name: str, person_ids: Iterable[str], **fields: Any
) -> Cohort:
    cohort = Cohort(project_id=project_id, name=name, is_static=True, definition={}, **fields)
    session.add(cohort)
    session.flush()
    change_members(session, engine, cohort, add=person_ids)
    return cohort


def create_dynamic(
    session: Session, engine: Engine, project_id: int, name: str, definition: dict[str, Any], **fields: Any
) -> Cohort:
    found = rules(definition, project_id)
    check_references(session, project_id, definition)
    cohort = Cohort(project_id=project_id, name=name, is_static=False, definition=definition, **fields)
    session.add(cohort)
    session.flush()
    _compute(engine, cohort, found)
    return cohort


def redefine(session: Session, engine: Engine, cohort: Cohort, definition: dict[str, Any]) -> None:
    """A dynamic cohort's new definition, computed at once."""
    found = rules(definition, cohort.project_id)
    check_references(session, cohort.project_id, definition, cohort.id)
    cohort.definition = definition
    _compute(engine, cohort, found)
    session.flush()


def change_members(
    session: Session,
    engine: Engine,
    cohort: Cohort,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    replace: bool = False,
) -> tuple[set[str], set[str]]:
    """Add and remove persons of a static cohort (`replace`: the added become all the members).

    Returns (added, removed): the persons whose membership actually changed.
    """
    if not cohort.is_static:
        raise CohortError("only static cohorts have members added or removed")
    add = set(add)
    remove = set(remove) - add
    if replace:
        remove |= rows.static_members(session, cohort) - add
    removed = rows.remove_members(session, cohort, remove)
    added = rows.add_members(session, cohort, add)
    membership.write_members(engine, cohort.project_id, cohort.id, sorted(removed), removed=True)
    membership.write_members(engine, cohort.project_id, cohort.id, sorted(added), removed=False)
    cohort.count = membership.size(engine, cohort.project_id, cohort.id)
    cohort.last_computed = utcnow()
    session.flush()
    return added, removed


def recompute(session: Session, engine: Engine, cohort: Cohort) -> int:
    """Compute a dynamic cohort now (a static one just has its size counted); the size."""
    if cohort.is_static:
        cohort.count = membership.size(engine, cohort.project_id, cohort.id)
        cohort.last_computed = utcnow()
    else:
        _compute(engine, cohort, rules(cohort.definition, cohort.project_id))
    session.flush()
    return cohort.count or 0


def refresh(session: Session, engine: Engine, cohorts: Iterable[Cohort], max_age: dt.timedelta = STALE_AFTER) -> None:
    """Recompute the dynamic cohorts computed longer than `max_age` ago (or never)."""
    now = utcnow()
    for cohort in cohorts:
        if _stale(cohort, now, max_age):
            recompute(session, engine, cohort)


def _stale(cohort: Cohort, now: dt.datetime, max_age: dt.timedelta) -> bool:
    last = cohort.last_computed
    if last is not None and last.tzinfo is None:  # SQLite returns naive UTC
        last = last.replace(tzinfo=dt.UTC)
    return not cohort.is_static and (last is None or now - last > max_age)


class Refresher:
    """Recomputes stale dynamic cohorts in a background thread of the server, so a cohort used in a query
    takes in the persons who have come to match it (a property set, an event done) without a manual refresh.

    Every `max_age` (kept within 0.1 to 60 s) it reads the dynamic cohorts (one small metadata query) and
    recomputes those computed longer than `max_age` ago, each in its own transaction: one bad definition stops
    no other.
    """

    def __init__(self, meta: MetaDB, engine: Engine, max_age: dt.timedelta) -> None:
        self.meta, self.engine, self.max_age = meta, engine, max_age
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cohort-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(min(max(self.max_age.total_seconds(), 0.1), 60.0)):
            try:
                self.refresh_stale()
            except Exception:  # the metadata store was unavailable: the next round tries again
                log.exception("cohort refresh failed")

    def refresh_stale(self) -> int:
        """Recompute every project's stale dynamic cohorts now; how many were recomputed."""
        now = utcnow()
        with self.meta.session() as session:
            dynamic = session.scalars(select(Cohort).where(Cohort.is_static.is_(False), Cohort.deleted.is_(False)))
            stale = [cohort.id for cohort in dynamic if _stale(cohort, now, self.max_age)]
        done = 0
        for cohort_id in stale:
            try:
                with self.meta.session() as session, session.begin():
                    cohort = session.get(Cohort, cohort_id)
                    if cohort is not None and not cohort.deleted:
                        recompute(session, self.engine, cohort)
                        done += 1
            except Exception:  # keep refreshing the others; this one is tried again next time
                log.exception("cohort refresh failed", extra={"cohort_id": cohort_id})
        return done


def _compute(engine: Engine, cohort: Cohort, found: tuple[Rule, ...]) -> None:
    cohort.count = membership.compute(engine, cohort.project_id, cohort.id, found)
    cohort.last_computed = utcnow()
