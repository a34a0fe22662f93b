"""What every Dashboard REST endpoint shares: limits, Amplitude's error style, the response envelope.

An endpoint's plan translates parameters into a query spec and returns its cost and a `run` that queries
the shared engine and shapes the result; `answer` charges the cost, runs it, wraps it in Amplitude's
envelope and turns caller mistakes into 400s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request, Response

from footfall.api.amplitude.errors import amplitude_error
from footfall.api.amplitude.params import BadRequest
from footfall.api.limits import LimitExceeded, limiter
from footfall.meta.accounts import ProjectInfo
from footfall.query.spec import QueryError

CALLER_ERRORS = (BadRequest, QueryError)


def query_cost(days: int, conditions: int, type_cost: int) -> int:
    """Amplitude's cost model: days × conditions × the query type's cost."""
    return max(1, days) * max(1, conditions) * max(1, type_cost)


def answer(
    request: Request,
    project: ProjectInfo,
    plan: Callable[[], tuple[int, Callable[[], Any]]],
    envelope: bool = True,
    budget: str = "cost",
) -> Response:
    """`plan` parses the parameters and returns (cost, run); the cost is charged to the named budget
    (`api.limits.BUDGETS`) before `run` touches the engine, so a refused request costs nothing."""
    start = time.perf_counter()
    try:
        cost, run = plan()
        lease = limiter(request).acquire(project.id, project.settings, cost=cost, budget_name=budget)
    except CALLER_ERRORS as exc:
        return amplitude_error(400, str(exc))
    except LimitExceeded as exc:
        return exc.response()
    try:
        data = run()
    except CALLER_ERRORS as exc:
        return amplitude_error(400, str(exc))
    finally:
        lease.release()
    body = (
        {
            "data": data,
            "timeComputed": int(time.time() * 1000),
            "wasCached": False,
            "cacheFreshness": "FRESH",
            "novaRuntime": round((time.perf_counter() - start) * 1000),
        }
        if envelope
        else data
    )
    return Response(orjson.dumps(body), media_type="application/json")


def number(value: float) -> int | float:
    """Counts as integers, ratios as floats, as Amplitude prints them."""
    return int(value) if float(value).is_integer() else value
