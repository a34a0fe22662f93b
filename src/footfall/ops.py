"""Operations the CLI runs, either on a data dir it opened itself or inside the server that owns it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from footfall.meta.accounts import create_personal_key, create_project
from footfall.runtime import Runtime

Progress = Callable[[int, int], None]


def project_create(rt: Runtime, progress: Progress, name: str, timezone: str = "UTC") -> dict[str, Any]:
    with rt.meta.session() as session, session.begin():
        created = create_project(session, name, timezone)
    rt.projects.forget()
    return created


def key_create(rt: Runtime, progress: Progress, scopes: list[str], label: str = "") -> dict[str, Any]:
    with rt.meta.session() as session, session.begin():
        return create_personal_key(session, scopes, label)


def demo(rt: Runtime, progress: Progress, events: int, days: int, seed: int = 7) -> dict[str, Any]:
    from footfall.demo import generate

    result = generate(rt, events=events, days=days, seed=seed, progress=progress)
    rt.projects.forget()
    return result


OPS: dict[str, Callable[..., dict[str, Any]]] = {
    "project_create": project_create,
    "key_create": key_create,
    "demo": demo,
}
