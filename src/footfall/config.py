"""Settings, read from FOOTFALL_* environment variables (CLI flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"FOOTFALL_{name}", default)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("DATA_DIR", "./footfall-data")))
    host: str = field(default_factory=lambda: _env("HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("PORT", "8000")))
    # Scale-out: a ClickHouse server (http://user:pass@host:8123/db) and a PostgreSQL URL.
    # Empty means the embedded defaults: chDB under data_dir and SQLite under data_dir.
    clickhouse_url: str = field(default_factory=lambda: _env("CLICKHOUSE_URL"))
    database_url: str = field(default_factory=lambda: _env("DATABASE_URL"))
    # Flusher: how many log bytes or how much time to gather before one INSERT.
    flush_max_bytes: int = field(default_factory=lambda: int(_env("FLUSH_MAX_BYTES", str(16 << 20))))
    flush_interval_ms: int = field(default_factory=lambda: int(_env("FLUSH_INTERVAL_MS", "250")))
    wal_segment_bytes: int = field(default_factory=lambda: int(_env("WAL_SEGMENT_BYTES", str(64 << 20))))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "info"))
    # The server recomputes dynamic cohorts computed longer ago than this (checked at least every minute).
    cohort_refresh_seconds: int = field(default_factory=lambda: int(_env("COHORT_REFRESH_SECONDS", "900")))

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def meta_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'meta.sqlite3').resolve()}"
