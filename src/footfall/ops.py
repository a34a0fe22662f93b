"""Operations the CLI runs, either on a data dir it opened itself or inside the server that owns it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from footfall.meta.accounts import ADMIN_EMAIL, create_personal_key, create_project, set_admin_password
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


def admin_password(rt: Runtime, progress: Progress, password: str) -> dict[str, Any]:
    with rt.meta.session() as session, session.begin():
        set_admin_password(session, password)
    return {"email": ADMIN_EMAIL, "password": "set"}


def demo(rt: Runtime, progress: Progress, events: int, days: int, seed: int = 7) -> dict[str, Any]:
    from footfall.demo import generate

    result = generate(rt, events=events, days=days, seed=seed, progress=progress)
    rt.projects.forget()
    return result


def _project(rt: Runtime, name: str) -> tuple[int, dict[str, Any]]:
    from footfall.meta.accounts import project_by_name

    with rt.meta.session() as session:
        project = project_by_name(session, name)
        return project.id, dict(project.settings or {})


def export_amplitude(
    rt: Runtime, progress: Progress, project: str, start: str, end: str, output: str
) -> dict[str, Any]:
    """The Amplitude Export API's zip for a project and range, written to `output` (the same bytes as the API;
    the API's size limit does not apply here)."""
    from footfall.export.amplitude import ExportSettings, export_zip, parse_range, plan_export

    project_id, settings = _project(rt, project)
    plan = plan_export(rt.engine, project_id, parse_range(start, end))
    if not plan.events:
        raise ValueError(f"no events of {project!r} were uploaded from {start} to {end}")
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    size = 0
    try:
        with open(partial, "wb") as f:
            for chunk in export_zip(rt.engine, plan, ExportSettings.of(settings), progress):
                f.write(chunk)
                size += len(chunk)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return {"file": str(path), "events": plan.events, "bytes": size}


def import_amplitude(rt: Runtime, progress: Progress, project: str, files: list[str]) -> dict[str, Any]:
    """Amplitude export zips into a project, through the write-ahead log (see footfall.importer.amplitude)."""
    from footfall.importer.amplitude import import_zips

    project_id, _ = _project(rt, project)
    paths = [Path(f) for f in files]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"no such file: {', '.join(missing)}")
    return {"project": project, **import_zips(rt, project_id, paths, progress).as_dict()}


OPS: dict[str, Callable[..., dict[str, Any]]] = {
    "export_amplitude": export_amplitude,
    "import_amplitude": import_amplitude,
    "project_create": project_create,
    "key_create": key_create,
    "admin_password": admin_password,
    "demo": demo,
}
