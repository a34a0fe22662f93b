"""The HogQL footfall accepts in EventsQuery and ActorsQuery `select`, `orderBy` and `where`.

Not a HogQL parser: a fixed list of forms, each recognised whole, so no caller text reaches SQL. Columns:
`*`, `event`, `timestamp`, `distinct_id`, `uuid`, `person_id`, `person`, `person_display_name`, `count()`,
`properties.<key>`, `person.properties.<key>` (keys as `.$key`, `['any key']` or `` .`any key` ``) and, for
actors, `id`, `actor`, `actor_id`, `created_at`, `event_count`, `appearances`, `matched_recordings`,
`person.$delete`. A label after `--` (`person_display_name -- Person`) names the column only. Sorting: a
column then ASC or DESC; several in one string separated by commas. Conditions: a column (`event`,
`distinct_id` or a property) compared with `=`, `!=`, `<`, `<=`, `>`, `>=` to a 'string' or a number, or
`IS NULL` / `IS NOT NULL`. Anything else is a 400 naming the expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from footfall.api.posthog.errors import invalid
from footfall.query.spec import Op, PropertyFilter, PropertyRef, Source


@dataclass(frozen=True)
class Expr:
    name: str  # the column, e.g. "event", "count()", "properties", "person.properties"
    key: str = ""  # the property key of "properties" and "person.properties"


PROPERTY_NAMES = ("properties", "person.properties")
_PROPERTY = re.compile(r"(person\.properties|properties)(?:\.([A-Za-z_$][\w$]*)|\[\s*'([^']*)'\s*\]|\.`([^`]*)`)")
_SORT = re.compile(r"(.+?)(?:\s+(ASC|DESC))?", re.IGNORECASE)
_ITEM = re.compile(r"(?:'[^']*'|`[^`]*`|[^,])+")
_LITERAL = r"'[^']*'|-?\d+(?:\.\d+)?"
_COMPARISON = re.compile(rf"(.+?)\s*(=|==|!=|<=|>=|<|>)\s*({_LITERAL})|(.+?)\s+(IS(?:\s+NOT)?)\s+NULL", re.IGNORECASE)
_OPS = {"=": Op.EQ, "==": Op.EQ, "!=": Op.NEQ, "<": Op.LT, "<=": Op.LTE, ">": Op.GT, ">=": Op.GTE}
_COMPARABLE = {"event", "distinct_id", *PROPERTY_NAMES}


def expr(text: object, allowed: frozenset[str], attr: str) -> Expr:
    """One column of `allowed` names."""
    if not isinstance(text, str):
        raise invalid(f"{attr} items must be strings", attr)
    source = text.split("--")[0].strip()
    if match := _PROPERTY.fullmatch(source):
        found = Expr(match.group(1), next(g for g in match.groups()[1:] if g is not None))
    else:
        found = Expr(source)
    if found.name not in allowed:
        raise invalid(f"unsupported expression in {attr}: {text!r} (supported: {', '.join(sorted(allowed))})", attr)
    return found


def sorts(items: object, allowed: frozenset[str]) -> list[tuple[Expr, bool]]:
    """`orderBy`: (column, descending) pairs."""
    if not isinstance(items, list):
        raise invalid("orderBy must be a list of strings", "orderBy")
    out = []
    for item in items:
        if not isinstance(item, str):
            raise invalid("orderBy items must be strings", "orderBy")
        for part in _ITEM.findall(item):
            match = _SORT.fullmatch(part.strip())
            if match is None:
                raise invalid(f"unsupported orderBy: {item!r}", "orderBy")
            out.append((expr(match.group(1), allowed, "orderBy"), (match.group(2) or "").upper() == "DESC"))
    return out


def condition(text: object) -> PropertyFilter:
    """One `where` condition, as the property filter it means."""
    match = _COMPARISON.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise invalid(f"unsupported where: {text!r} (a column compared with a literal)", "where")
    left, op, literal, null_left, null_op = match.groups()
    column = expr(left or null_left, frozenset(_COMPARABLE), "where")
    if column.name in PROPERTY_NAMES:
        ref = PropertyRef(Source.EVENT if column.name == "properties" else Source.PERSON, column.key)
    else:
        ref = PropertyRef(Source.COLUMN, column.name)
    if null_op:
        return PropertyFilter(ref, Op.IS_SET if "NOT" in null_op.upper() else Op.IS_NOT_SET)
    value = literal[1:-1] if literal.startswith("'") else literal
    return PropertyFilter(ref, _OPS[op], (value,))
