"""A ClickHouse server over HTTP, for the scale-out setup. Same SQL as the embedded engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

import orjson

from footfall.engine.base import Engine, EngineError, Params

if TYPE_CHECKING:
    import pyarrow as pa

_SETTINGS = {"output_format_json_quote_64bit_integers": 0, "session_timezone": "UTC"}


class ClickHouseEngine(Engine):
    def __init__(self, url: str) -> None:
        import clickhouse_connect

        parts = urlparse(url)
        self._client_args = {
            "host": parts.hostname or "localhost",
            "port": parts.port or 8123,
            "username": unquote(parts.username or "default"),
            "password": unquote(parts.password or ""),
            "database": parts.path.strip("/") or "default",
            "secure": parts.scheme == "https",
        }
        self._connect = clickhouse_connect.get_client

    def _client(self) -> Any:
        # clickhouse-connect clients are not thread-safe; a fresh one per call is cheap over HTTP.
        return self._connect(**self._client_args, settings=_SETTINGS)

    def _raw(self, sql: str, fmt: str, params: Params | None) -> bytes:
        try:
            return self._client().raw_query(sql, parameters=dict(params or {}), fmt=fmt)
        except Exception as exc:
            raise EngineError(str(exc)) from exc

    def query(self, sql: str, params: Params | None = None) -> list[list[Any]]:
        raw = self._raw(sql, "JSONCompact", params)
        return orjson.loads(raw)["data"] if raw else []

    def command(self, sql: str, params: Params | None = None) -> None:
        self._raw(sql, "TabSeparated", params)

    def insert_json(self, table: str, rows: bytes, dedup_token: str | None = None, fmt: str = "JSONEachRow") -> None:
        settings: dict[str, Any] = {"input_format_json_read_objects_as_strings": 1}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        try:
            self._client().raw_insert(table, insert_block=rows, fmt=fmt, settings=settings)
        except Exception as exc:
            raise EngineError(str(exc)) from exc

    def insert_arrow(self, table: str, data: pa.Table) -> None:
        try:
            self._client().insert_arrow(table, data)
        except Exception as exc:
            raise EngineError(str(exc)) from exc

    def stream(self, sql: str, params: Params | None = None, fmt: str = "JSONEachRow") -> Iterator[bytes]:
        try:
            with self._client().raw_stream(sql, parameters=dict(params or {}), fmt=fmt) as chunks:
                yield from chunks
        except Exception as exc:
            raise EngineError(str(exc)) from exc
