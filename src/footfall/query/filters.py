"""Property references and filter operators compiled to SQL. Keys and values are always bound."""

from __future__ import annotations

import re

from footfall.engine.schema import MATERIALIZED, json_value_sql
from footfall.ingest.event import DEVICE_FIELDS
from footfall.query.spec import (
    EventSelector,
    FilterGroup,
    Op,
    Performed,
    PropertyFilter,
    PropertyRef,
    QueryError,
    Source,
)
from footfall.query.sql import Params, and_all

# First-class events columns a filter or breakdown may name (a fixed list: never a user string in SQL).
COLUMNS = frozenset(
    {"event", "distinct_id", "user_id", "device_id", "session", "insert_id", *DEVICE_FIELDS, "ip", "library", "source"}
)

# Events that record identity operations, not user behaviour: "any event" leaves them out.
IDENTITY_EVENTS = ("$identify", "$groupidentify", "$create_alias", "$set")


# What an event earned (see `footfall.query.revenue`): $price × $quantity, else $revenue, else NULL.
REVENUE_SQL = (
    "if(JSONHas(properties, '$price'), "
    "JSONExtractFloat(properties, '$price') * if(JSONHas(properties, '$quantity'), "
    "JSONExtractFloat(properties, '$quantity'), 1), "
    "if(JSONHas(properties, '$revenue'), JSONExtractFloat(properties, '$revenue'), NULL))"
)
# Source.REVENUE keys. Amplitude splits revenue by whether an app store verified the purchase's receipt;
# footfall asks no store, so none of it is verified (as in an Amplitude project that verifies no receipts).
REVENUE_AMOUNTS = {"amount": REVENUE_SQL, "verified": "CAST(NULL, 'Nullable(Float64)')", "unverified": REVENUE_SQL}


class FilterError(QueryError):
    """A filter the caller got wrong (unknown column, a non-number for a numeric operator, a bad regex)."""


def _json_column(ref: PropertyRef) -> str:
    return "properties" if ref.source is Source.EVENT else "person_properties"


def value_sql(ref: PropertyRef, p: Params) -> str:
    """The property as a string ('' when unset); JSON numbers and booleans as written ('3', 'true').
    Hot event properties read their materialized column (the same value, computed at insert)."""
    if ref.source is Source.COLUMN:
        if ref.key not in COLUMNS:
            raise FilterError(f"unknown property: {ref.key}")
        return f"toString({ref.key})"
    if ref.source is Source.REVENUE:
        return f"ifNull(toString({_revenue_sql(ref)}), '')"
    if ref.source is Source.EVENT and ref.key in MATERIALIZED:
        return MATERIALIZED[ref.key][0]
    return json_value_sql(_json_column(ref), p(ref.key))


def _revenue_sql(ref: PropertyRef) -> str:
    amount = REVENUE_AMOUNTS.get(ref.key)
    if amount is None:
        raise FilterError(f"unknown revenue amount: {ref.key}")
    return amount


def is_set_sql(ref: PropertyRef, p: Params) -> str:
    if ref.source is Source.COLUMN:
        return f"{value_sql(ref, p)} != ''"
    if ref.source is Source.REVENUE:
        return f"({_revenue_sql(ref)}) IS NOT NULL"
    col, key = _json_column(ref), p(ref.key)
    return f"JSONType({col}, {key}) NOT IN ('Null', 'None')"


def nullable_value_sql(ref: PropertyRef, p: Params) -> str:
    """The property as `value_sql` gives it, or NULL when unset (to show as null, and to sort last)."""
    return f"if({is_set_sql(ref, p)}, {value_sql(ref, p)}, NULL)"


def _number(values: tuple[str, ...]) -> float:
    try:
        return float(values[0])
    except (IndexError, ValueError) as exc:
        raise FilterError(f"a number is needed, got {list(values)[:1]}") from exc


def _regex(values: tuple[str, ...]) -> str:
    pattern = values[0] if values else ""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FilterError(f"invalid regular expression: {exc}") from exc
    return pattern


def filter_sql(f: PropertyFilter | Performed, p: Params) -> str:
    if isinstance(f, Performed):
        from footfall.query.cohorts import performed_sql  # imported here: cohorts compile with this module

        return performed_sql(f, p)
    op, ref = f.op, f.prop
    if ref.source is Source.COHORT or op in (Op.IN_COHORT, Op.NOT_IN_COHORT):
        from footfall.query.cohorts import cohort_filter_sql

        return cohort_filter_sql(f, p)
    if op is Op.IS_SET:
        return is_set_sql(ref, p)
    if op is Op.IS_NOT_SET:
        return f"NOT ({is_set_sql(ref, p)})"
    value = value_sql(ref, p)
    values = p(list(f.values), "Array(String)")
    if op is Op.EQ:
        return f"has({values}, {value})"
    if op is Op.NEQ:
        return f"NOT has({values}, {value})"
    if op in (Op.CONTAINS, Op.NOT_CONTAINS):
        match = f"multiSearchAnyCaseInsensitiveUTF8({value}, {values})" if f.values else "0"
        return match if op is Op.CONTAINS else f"NOT ({match})"
    if op in (Op.REGEX, Op.NOT_REGEX):
        match = f"match({value}, {p(_regex(f.values))})"
        return match if op is Op.REGEX else f"NOT ({match})"
    if op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
        sign = {Op.GT: ">", Op.GTE: ">=", Op.LT: "<", Op.LTE: "<="}[op]
        return f"toFloat64OrNull({value}) {sign} {p(_number(f.values), 'Float64')}"
    if op in (Op.DATE_BEFORE, Op.DATE_AFTER):
        sign = "<" if op is Op.DATE_BEFORE else ">"
        bound = f"parseDateTime64BestEffortOrNull({p(f.values[0] if f.values else '')}, 3, 'UTC')"
        return f"parseDateTime64BestEffortOrNull({value}, 3, 'UTC') {sign} {bound}"
    if op in (Op.SET_CONTAINS, Op.SET_NOT_CONTAINS):
        if ref.source in (Source.COLUMN, Source.REVENUE):
            raise FilterError("set operators apply to array properties")
        col, key = _json_column(ref), p(ref.key)
        match = f"hasAny(JSONExtract({col}, {key}, 'Array(String)'), {values})"
        return match if op is Op.SET_CONTAINS else f"NOT ({match})"
    raise FilterError(f"unsupported operator: {op}")


def filters_sql(filters: tuple[PropertyFilter | FilterGroup, ...], p: Params) -> str:
    return and_all([group_sql(f, p) if isinstance(f, FilterGroup) else filter_sql(f, p) for f in filters])


def group_sql(group: FilterGroup, p: Params) -> str:
    if not group.any_of:
        return filters_sql(group.items, p)
    parts = [group_sql(f, p) if isinstance(f, FilterGroup) else filter_sql(f, p) for f in group.items]
    return " OR ".join(f"({part})" for part in parts) if parts else "1"


def selector_sql(selector: EventSelector, p: Params) -> str:
    """An event name (any analytics event, or any of a custom event's selectors) and its own filters."""
    if selector.any_of:
        name = " OR ".join(f"({selector_sql(alternative, p)})" for alternative in selector.any_of)
    elif selector.event is not None:
        name = f"event = {p(selector.event)}"
    else:
        name = f"event NOT IN {p(list(IDENTITY_EVENTS), 'Array(String)')}"
    return and_all([name, filters_sql(selector.filters, p)])
