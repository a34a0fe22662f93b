"""Hot event properties read from materialized columns: the values the JSON gives, in new and upgraded data dirs."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi.testclient import TestClient

from footfall.engine.schema import MATERIALIZED, apply_schema
from footfall.query.spec import DateRange, EventSelector, PropertyRef, Scope, Series, Source, TrendsQuery
from footfall.query.trends import run_trends
from footfall.runtime import Runtime
from tests.conftest import flush, new_project

# Every JSON type, and a missing key; `copy` is not a hot key, so it is read from the JSON.
VALUES: list[Any] = ["Chrome", "", 'é "q"', 3, 1.5, True, None, {"a": [1, 2]}, ["x"]]
SHOWN = {"Chrome", "", 'é "q"', "3", "1.5", "true", '{"a":[1,2]}', '["x"]'}


def _store(client: TestClient, runtime: Runtime) -> dict[str, Any]:
    project = new_project(runtime)
    batch = [
        {
            "event": "$pageview",
            "distinct_id": f"p{i}",
            "timestamp": "2021-05-01T10:00:00Z",
            "properties": {"$browser": value, "$current_url": value, "copy": value},
        }
        for i, value in enumerate(VALUES)
    ]
    batch.append({"event": "$pageview", "distinct_id": "bare", "timestamp": "2021-05-01T10:00:00Z"})
    assert client.post("/batch/", json={"api_key": project["api_key"], "batch": batch}).status_code == 200
    flush(runtime)
    return project


def _breakdown(runtime: Runtime, project: dict[str, Any], key: str) -> dict[str, float]:
    scope = Scope(project["id"], DateRange.days(dt.date(2021, 5, 1), dt.date(2021, 5, 1), "UTC"))
    query = TrendsQuery(scope, (Series(EventSelector("$pageview")),), (PropertyRef(Source.EVENT, key),))
    return {s.breakdown[0]: s.total for s in run_trends(runtime.engine, query).series}


def _columns_match_json(runtime: Runtime, project: dict[str, Any]) -> None:
    for key, (column, _) in MATERIALIZED.items():
        rows = runtime.engine.query(
            f"SELECT {column} = JSONExtract(properties, {{key:String}}, 'String') FROM events"
            " WHERE project_id = {project:UInt32}",
            {"key": key, "project": project["id"]},
        )
        assert rows and all(same for (same,) in rows), key


def test_hot_properties_equal_the_json(client: TestClient, runtime: Runtime) -> None:
    project = _store(client, runtime)
    _columns_match_json(runtime, project)
    hot, cold = _breakdown(runtime, project, "$browser"), _breakdown(runtime, project, "copy")
    assert hot == cold and set(hot) == SHOWN and hot[""] == 3  # "", null and unset all read as ""


def test_an_older_data_dir_gains_the_columns(client: TestClient, runtime: Runtime) -> None:
    project = _store(client, runtime)
    columns = [column for column, _ in MATERIALIZED.values()]
    runtime.engine.command(
        f"ALTER TABLE events {', '.join(f'DROP COLUMN {c}' for c in columns)} SETTINGS mutations_sync = 2"
    )
    apply_schema(runtime.engine)  # adds them, and computes them for the stored parts in the background
    _columns_match_json(runtime, project)
    deadline = time.monotonic() + 60
    while runtime.engine.scalar("SELECT count() FROM system.mutations WHERE table = 'events' AND NOT is_done"):
        assert time.monotonic() < deadline, "the columns were not materialized in time"
        time.sleep(0.1)
    unwritten = runtime.engine.scalar(
        "SELECT count() FROM system.parts AS p WHERE p.table = 'events' AND p.active AND p.database = currentDatabase()"
        " AND p.name NOT IN (SELECT part_name FROM system.parts_columns WHERE table = 'events' AND active"
        " AND database = currentDatabase() AND column = {column:String})",
        {"column": columns[0]},
    )
    assert unwritten == 0
    _columns_match_json(runtime, project)
