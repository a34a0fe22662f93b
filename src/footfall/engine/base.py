"""The small engine interface every query and the flusher go through.

Values always travel as bound parameters (`{name:Type}` placeholders). `ch_literal` renders a Python
value in ClickHouse's text format for the parameter channel: it is the binding, not string pasting.
"""

from __future__ import annotations

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

Params = Mapping[str, Any]


class EngineError(RuntimeError):
    """A query the engine refused or failed to run."""


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _nested(value: Any) -> str:
    """A value inside an Array/Map/Tuple literal: strings are quoted there."""
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, uuid.UUID | dt.datetime | dt.date):
        return _quote(ch_literal(value))
    return ch_literal(value)


def ch_literal(value: Any) -> str:
    """Render a parameter value in ClickHouse's text format (top-level strings are unquoted)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_nested(k)}:{_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence | set | frozenset):
        if all(type(v) is int for v in value):  # e.g. the flusher's thousands of dedupe keys per query
            return "[" + ",".join(map(str, value)) + "]"
        return "[" + ",".join(_nested(v) for v in value) + "]"
    raise TypeError(f"cannot bind a {type(value).__name__} as a ClickHouse parameter")


class Engine(ABC):
    """What the rest of footfall needs from ClickHouse, embedded or remote."""

    @abstractmethod
    def query(self, sql: str, params: Params | None = None) -> list[list[Any]]:
        """Run a SELECT and return its rows as lists of JSON-typed values."""

    @abstractmethod
    def command(self, sql: str, params: Params | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, OPTIMIZE)."""

    @abstractmethod
    def insert_json(self, table: str, rows: bytes, dedup_token: str | None = None, fmt: str = "JSONEachRow") -> None:
        """Insert rows in a JSON format: JSONEachRow, or JSONCompactEachRowWithNames (a header row of column
        names, then arrays). A JSON object given for a String column is stored as its JSON text.
        A repeated `dedup_token` makes a replayed insert a no-op."""

    @abstractmethod
    def insert_arrow(self, table: str, data: pa.Table) -> None:
        """Bulk-insert an Arrow table whose columns are named like the table's: 16-byte binary for UUID
        (RFC 4122 byte order), timestamp[ms] for DateTime64, dictionary arrays (with distinct values) for
        LowCardinality or repetitive strings. For bulk loads that bypass the write-ahead log."""

    @abstractmethod
    def stream(self, sql: str, params: Params | None = None, fmt: str = "JSONEachRow") -> Iterator[bytes]:
        """Run a SELECT and yield its output in `fmt`, chunk by chunk, with flat memory."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        rows = self.query(sql, params)
        return rows[0][0] if rows else None


def open_engine(clickhouse_url: str, data_dir: Any) -> Engine:
    """The configured engine: a ClickHouse server when a URL is set, else chDB under data_dir."""
    if clickhouse_url:
        from footfall.engine.clickhouse import ClickHouseEngine

        return ClickHouseEngine(clickhouse_url)
    from footfall.engine.chdb import ChdbEngine

    return ChdbEngine(data_dir / "chdb")
