"""Cohorts inside queries: membership lives in the engine's `cohort_members`, so a query names only ids.

A static cohort's members are written when they change; a dynamic cohort's members are computed into
the same table from its person-property rules, compiled by `footfall.query.filters` (PostHog and Amplitude
both precompute cohorts; `last_computed` says when). Any API's cohort filter, a
`PropertyFilter(PropertyRef(Source.COHORT, ...), Op.IN_COHORT, ("12", ...))`, then compiles here to one
membership test, the same for every query kind.

Members are stored as the person ids they had when added. A later merge is followed at query time, so
the merged person is a member and all its events count, those before the merge included (DESIGN rule 4).
Tenancy: the test compares (project_id, person_id) pairs, so another project's cohort id matches nothing.
"""

from __future__ import annotations

import itertools
import operator
import threading
import time
from collections.abc import Iterable, Iterator

import orjson

from footfall.engine.base import Engine
from footfall.query.events import source_sql
from footfall.query.filters import FilterError, filters_sql, selector_sql, value_sql
from footfall.query.persons import ZERO_UUID, amplitude_id
from footfall.query.spec import FilterGroup, Op, Performed, PropertyFilter, PropertyRef, Source
from footfall.query.sql import Params, and_all

INSERT_BATCH = 50_000
_version_lock = threading.Lock()
_last_version = 0


def next_version() -> int:
    """A version newer than any written before by this process (nanoseconds, strictly increasing)."""
    global _last_version
    with _version_lock:
        _last_version = max(time.time_ns(), _last_version + 1)
        return _last_version


def cohort_ids(values: Iterable[str]) -> list[int]:
    try:
        ids = [int(v) for v in values]
    except ValueError as exc:
        raise FilterError(f"cohort ids are whole numbers, got {list(values)[:3]}") from exc
    if not ids or any(i < 0 for i in ids):
        raise FilterError("a cohort filter needs cohort ids")
    return ids


def _overrides(projects: str) -> str:
    """Current merges (old person → survivor) of the projects selected by `projects` (a SQL set)."""
    return f"""(
        SELECT project_id, old_person_id, argMax(person_id, version) AS person_id FROM person_overrides
        WHERE project_id IN ({projects}) GROUP BY project_id, old_person_id
    )"""


def members_sql(ids: str) -> str:
    """(project_id, person_id) of the current members of the cohorts `ids` (a bound array), merges followed."""
    projects = f"SELECT project_id FROM cohort_members WHERE has({ids}, cohort_id)"
    return f"""
        SELECT m.project_id AS project_id,
               if(o.person_id = toUUID('{ZERO_UUID}'), m.person_id, o.person_id) AS person_id
        FROM (
            SELECT project_id, person_id FROM cohort_members WHERE has({ids}, cohort_id)
            GROUP BY project_id, cohort_id, person_id HAVING argMax(is_deleted, version) = 0
        ) AS m
        LEFT ANY JOIN {_overrides(projects)} AS o
        ON m.project_id = o.project_id AND m.person_id = o.old_person_id"""


def cohort_filter_sql(f: PropertyFilter, p: Params) -> str:
    """In any of (NOT_IN_COHORT: in none of) the cohorts, as a condition on rows with `project_id` and
    `person_id` (raw events, or persons): the members, and the persons merged into a member."""
    if f.op not in (Op.IN_COHORT, Op.NOT_IN_COHORT):
        raise FilterError(f"cohort filters take in / not in, not {f.op}")
    ids = p(cohort_ids(f.values), "Array(UInt64)")
    members = members_sql(ids)
    projects = f"SELECT project_id FROM cohort_members WHERE has({ids}, cohort_id)"
    test = f"""(project_id, person_id) IN (
        SELECT project_id, person_id FROM ({members})
        UNION ALL
        SELECT project_id, old_person_id FROM {_overrides(projects)}
        WHERE (project_id, person_id) IN (SELECT project_id, person_id FROM ({members}))
    )"""
    return test if f.op is Op.IN_COHORT else f"NOT ({test})"


def in_cohort(cohort_id: int) -> PropertyFilter:
    return PropertyFilter(PropertyRef(Source.COHORT, "id"), Op.IN_COHORT, (str(cohort_id),))


# --- dynamic cohorts ---------------------------------------------------------------------------------


def check_rules(rules: tuple[PropertyFilter | FilterGroup | Performed, ...]) -> None:
    """Dynamic cohorts are defined on persons: person properties, other cohorts, and what they did."""
    for rule in rules:
        if isinstance(rule, FilterGroup):
            check_rules(rule.items)
        elif isinstance(rule, PropertyFilter) and rule.prop.source not in (Source.PERSON, Source.COHORT):
            raise FilterError(f"a cohort is defined by person properties, not {rule.prop.source} properties")


_COUNTS = {
    Op.GTE: (">=", operator.ge),
    Op.GT: (">", operator.gt),
    Op.LTE: ("<=", operator.le),
    Op.LT: ("<", operator.lt),
    Op.EQ: ("=", operator.eq),
}


def performed_sql(f: Performed, p: Params) -> str:
    """The rule as a condition on current persons (rows with `person_id`, as `compute` reads them); their
    events count, those of persons merged into them included."""
    if f.count_op not in _COUNTS or f.count < 0:
        raise FilterError(f"a behavioral count takes gte, gt, lte, lt or exact and a count >= 0, not {f.count_op}")
    sign, holds = _COUNTS[f.count_op]
    since = p(f.since, "DateTime64(3, 'UTC')") if f.since is not None else None
    where = selector_sql(f.selector, p)
    if f.first_time:
        if since is None:
            raise FilterError("a first-time behavioral filter needs a time window")
        having = f"min(timestamp) >= {since}"
    else:
        where = and_all([where, f"timestamp >= {since}"]) if since is not None else where
        having = f"count() {sign} {p(f.count, 'UInt64')}"
    persons = f"SELECT pid FROM {source_sql(p, f.project_id, where)} GROUP BY pid HAVING"
    # Persons without such events did it 0 times: when 0 satisfies the count, select them by exclusion.
    if not f.first_time and holds(0, f.count):
        test = f"person_id NOT IN ({persons} NOT ({having}))"
    else:
        test = f"person_id IN ({persons} {having})"
    return f"NOT ({test})" if f.negated else test


def _persons(project: str) -> str:
    """The project's current persons as rows with project_id, person_id and person_properties."""
    return f"""(
        SELECT project_id, id AS person_id, argMax(properties, version) AS person_properties
        FROM persons WHERE project_id = {project}
        GROUP BY project_id, id HAVING argMax(is_deleted, version) = 0
    )"""


def compute(
    engine: Engine, project_id: int, cohort_id: int, rules: tuple[PropertyFilter | FilterGroup | Performed, ...]
) -> int:
    """Write the persons matching `rules` now as the cohort's members (and remove the others); the count."""
    check_rules(rules)
    p = Params()
    project, cohort = p(project_id, "UInt32"), p(cohort_id, "UInt64")
    version = p(next_version(), "UInt64")
    matching = f"SELECT person_id FROM {_persons(project)} WHERE {filters_sql(rules, p)}"
    current = f"""SELECT person_id FROM cohort_members WHERE project_id = {project} AND cohort_id = {cohort}
        GROUP BY person_id HAVING argMax(is_deleted, version) = 0"""
    engine.command(
        f"""INSERT INTO cohort_members (project_id, cohort_id, person_id, is_deleted, version)
        SELECT {project}, {cohort}, person_id, 0, {version} FROM ({matching})
        UNION ALL
        SELECT {project}, {cohort}, person_id, 1, {version} FROM ({current}) WHERE person_id NOT IN ({matching})""",
        p.values,
    )
    return size(engine, project_id, cohort_id)


# --- static cohorts ----------------------------------------------------------------------------------


def write_members(engine: Engine, project_id: int, cohort_id: int, person_ids: Iterable[str], removed: bool) -> None:
    """Add (or with `removed`, remove) persons of a static cohort, in batches."""
    version = next_version()
    rows = (
        orjson.dumps(
            {
                "project_id": project_id,
                "cohort_id": cohort_id,
                "person_id": person_id,
                "is_deleted": int(removed),
                "version": version,
            }
        )
        for person_id in person_ids
    )
    while batch := list(itertools.islice(rows, INSERT_BATCH)):
        engine.insert_json("cohort_members", b"\n".join(batch))


def persons_by_amplitude_id(engine: Engine, project_id: int, ids: list[int]) -> dict[int, str]:
    """amplitude_id → the person it counts as now (a merged-away person's id leads to the survivor)."""
    if not ids:
        return {}
    p = Params()
    project, wanted = p(project_id, "UInt32"), p(ids, "Array(UInt64)")
    rows = engine.query(
        f"""SELECT amp, toString(person) FROM (
            SELECT {amplitude_id("person_id")} AS amp, person_id AS person FROM {_persons(project)}
            UNION ALL
            SELECT {amplitude_id("old_person_id")} AS amp, person_id AS person FROM {_overrides(project)}
        ) WHERE has({wanted}, amp)""",
        p.values,
    )
    return {int(amp): person for amp, person in rows}


def persons_by_distinct_id(engine: Engine, project_id: int, ids: list[str]) -> dict[str, str]:
    """distinct_id (an Amplitude user_id, a PostHog distinct_id) → the person it counts as now."""
    if not ids:
        return {}
    p = Params()
    project, wanted = p(project_id, "UInt32"), p(ids, "Array(String)")
    rows = engine.query(
        f"""SELECT d.distinct_id, toString(if(o.person_id = toUUID('{ZERO_UUID}'), d.person_id, o.person_id))
        FROM (
            SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
            WHERE project_id = {project} AND has({wanted}, distinct_id)
            GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0
        ) AS d
        LEFT ANY JOIN {_overrides(project)} AS o ON d.person_id = o.old_person_id""",
        p.values,
    )
    return dict(rows)


# --- reading members ---------------------------------------------------------------------------------


def size(engine: Engine, project_id: int, cohort_id: int) -> int:
    """Persons in the cohort now (two members merged into one person count once)."""
    p = Params()
    ids, project = p([cohort_id], "Array(UInt64)"), p(project_id, "UInt32")
    return int(
        engine.scalar(f"SELECT uniqExact(person_id) FROM ({members_sql(ids)}) WHERE project_id = {project}", p.values)
        or 0
    )


def property_keys(engine: Engine, project_id: int, cohort_id: int) -> list[str]:
    """Every person-property key the cohort's members have (for a download of all properties)."""
    p = Params()
    ids, project = p([cohort_id], "Array(UInt64)"), p(project_id, "UInt32")
    rows = engine.query(
        f"""SELECT DISTINCT arrayJoin(JSONExtractKeys(person_properties)) AS key FROM {_persons(project)}
        WHERE (project_id, person_id) IN (SELECT project_id, person_id FROM ({members_sql(ids)}))
        ORDER BY key""",
        p.values,
    )
    return [row[0] for row in rows]


def members_csv(engine: Engine, project_id: int, cohort_id: int, keys: list[str]) -> Iterator[bytes]:
    """CSV rows (no header) of the members: amplitude_id, user_id, then each person property of `keys`.

    user_id is the person's latest non-empty events user_id; properties are the person's current ones.
    """
    p = Params()
    ids, project = p([cohort_id], "Array(UInt64)"), p(project_id, "UInt32")
    props = "".join(f", {value_sql(PropertyRef(Source.PERSON, key), p)}" for key in keys)
    in_cohort_events = cohort_filter_sql(in_cohort(cohort_id), p)
    sql = f"""
        SELECT {amplitude_id("m.person_id")} AS amp, u.user_id{props}
        FROM (SELECT DISTINCT person_id FROM ({members_sql(ids)}) WHERE project_id = {project}) AS m
        LEFT ANY JOIN (SELECT person_id AS id, person_properties FROM {_persons(project)}) AS pp ON pp.id = m.person_id
        LEFT ANY JOIN (
            SELECT pid, argMaxIf(user_id, timestamp, user_id != '') AS user_id
            FROM {source_sql(p, project_id, in_cohort_events)} GROUP BY pid
        ) AS u ON u.pid = m.person_id
        ORDER BY amp"""
    return engine.stream(sql, p.values, fmt="CSV")


def persons_by_id(engine: Engine, project_id: int, ids: list[str]) -> dict[str, str]:
    """Person id (a merged-away one too) → the person it counts as now; ids of no person of the project are left
    out."""
    if not ids:
        return {}
    p = Params()
    project, wanted = p(project_id, "UInt32"), p(ids, "Array(String)")
    rows = engine.query(
        f"""SELECT toString(person_id), toString(person_id) FROM {_persons(project)}
        WHERE has({wanted}, toString(person_id))
        UNION ALL
        SELECT toString(old_person_id), toString(person_id) FROM {_overrides(project)}
        WHERE has({wanted}, toString(old_person_id))""",
        p.values,
    )
    return dict(rows)
