"""Amplitude Dashboard REST parameters (`e`, `s`, `g`, `start`, `end`, `i`, …) translated into query specs.

Every problem raises `BadRequest`, answered as Amplitude does: 400 with `HTTP 400: Bad Request (<reason>)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson

from footfall.query.spec import DateRange, EventSelector, Interval, Op, PropertyFilter, PropertyRef, Source


class BadRequest(ValueError):
    """A parameter Amplitude would refuse; the message is the reason shown to the caller."""


# Amplitude's built-in user properties: most are per-event columns, a few live on the person.
BUILTIN_USER_PROPERTIES = {
    "version": PropertyRef(Source.COLUMN, "app_version"),
    "country": PropertyRef(Source.COLUMN, "country"),
    "city": PropertyRef(Source.COLUMN, "city"),
    "region": PropertyRef(Source.COLUMN, "region"),
    "DMA": PropertyRef(Source.COLUMN, "dma"),
    "dma": PropertyRef(Source.COLUMN, "dma"),
    "language": PropertyRef(Source.COLUMN, "language"),
    "platform": PropertyRef(Source.COLUMN, "platform"),
    "os": PropertyRef(Source.COLUMN, "os_name"),
    "device": PropertyRef(Source.COLUMN, "device_model"),
    "device_type": PropertyRef(Source.COLUMN, "device_type"),
    "carrier": PropertyRef(Source.COLUMN, "carrier"),
    "library": PropertyRef(Source.COLUMN, "library"),
    "user_id": PropertyRef(Source.COLUMN, "user_id"),
    "device_id": PropertyRef(Source.COLUMN, "device_id"),
    "start_version": PropertyRef(Source.PERSON, "start_version"),
    "paying": PropertyRef(Source.PERSON, "paying"),
}

OPERATORS = {
    "is": Op.EQ,
    "is not": Op.NEQ,
    "contains": Op.CONTAINS,
    "does not contain": Op.NOT_CONTAINS,
    "less": Op.LT,
    "less or equal": Op.LTE,
    "greater": Op.GT,
    "greater or equal": Op.GTE,
    "set is": Op.SET_CONTAINS,
    "set is not": Op.SET_NOT_CONTAINS,
}

# `i` → interval and the longest range Amplitude allows for it, in days.
INTERVALS = {
    "-300000": (Interval.MINUTE5, 2),
    "-3600000": (Interval.HOUR, 7),
    "1": (Interval.DAY, 365),
    "7": (Interval.WEEK, 365 * 2),
    "30": (Interval.MONTH, 365 * 3),
}

# Pseudo events selecting any analytics event (footfall has no inactive events, so both are the same).
ANY_EVENTS = frozenset({"_all", "_active"})
# Amplitude's revenue pseudo events: the events that earned revenue (`footfall.query.filters.REVENUE_AMOUNTS`).
REVENUE_EVENTS = {"revenue_amount": "amount", "verified_revenue": "verified", "unverified_revenue": "unverified"}
MAX_CUSTOM_EVENT_PARTS = 50

# A project's custom events: a name (without `ce:`) → its stored definition, or None when there is none.
CustomEvents = Callable[[str], Any]


def no_custom_events(name: str) -> None:
    return None


def json_param(raw: str | None, name: str) -> Any:
    if raw is None or raw == "":
        raise BadRequest(f"Missing required parameter: {name}")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Invalid JSON in parameter {name}") from exc


def user_property(name: Any) -> PropertyRef:
    if not isinstance(name, str) or not name:
        raise BadRequest("A property name must be a non-empty string")
    if name.startswith("gp:"):
        return PropertyRef(Source.PERSON, name[3:])
    return BUILTIN_USER_PROPERTIES.get(name) or PropertyRef(Source.PERSON, name)


def property_ref(kind: Any, name: Any) -> PropertyRef:
    if kind == "event":
        if not isinstance(name, str) or not name:
            raise BadRequest("A property name must be a non-empty string")
        return PropertyRef(Source.EVENT, name)
    if kind in ("user", None):
        return user_property(name)
    raise BadRequest(f"Unknown property type: {kind}")


def _values(raw: Any) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for item in items:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str | int | float):
            out.append(str(item))
        else:
            raise BadRequest("Filter values must be strings or numbers")
    return tuple(out)


def _operator(raw: Any) -> Op:
    op = OPERATORS.get(raw) if isinstance(raw, str) else None
    if op is None:
        raise BadRequest(f"Unknown filter operator: {raw}")
    return op


def event_filter(raw: Any) -> PropertyFilter:
    if not isinstance(raw, dict):
        raise BadRequest("Each filter must be an object")
    prop = property_ref(raw.get("subprop_type", "event"), raw.get("subprop_key"))
    return PropertyFilter(prop, _operator(raw.get("subprop_op")), _values(raw.get("subprop_value", [])))


def event(
    raw: str | None, name: str = "e", custom: CustomEvents = no_custom_events
) -> tuple[EventSelector, tuple[PropertyRef, ...]]:
    """An `e` parameter: the selector and its `group_by` properties."""
    return event_of(json_param(raw, name), name, custom)


def event_of(
    value: Any, name: str = "e", custom: CustomEvents = no_custom_events
) -> tuple[EventSelector, tuple[PropertyRef, ...]]:
    if not isinstance(value, dict):
        raise BadRequest(f"Parameter {name} must be an event object")
    event_type = value.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        raise BadRequest(f"Parameter {name} needs an event_type")
    filters = value.get("filters") or []
    groups = value.get("group_by") or []
    if not isinstance(filters, list) or not isinstance(groups, list):
        raise BadRequest(f"filters and group_by of {name} must be lists")
    if len(groups) > 2:
        raise BadRequest("At most two group-by properties")
    group_refs = []
    for group in groups:
        if not isinstance(group, dict):
            raise BadRequest("Each group_by must be an object")
        group_refs.append(property_ref(group.get("type", "event"), group.get("value")))
    own = tuple(event_filter(f) for f in filters)
    if event_type in REVENUE_EVENTS:
        earned = PropertyFilter(PropertyRef(Source.REVENUE, REVENUE_EVENTS[event_type]), Op.IS_SET)
        return EventSelector(None, (earned, *own)), tuple(group_refs)
    if event_type.startswith("ce:"):
        definition = custom(event_type[3:])
        if definition is None:
            raise BadRequest(f"Unknown custom event: {event_type}")
        return EventSelector(None, own, custom_event_parts(definition)), tuple(group_refs)
    return EventSelector(None if event_type in ANY_EVENTS else event_type, own), tuple(group_refs)


def custom_event_parts(definition: Any) -> tuple[EventSelector, ...]:
    """A custom event's definition, a list of event objects (`event_type` and `filters`, no `group_by`), as
    the selectors it matches any of. It cannot name another custom event."""
    if not isinstance(definition, list) or not 1 <= len(definition) <= MAX_CUSTOM_EVENT_PARTS:
        raise BadRequest(f"A custom event is a list of 1 to {MAX_CUSTOM_EVENT_PARTS} events")
    parts = []
    for item in definition:
        if isinstance(item, dict) and str(item.get("event_type", "")).startswith("ce:"):
            raise BadRequest("A custom event cannot include another custom event")
        selector, groups = event_of(item, "a custom event's event")
        if groups:
            raise BadRequest("A custom event's events have no group_by")
        parts.append(selector)
    return tuple(parts)


def measured_property(selector: EventSelector) -> PropertyRef | None:
    """What property metrics (sums, value_avg, histogram) of a revenue pseudo event measure without a
    group_by: the revenue amount its selector requires."""
    first = selector.filters[0] if selector.filters else None
    return first.prop if isinstance(first, PropertyFilter) and first.prop.source is Source.REVENUE else None


def segments(raw: str | None) -> tuple[PropertyFilter, ...]:
    """`s`: conditions on users (ANDed)."""
    if raw is None or raw == "":
        return ()
    value = json_param(raw, "s")
    if not isinstance(value, list):
        raise BadRequest("Parameter s must be a list of conditions")
    out = []
    for cond in value:
        if not isinstance(cond, dict):
            raise BadRequest("Each segment condition must be an object")
        if cond.get("prop") == "userdata_cohort":
            out.append(cohort_segment(cond))
            continue
        out.append(
            PropertyFilter(user_property(cond.get("prop")), _operator(cond.get("op")), _values(cond.get("values", [])))
        )
    return tuple(out)


def cohort_segment(cond: dict[str, Any]) -> PropertyFilter:
    """`{"prop": "userdata_cohort", "op": "is" | "is not", "values": [cohort ids]}`: in any (none) of them."""
    raw_op = cond.get("op")
    op = {"is": Op.IN_COHORT, "is not": Op.NOT_IN_COHORT}.get(raw_op) if isinstance(raw_op, str) else None
    if op is None:
        raise BadRequest("A cohort segment's operator is 'is' or 'is not'")
    values = _values(cond.get("values", []))
    if not values or not all(v.isascii() and v.isdigit() for v in values):
        raise BadRequest("A cohort segment's values are cohort ids")
    return PropertyFilter(PropertyRef(Source.COHORT, "userdata_cohort"), op, values)


def group_by(raw: str | None) -> PropertyRef | None:
    """`g`: a bare property name, or leniently the JSON form `{"type": ..., "value": ...}` some clients send."""
    if not raw:
        return None
    if raw.startswith("{"):
        value = json_param(raw, "g")
        if not isinstance(value, dict):
            raise BadRequest("Parameter g must be a property name")
        return property_ref(value.get("type", "user"), value.get("value"))
    return user_property(raw)


def day(raw: str | None, name: str) -> dt.datetime:
    """YYYYMMDD (or YYYYMMDDTHH for hourly charts) as a local datetime."""
    if not raw:
        raise BadRequest(f"Missing required parameter: {name}")
    for fmt in ("%Y%m%d", "%Y%m%dT%H"):
        try:
            return dt.datetime.strptime(raw, fmt)
        except ValueError:
            continue
    raise BadRequest(f"Invalid date for {name}: expected YYYYMMDD")


def interval(raw: str | None, default: str = "1") -> tuple[Interval, int]:
    found = INTERVALS.get(raw or default)
    if found is None:
        raise BadRequest(f"Invalid interval: {raw}")
    return found


def date_range(start: str | None, end: str | None, timezone: str, max_days: int) -> DateRange:
    first, last = day(start, "start"), day(end, "end")
    if last < first:
        raise BadRequest("End date is before start date")
    # Whole days unless an hour was given: the end day (or hour) is included.
    end_exclusive = last + (dt.timedelta(hours=1) if end and "T" in end else dt.timedelta(days=1))
    if (end_exclusive - first) > dt.timedelta(days=max_days):
        raise BadRequest(f"Time range exceeds maximum of {max_days} days")
    return DateRange(first, end_exclusive, timezone)


def whole_number(raw: str | None, name: str, default: int, maximum: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc
    if not 1 <= value <= maximum:
        raise BadRequest(f"{name} must be between 1 and {maximum}")
    return value


def limit(raw: str | None, default: int = 100, maximum: int = 1000) -> int:
    return whole_number(raw, "limit", default, maximum)
