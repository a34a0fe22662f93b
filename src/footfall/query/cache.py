"""Results cached by query, with PostHog's staleness rules (`posthog/caching/utils.py`).

A result is fresh for a time that grows with the interval (5 min for minutes … 2 days for months), and
always fresh when the range ended well before it was computed (old data does not change). Bounded LRU,
in process: footfall serves a data dir from one process.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from footfall.query.spec import Interval

STALE_AFTER = {
    Interval.MINUTE: dt.timedelta(minutes=5),
    Interval.MINUTE5: dt.timedelta(minutes=5),
    Interval.HOUR: dt.timedelta(hours=1),
    Interval.DAY: dt.timedelta(hours=6),
    Interval.WEEK: dt.timedelta(days=1),
    Interval.MONTH: dt.timedelta(days=2),
}


@dataclass
class Cached:
    value: Any
    computed_at: dt.datetime  # UTC
    interval: Interval
    range_end: dt.datetime  # UTC

    def stale(self, now: dt.datetime) -> bool:
        if self.range_end < self.computed_at - dt.timedelta(seconds=10):
            return False
        return now - self.computed_at > STALE_AFTER.get(self.interval, dt.timedelta(hours=6))


class ResultCache:
    def __init__(self, size: int = 2048) -> None:
        self._items: OrderedDict[str, Cached] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> Cached | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: str, item: Cached) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
