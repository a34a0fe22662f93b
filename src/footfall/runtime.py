"""What one footfall process owns: the data-dir lock, engine, metadata, WAL and flusher.

chDB allows one process per database, so whoever holds the data dir's lock is the only one that
opens it. `serve` holds it for its lifetime; CLI commands hold it briefly, or, when a server holds it,
ask that server to do the work (see `footfall.admin`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path
from typing import IO

from footfall.api.cohorts import Refresher
from footfall.config import Settings
from footfall.engine import Engine, open_engine
from footfall.engine.schema import apply_schema
from footfall.ingest.definitions import backfill_once
from footfall.ingest.flusher import Flusher
from footfall.ingest.wal import WriteAheadLog
from footfall.meta.accounts import ProjectCache
from footfall.meta.db import MetaDB


class DataDirBusy(RuntimeError):
    """Another process owns the data dir."""


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "footfall.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the owner's lifetime
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise DataDirBusy(f"the data dir {self.path.parent} is in use by {owner}") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = DataDirLock(settings.data_dir)
        self.lock.acquire()
        try:
            self.meta = MetaDB(settings.meta_url)
            self.meta.migrate()
            self.engine: Engine = open_engine(settings.clickhouse_url, settings.data_dir)
            apply_schema(self.engine)
            self.wal = WriteAheadLog(settings.wal_dir, settings.wal_segment_bytes)
            self.flusher = Flusher(
                self.wal, self.engine, self.meta, settings.flush_max_bytes, settings.flush_interval_ms
            )
            self.projects = ProjectCache(self.meta)
            self.cohort_refresher = Refresher(
                self.meta, self.engine, dt.timedelta(seconds=settings.cohort_refresh_seconds)
            )
        except BaseException:
            self.lock.release()
            raise
        # Replay whatever was acknowledged but not flushed before the last stop (or crash).
        while self.flusher.flush_once():
            pass
        # Data dirs from before event/property definitions were kept: derive them once from what is stored.
        backfill_once(self.engine, self.meta)

    def start(self) -> None:
        self.flusher.start()
        self.cohort_refresher.start()

    def close(self) -> None:
        self.cohort_refresher.stop()
        self.flusher.stop(drain=True)
        self.wal.close()
        self.engine.close()
        self.meta.close()
        self.lock.release()
