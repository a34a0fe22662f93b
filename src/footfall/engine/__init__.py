"""Storage engines: one ClickHouse SQL dialect, run in-process (chDB) or on a server."""

from footfall.engine.base import Engine, EngineError, open_engine

__all__ = ["Engine", "EngineError", "open_engine"]
