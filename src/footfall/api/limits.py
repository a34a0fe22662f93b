"""Amplitude's request limits, per project: concurrent requests and an hourly cost budget.

Amplitude allows 5 concurrent requests and a cost of 108,000 per hour per project, and answers 429 past
either. Each request states its cost (what it makes the engine scan); a `Lease` holds one concurrency
slot until released, which a `LeasedStream` response does only when its last byte is out. Both numbers can be
changed per project in `Project.settings` (`api_concurrent_requests`, `api_cost_per_hour`).
User activity and user search spend a budget of their own, 360 queries per hour (`api_user_lookups_per_hour`).

State is in-process: footfall serves a data dir from one process.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.responses import StreamingResponse

CONCURRENT_REQUESTS = 5
COST_PER_HOUR = 108_000
WINDOW_SECONDS = 3600.0
USER_LOOKUPS_PER_HOUR = 360
# Hourly budgets by name: (the 429's limit name, the settings key, the default allowance).
BUDGETS = {
    "cost": ("cost_per_hour", "api_cost_per_hour", COST_PER_HOUR),
    "user_lookups": ("user_lookups_per_hour", "api_user_lookups_per_hour", USER_LOOKUPS_PER_HOUR),
}


class LimitExceeded(Exception):
    def __init__(self, limit: str, allowed: int, retry_after: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.allowed = allowed
        self.retry_after = max(1, retry_after)

    def response(self) -> Response:
        """429 naming the limit, with `Retry-After` in seconds."""
        body = {"error": str(self), "limit": self.limit, "allowed": self.allowed, "retry_after": self.retry_after}
        return Response(
            orjson.dumps(body), 429, media_type="application/json", headers={"Retry-After": str(self.retry_after)}
        )


@dataclass
class _Usage:
    running: int = 0
    spending: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)  # budget -> (when, cost)

    def costs(self, budget: str, now: float) -> deque[tuple[float, int]]:
        """The budget's spending within the window."""
        costs = self.spending.setdefault(budget, deque())
        while costs and costs[0][0] <= now - WINDOW_SECONDS:
            costs.popleft()
        return costs


class Lease:
    """One admitted request; `release()` frees its concurrency slot (idempotent)."""

    def __init__(self, limiter: Limiter, project_id: int) -> None:
        self._limiter = limiter
        self._project_id = project_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limiter._release(self._project_id)


class Limiter:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._usage: dict[int, _Usage] = {}
        self._lock = threading.Lock()

    def acquire(
        self, project_id: int, settings: Mapping[str, Any] | None = None, cost: int = 1, budget_name: str = "cost"
    ) -> Lease:
        """Admit a request costing `cost` from the named hourly budget, or raise LimitExceeded (nothing is
        counted then)."""
        settings = settings or {}
        concurrent = int(settings.get("api_concurrent_requests", CONCURRENT_REQUESTS))
        limit_name, key, default = BUDGETS[budget_name]
        budget = int(settings.get(key, default))
        now = self._clock()
        with self._lock:
            usage = self._usage.setdefault(project_id, _Usage())
            if usage.running >= concurrent:
                raise LimitExceeded(
                    "concurrent_requests", concurrent, 1, f"Too many concurrent requests (limit {concurrent})"
                )
            costs = usage.costs(budget_name, now)
            if sum(c for _, c in costs) + cost > budget:
                raise LimitExceeded(
                    limit_name,
                    budget,
                    self._wait(costs, budget - cost, now),
                    f"Hourly {limit_name} limit of {budget} reached",
                )
            usage.running += 1
            costs.append((now, cost))
        return Lease(self, project_id)

    @staticmethod
    def _wait(costs: deque[tuple[float, int]], allowed_spent: int, now: float) -> int:
        """Seconds until enough earlier cost leaves the window for `allowed_spent` to hold."""
        spent = sum(cost for _, cost in costs)
        for when, cost in costs:
            spent -= cost
            if spent <= allowed_spent:
                return math.ceil(when + WINDOW_SECONDS - now)
        return int(WINDOW_SECONDS)  # the request alone costs more than the whole budget

    def _release(self, project_id: int) -> None:
        with self._lock:
            self._usage[project_id].running -= 1


class LeasedStream(StreamingResponse):
    """A streamed response that holds a Lease until its last byte is sent or the client goes away."""

    def __init__(self, content: Any, lease: Lease, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.lease = lease

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.lease.release()


_app_lock = threading.Lock()


def limiter(request: Request) -> Limiter:
    """The app's limiter (one per app, created on first use)."""
    state = request.app.state
    with _app_lock:
        if not hasattr(state, "amplitude_limiter"):
            state.amplitude_limiter = Limiter()
        return state.amplitude_limiter
