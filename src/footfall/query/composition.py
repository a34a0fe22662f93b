"""Composition: how the users active in a window divide over the values of one user property.

Each user counts once, under the value on their latest analytics event in the window (a user whose
property changed counts where they ended up); '' means the property was unset there.
"""

from __future__ import annotations

from footfall.engine import Engine
from footfall.query.events import source_sql
from footfall.query.filters import filters_sql, selector_sql, value_sql
from footfall.query.spec import EventSelector, PropertyRef, Scope
from footfall.query.sql import Params, and_all
from footfall.query.timerange import window_sql


def run_composition(engine: Engine, scope: Scope, prop: PropertyRef) -> list[tuple[str, int]]:
    """(value, users) pairs, most users first, then by value."""
    p = Params()
    where = and_all([window_sql(scope, p), selector_sql(EventSelector(None), p), filters_sql(scope.filters, p)])
    rows = engine.query(
        f"""SELECT v, count() AS users FROM (
            SELECT pid, argMax({value_sql(prop, p)}, timestamp) AS v
            FROM {source_sql(p, scope.project_id, where)} GROUP BY pid)
        GROUP BY v ORDER BY users DESC, v""",
        p.values,
    )
    return [(value, int(users)) for value, users in rows]
