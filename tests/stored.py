"""Read what a stopped server stored, from a fresh process.

End-to-end tests run `footfall serve` in its own process and then need to look at its data dir. chDB
allows one database path per process, and the test process may already hold one (the session `runtime`
fixture of the in-process tests, which stays open until the session ends). So the inspection runs in a
short-lived `python -c` subprocess that opens the data dir through `Runtime` (taking the data-dir lock, so
it fails loudly if the server still runs), runs the queries with bound parameters and prints the rows as
JSON. This keeps the tests independent of test order and of pytest-xdist, at the cost of ~1 s per call,
so each test gathers all its queries into one call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

_SCRIPT = """
import json, sys
from pathlib import Path
from sqlalchemy import text
from footfall.config import Settings
from footfall.runtime import Runtime

def run(rt, where, sql, params):
    if where == "engine":
        return rt.engine.query(sql, params)
    with rt.meta.session() as session:
        return [list(row) for row in session.execute(text(sql), params)]

queries = json.load(sys.stdin)
rt = Runtime(Settings(data_dir=Path(sys.argv[1])))
try:
    out = [run(rt, *query) for query in queries]
finally:
    rt.close()
json.dump(out, sys.stdout, default=str)
"""


def meta(sql: str, params: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """A query for the metadata database (SQLAlchemy text with :name parameters)."""
    return ("meta", sql, params or {})


def engine(sql: str, params: dict[str, Any] | None = None) -> tuple[str, str, dict[str, Any]]:
    """A query for the event engine (ClickHouse SQL with {name:Type} parameters)."""
    return ("engine", sql, params or {})


def query_stored(data_dir: Path, *queries: tuple[str, str, dict[str, Any]]) -> list[list[list[Any]]]:
    """Run each `engine(...)`/`meta(...)` query on the data dir; the server using it must be stopped."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(data_dir)],
        input=json.dumps(list(queries)),
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"inspecting {data_dir} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)
