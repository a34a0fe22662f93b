"""chDB, the in-process ClickHouse: one database path per process, one connection per thread."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chdb
import numpy as np
import orjson
import pyarrow as pa

from footfall.engine.base import Engine, EngineError, Params, ch_literal

_SESSION = (
    "SET output_format_json_quote_64bit_integers = 0",
    "SET output_format_json_quote_denormals = 0",
    "SET session_timezone = 'UTC'",
)


class ChdbEngine(Engine):
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = str(path.resolve())
        self._local = threading.local()
        self._all: list[tuple[threading.Thread, Any]] = []
        self._lock = threading.Lock()

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = chdb.connect(self.path)
            for statement in _SESSION:
                conn.query(statement)
            self._local.conn = conn
            with self._lock:
                # Worker threads come and go (request and tile pools): close the connections of ended ones,
                # which nothing can use any more, rather than keep each one open for the process's life.
                for thread, other in self._all:
                    if not thread.is_alive():
                        with contextlib.suppress(Exception):
                            other.close()
                self._all = [entry for entry in self._all if entry[0].is_alive()]
                self._all.append((threading.current_thread(), conn))
        return conn

    def _run(self, sql: str, fmt: str, params: Params | None) -> Any:
        bound = {k: ch_literal(v) for k, v in params.items()} if params else None
        try:
            return self._conn().query(sql, fmt, params=bound) if bound else self._conn().query(sql, fmt)
        except Exception as exc:  # chdb raises RuntimeError or its own ChdbError
            raise EngineError(str(exc)) from exc

    def query(self, sql: str, params: Params | None = None) -> list[list[Any]]:
        result = self._run(sql, "JSONCompact", params)
        raw = result.bytes()
        return orjson.loads(raw)["data"] if raw else []

    def command(self, sql: str, params: Params | None = None) -> None:
        self._run(sql, "CSV", params)

    def insert_json(self, table: str, rows: bytes, dedup_token: str | None = None, fmt: str = "JSONEachRow") -> None:
        settings = " SETTINGS input_format_json_read_objects_as_strings = 1"
        if dedup_token:
            settings += f", insert_deduplication_token = '{dedup_token}'"
        if dedup_token and not dedup_token.replace("-", "").replace("_", "").isalnum():
            raise ValueError("dedup tokens are made of digits, letters, '_' and '-'")
        if not fmt.isalnum():
            raise ValueError(f"not a format name: {fmt!r}")
        try:
            with self._conn().send_insert(f"INSERT INTO {table}{settings}", fmt) as ins:
                ins.append(rows)
                ins.finish()
        except Exception as exc:
            raise EngineError(str(exc)) from exc

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        # The Python() table function reads the Arrow table in place: about half the CPU of serialising
        # it to ArrowStream and parsing that. It names the variable, `data` here.
        if data.num_rows == 0:
            return
        data = _native_uuids(data)
        columns = ", ".join(_identifier(name) for name in data.schema.names)
        try:
            self._conn().query(f"INSERT INTO {_identifier(table)} ({columns}) SELECT {columns} FROM Python(data)")
        except Exception as exc:
            raise EngineError(str(exc)) from exc

    def stream(self, sql: str, params: Params | None = None, fmt: str = "JSONEachRow") -> Iterator[bytes]:
        # chDB materialises a result in memory; callers keep each query to a bounded slice
        # (an hour of events, a page of rows) so memory stays flat over a whole export.
        result = self._run(sql, fmt, params)
        data = result.bytes()
        for start in range(0, len(data), 1 << 20):
            yield data[start : start + (1 << 20)]

    def close(self) -> None:
        with self._lock:
            for _, conn in self._all:
                with contextlib.suppress(Exception):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


def _identifier(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain identifier: {name!r}")
    return f"`{name}`"


def _native_uuids(data: pa.Table) -> pa.Table:
    """Python() reads 16-byte binary as ClickHouse's in-memory UUID, whose two 8-byte halves are
    little-endian; swap them so that binary UUIDs in standard (RFC 4122) byte order land as they read."""
    for index, field in enumerate(data.schema):
        if field.type == pa.binary(16):
            column = data.column(index).combine_chunks()
            raw = np.frombuffer(column.buffers()[1], np.uint8, len(column) * 16, column.offset * 16)
            swapped = np.ascontiguousarray(raw.reshape(-1, 2, 8)[:, :, ::-1])
            array = pa.FixedSizeBinaryArray.from_buffers(
                field.type, len(column), [column.buffers()[0], pa.py_buffer(swapped)], offset=0
            )
            data = data.set_column(index, field, array)
    return data
