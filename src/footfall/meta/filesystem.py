"""PostHog's file system: slash-separated paths of folders and items.

Dashboards and insights appear under `Unfiled/Dashboards/<name>` and `Unfiled/Insights/<name>` until moved,
as PostHog files them; `sync` files new ones and drops entries of deleted ones before a listing.
Creating an entry creates its missing parent folders.
"""

from __future__ import annotations

import shlex
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import Dashboard, FileSystemEntry, Insight

UNFILED = {"dashboard": "Unfiled/Dashboards", "insight": "Unfiled/Insights"}


def split(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


def _escape(name: str) -> str:
    return name.replace("/", "\\/")


def create(
    session: Session,
    project_id: int,
    path: str,
    type_: str = "folder",
    ref: str | None = None,
    href: str | None = None,
    meta: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> FileSystemEntry:
    parts = split(path)
    if not parts:
        raise ValueError("a path needs at least one segment")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        exists = session.scalar(
            select(FileSystemEntry.id).where(
                FileSystemEntry.project_id == project_id,
                FileSystemEntry.path == folder,
                FileSystemEntry.type == "folder",
            )
        )
        if exists is None:
            session.add(
                FileSystemEntry(
                    id=str(uuid.uuid4()),
                    project_id=project_id,
                    path=folder,
                    depth=depth,
                    type="folder",
                    created_by_id=user_id,
                )
            )
    entry = FileSystemEntry(
        id=str(uuid.uuid4()),
        project_id=project_id,
        path="/".join(parts),
        depth=len(parts),
        type=type_,
        ref=ref,
        href=href,
        meta=meta or {},
        created_by_id=user_id,
    )
    session.add(entry)
    session.flush()
    return entry


def sync(session: Session, project_id: int) -> None:
    """File live dashboards and insights that have no entry yet; drop entries of deleted ones."""
    live = {
        "dashboard": {
            str(d.id): d.name
            for d in session.scalars(
                select(Dashboard).where(
                    Dashboard.project_id == project_id,
                    Dashboard.deleted.is_(False),
                    Dashboard.creation_mode != "unlisted",
                )
            )
        },
        "insight": {
            str(i.id): i.name or i.derived_name or f"Insight {i.short_id}"
            for i in session.scalars(
                select(Insight).where(
                    Insight.project_id == project_id, Insight.deleted.is_(False), Insight.saved.is_(True)
                )
            )
        },
    }
    entries = session.scalars(
        select(FileSystemEntry).where(FileSystemEntry.project_id == project_id, FileSystemEntry.type.in_(list(UNFILED)))
    )
    filed: dict[str, set[str]] = {kind: set() for kind in UNFILED}
    for entry in entries:
        if entry.ref in live[entry.type]:
            filed[entry.type].add(entry.ref or "")
        else:
            session.delete(entry)
    for kind, objects in live.items():
        for ref, name in objects.items():
            if ref not in filed[kind]:
                href = f"/{'dashboard' if kind == 'dashboard' else 'insights'}/{ref}"
                create(session, project_id, f"{UNFILED[kind]}/{_escape(name)}", kind, ref, href)


def matches(entry: FileSystemEntry, search: str, user_id: int | None) -> bool:
    """PostHog's search: `path:`, `name:`, `type:` (a trailing / matches a prefix), `ref:`, `user:me`;
    a leading `-` or `!` negates; quoted phrases; other words must appear in the path."""
    try:
        tokens = shlex.split(search)
    except ValueError:
        tokens = search.split()
    for token in tokens:
        negate = token[:1] in ("-", "!")
        token = token[1:] if negate else token
        key, sep, value = token.partition(":")
        value = value.lower()
        name = split(entry.path)[-1].lower() if entry.path else ""
        if sep and key == "path":
            hit = value in entry.path.lower()
        elif sep and key == "name":
            hit = value in name
        elif sep and key == "type":
            hit = entry.type.startswith(value) if value.endswith("/") else entry.type == value
        elif sep and key == "ref":
            hit = (entry.ref or "") == value
        elif sep and key == "user":
            hit = value == "me" and entry.created_by_id == user_id
        else:
            hit = token.lower() in entry.path.lower()
        if hit == negate:
            return False
    return True
