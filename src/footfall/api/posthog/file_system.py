"""PostHog's file system endpoints: list (with `parent`, `type`, `search`), create, retrieve, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import invalid, not_found
from footfall.api.posthog.serialize import iso
from footfall.meta import filesystem
from footfall.meta.models import FileSystemEntry

router = APIRouter(tags=["PostHog file system"])


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    path: str = Field(min_length=1, max_length=1000)
    type: str = Field(default="folder", max_length=100)
    ref: str | None = Field(default=None, max_length=100)
    href: str | None = Field(default=None, max_length=1000)
    meta: dict[str, Any] | None = None


def describe(entry: FileSystemEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "path": entry.path,
        "depth": entry.depth,
        "type": entry.type,
        "ref": entry.ref,
        "href": entry.href,
        "meta": entry.meta or {},
        "shortcut": entry.shortcut,
        "created_at": iso(entry.created_at),
        "last_viewed_at": iso(entry.last_viewed_at),
        "user_access_level": "editor",
    }


@dual_route(router, "/file_system/", ["GET"])
def list_entries(request: Request, caller: Caller = Depends(require("file_system:read"))) -> Response:
    limit, offset = limit_offset(request)
    q = request.query_params
    with request.app.state.runtime.meta.session() as session, session.begin():
        filesystem.sync(session, caller.project.id)
        found = list(
            session.scalars(
                select(FileSystemEntry)
                .where(FileSystemEntry.project_id == caller.project.id)
                .order_by(FileSystemEntry.path, FileSystemEntry.type)
            )
        )
        if "parent" in q:
            parent = q["parent"].strip("/")
            depth = len(filesystem.split(parent)) + 1
            found = [e for e in found if e.depth == depth and (not parent or e.path.startswith(parent + "/"))]
        if q.get("depth", "").isdigit():
            found = [e for e in found if e.depth == int(q["depth"])]
        if q.get("type"):
            found = [e for e in found if e.type == q["type"]]
        if q.get("search"):
            found = [e for e in found if filesystem.matches(e, q["search"], caller.user_id)]
        items = [describe(e) for e in found[offset : offset + limit]]
    return json_response(page(request, items, len(found), limit, offset))


@dual_route(router, "/file_system/", ["POST"])
async def create_entry(request: Request, caller: Caller = Depends(require("file_system:write"))) -> Response:
    body = await body_of(request, EntryIn)
    with request.app.state.runtime.meta.session() as session, session.begin():
        try:
            entry = filesystem.create(
                session, caller.project.id, body.path, body.type, body.ref, body.href, body.meta, caller.user_id
            )
        except ValueError as exc:
            raise invalid(str(exc), "path") from exc
        return json_response(describe(entry), 201)


def _get(session: Any, caller: Caller, entry_id: str) -> FileSystemEntry:
    entry = session.get(FileSystemEntry, entry_id)
    if entry is None or entry.project_id != caller.project.id:
        raise not_found()
    return entry


@dual_route(router, "/file_system/{entry_id}/", ["GET"])
def retrieve_entry(request: Request, entry_id: str, caller: Caller = Depends(require("file_system:read"))) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return json_response(describe(_get(session, caller, entry_id)))


@dual_route(router, "/file_system/{entry_id}/", ["DELETE"])
def delete_entry(request: Request, entry_id: str, caller: Caller = Depends(require("file_system:write"))) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        entry = _get(session, caller, entry_id)
        if entry.type == "folder":
            prefix = entry.path + "/"
            for child in session.scalars(
                select(FileSystemEntry).where(
                    FileSystemEntry.project_id == caller.project.id, FileSystemEntry.path.startswith(prefix)
                )
            ):
                session.delete(child)
        session.delete(entry)
    return Response(status_code=204)
