"""Amplitude's request limits (`footfall.api.limits`): concurrency slots and the hourly cost budget."""

from __future__ import annotations

import orjson
import pytest

from footfall.api.limits import COST_PER_HOUR, Limiter, LimitExceeded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_concurrent_requests_then_429_until_one_ends() -> None:
    limiter = Limiter()
    leases = [limiter.acquire(1) for _ in range(5)]
    with pytest.raises(LimitExceeded) as refused:
        limiter.acquire(1)
    assert refused.value.limit == "concurrent_requests" and refused.value.retry_after == 1
    limiter.acquire(2).release()  # other projects are not affected
    leases[0].release()
    leases[0].release()  # releasing twice frees one slot only
    limiter.acquire(1)
    with pytest.raises(LimitExceeded):
        limiter.acquire(1)


def test_the_cost_budget_refills_as_the_hour_moves_on() -> None:
    clock = Clock()
    limiter = Limiter(clock)
    limiter.acquire(1, cost=60_000).release()
    clock.now += 600
    limiter.acquire(1, cost=48_000).release()  # 108,000: exactly the budget
    with pytest.raises(LimitExceeded) as refused:
        limiter.acquire(1, cost=1)
    assert refused.value.limit == "cost_per_hour" and refused.value.allowed == COST_PER_HOUR
    assert refused.value.retry_after == 3000  # when the first request leaves the window
    clock.now += 3000
    limiter.acquire(1, cost=60_000).release()


def test_settings_change_the_limits_and_the_429_names_them() -> None:
    limiter = Limiter()
    settings = {"api_concurrent_requests": 1, "api_cost_per_hour": 10}
    lease = limiter.acquire(7, settings, cost=4)
    with pytest.raises(LimitExceeded) as refused:
        limiter.acquire(7, settings, cost=1)
    assert refused.value.limit == "concurrent_requests"
    lease.release()
    with pytest.raises(LimitExceeded) as refused:
        limiter.acquire(7, settings, cost=7)  # 4 + 7 > 10
    response = refused.value.response()
    assert response.status_code == 429 and int(response.headers["retry-after"]) == 3600
    body = orjson.loads(response.body)
    assert body["limit"] == "cost_per_hour" and body["allowed"] == 10 and body["retry_after"] == 3600
    limiter.acquire(7, settings, cost=6).release()  # a refused request spent nothing
