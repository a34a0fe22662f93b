"""Prometheus metrics of one server process, served at /metrics."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from footfall.runtime import Runtime


class Metrics:
    def __init__(self, runtime: Runtime) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter(
            "footfall_events_ingested", "Events acknowledged, by SDK flavour", ["flavour"], registry=self.registry
        )
        self.requests = Histogram(
            "footfall_request_seconds",
            "HTTP request latency",
            ["route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        flusher, wal = runtime.flusher, runtime.wal
        Gauge("footfall_wal_bytes", "Bytes in write-ahead log segments", registry=self.registry).set_function(
            wal.size_bytes
        )
        Gauge(
            "footfall_ingestion_lag_bytes", "Acknowledged log bytes not yet flushed", registry=self.registry
        ).set_function(lambda: flusher.lag_bytes)
        Gauge(
            "footfall_events_flushed", "Events written to the engine since start", registry=self.registry
        ).set_function(lambda: flusher.events_flushed)
        Gauge(
            "footfall_duplicates_dropped", "Events dropped as duplicates since start", registry=self.registry
        ).set_function(lambda: flusher.duplicates_dropped)
        Gauge("footfall_seconds_since_flush", "Seconds since the last flush", registry=self.registry).set_function(
            lambda: time.time() - flusher.last_flush_at if flusher.last_flush_at else -1
        )

    def ingested(self, flavour: str, count: int) -> None:
        self.events.labels(flavour).inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
