"""Projects and personal API keys, in PostHog's shapes (`posthog/api/project.py`, `personal_api_key.py`).

- `/api/projects/` lists (limit/offset) and creates projects; `/api/projects/:id/` (also `/api/environments/:id/`
  and `@current`) reads and renames a project or changes its time zone. Scope `project:read` / `project:write`;
  a key scoped to some projects lists only those and cannot create projects.
- `reset_token/` rotates the ingest key as PostHog does: SDKs sending the old key are refused from then on.
  `reset_secret_key/` is footfall's: a new secret for Amplitude's HTTP Basic auth, returned once (stored as an
  argon2 hash); the old secret stops working at once. A new project's secret is likewise returned once.
- `/api/personal_api_keys/` as PostHog: the signed-in user lists, creates and deletes keys; a personal key may
  only read itself (`@current` or its id). The key's value is in the creation response only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, Identity, allowed, authenticate, require
from footfall.api.posthog.common import body_of, dual_route, json_response, limit_offset, page
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.serialize import iso
from footfall.meta import accounts
from footfall.meta.models import PersonalApiKey, Project

router = APIRouter(tags=["PostHog projects and personal API keys"])
COLLECTIONS = ("/api/projects", "/api/environments")
KEYS = "/api/personal_api_keys"


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # PostHog's many other team settings are not footfall's
    name: str = Field(max_length=200)
    timezone: str = "UTC"


class ProjectPatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=200)
    timezone: str | None = None


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    label: str = Field(default="", max_length=accounts.MAX_LABEL)
    scopes: list[str]
    scoped_teams: list[int] = []


def describe(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "api_token": project.api_key,
        "timezone": project.timezone,
        "created_at": iso(project.created_at),
    }


def _invalid(exc: accounts.AccountError) -> PostHogAPIError:
    return invalid(str(exc), exc.field)


def _load(session: Session, caller: Caller) -> Project:
    project = session.get(Project, caller.project.id)
    if project is None:  # deleted since the caller was resolved
        raise not_found()
    return project


def _collection(methods: list[str]) -> Any:
    def register(func: Any) -> Any:
        for prefix in COLLECTIONS:
            for path in (prefix + "/", prefix):
                documented = prefix == COLLECTIONS[0] and path.endswith("/")
                router.add_api_route(path, func, methods=methods, include_in_schema=documented)
        return func

    return register


@_collection(["GET"])
def list_projects(request: Request, who: Identity = Depends(allowed("project:read"))) -> Response:
    limit, offset = limit_offset(request)
    query = select(Project)
    if who.scoped_teams:
        query = query.where(Project.id.in_(who.scoped_teams))
    with request.app.state.runtime.meta.session() as session:
        count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(Project.id).limit(limit).offset(offset)).all()
        return json_response(page(request, [describe(p) for p in rows], count, limit, offset))


@_collection(["POST"])
async def create_project(request: Request, who: Identity = Depends(allowed("project:write"))) -> Response:
    if who.scoped_teams:
        raise PostHogAPIError(403, "permission_denied", "API keys scoped to projects cannot create projects.")
    body = await body_of(request, ProjectIn)

    def create() -> dict[str, Any]:
        with request.app.state.runtime.meta.session() as session, session.begin():
            try:
                created = accounts.create_project(session, body.name, body.timezone)
            except accounts.AccountError as exc:
                raise _invalid(exc) from exc
            return {**describe(session.get(Project, created["id"])), "secret_key": created["secret_key"]}

    created = await run_in_threadpool(create)
    request.app.state.runtime.projects.forget()
    return json_response(created, 201)


@dual_route(router, "/", ["GET"])
def retrieve_project(request: Request, caller: Caller = Depends(require("project:read"))) -> Response:
    with request.app.state.runtime.meta.session() as session:
        return json_response(describe(_load(session, caller)))


@dual_route(router, "/", ["PATCH"])
async def update_project(request: Request, caller: Caller = Depends(require("project:write"))) -> Response:
    body = await body_of(request, ProjectPatch)
    with request.app.state.runtime.meta.session() as session, session.begin():
        project = _load(session, caller)
        try:
            if body.name is not None:
                project.name = accounts.check_project_name(session, body.name, project.id)
            if body.timezone is not None:
                project.timezone = accounts.check_timezone(body.timezone)
        except accounts.AccountError as exc:
            raise _invalid(exc) from exc
        described = describe(project)
    # Ingestion caches a project's settings by key: a new time zone must reach every later request.
    request.app.state.runtime.projects.forget()
    return json_response(described)


@dual_route(router, "/reset_token/", ["PATCH", "POST"])
def reset_token(request: Request, caller: Caller = Depends(require("project:write"))) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        project = _load(session, caller)
        accounts.reset_api_key(project)
        described = describe(project)
    request.app.state.runtime.projects.forget()  # the old key must stop ingesting now
    return json_response(described)


@dual_route(router, "/reset_secret_key/", ["POST"])
def reset_secret_key(request: Request, caller: Caller = Depends(require("project:write"))) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        project = _load(session, caller)
        secret = accounts.reset_secret_key(project)
        return json_response({**describe(project), "secret_key": secret})


# Personal API keys


def describe_key(record: PersonalApiKey, value: str | None = None) -> dict[str, Any]:
    return {
        "id": record.id,
        "label": record.label,
        "value": value,
        "mask_value": record.mask_value,
        "created_at": iso(record.created_at),
        "last_used_at": iso(record.last_used_at),
        "user_id": record.user_id,
        "scopes": record.scopes or [],
        "scoped_teams": record.scoped_teams or [],
        "scoped_organizations": [],
    }


def _session_only(request: Request) -> Identity:
    who = authenticate(request)
    if who.key_id:
        raise PostHogAPIError(403, "permission_denied", "This action does not support Personal API Key access")
    return who


def _key_routes(path: str, methods: list[str]) -> Any:
    def register(func: Any) -> Any:
        for variant in (KEYS + path, (KEYS + path).rstrip("/")):
            router.add_api_route(variant, func, methods=methods, include_in_schema=variant.endswith("/"))
        return func

    return register


@_key_routes("/", ["GET"])
def list_keys(request: Request, who: Identity = Depends(_session_only)) -> Response:
    with request.app.state.runtime.meta.session() as session:
        rows = session.scalars(
            select(PersonalApiKey)
            .where(PersonalApiKey.user_id == who.user_id)
            .order_by(PersonalApiKey.created_at.desc(), PersonalApiKey.id.desc())
        ).all()
        return json_response([describe_key(r) for r in rows])  # PostHog lists keys unpaginated


@_key_routes("/", ["POST"])
async def create_key(request: Request, who: Identity = Depends(_session_only)) -> Response:
    body = await body_of(request, KeyIn)

    def create() -> dict[str, Any]:
        with request.app.state.runtime.meta.session() as session, session.begin():
            try:
                created = accounts.create_personal_key(session, body.scopes, body.label, body.scoped_teams)
            except accounts.AccountError as exc:
                raise _invalid(exc) from exc
            return describe_key(session.get(PersonalApiKey, created["id"]), created["key"])

    return json_response(await run_in_threadpool(create), 201)


def _own_key(session: Session, who: Identity, key_id: str) -> PersonalApiKey:
    if key_id == "@current" and who.key_id:
        key_id = str(who.key_id)
    record = session.get(PersonalApiKey, int(key_id)) if key_id.isdigit() else None
    if record is None or record.user_id != who.user_id:
        raise not_found()
    return record


@_key_routes("/{key_id}/", ["GET"])
def retrieve_key(request: Request, key_id: str, who: Identity = Depends(authenticate)) -> Response:
    with request.app.state.runtime.meta.session() as session:
        record = _own_key(session, who, key_id)
        if who.key_id and record.id != who.key_id:  # a key reads only itself
            raise PostHogAPIError(403, "permission_denied", "This action does not support Personal API Key access")
        return json_response(describe_key(record))


@_key_routes("/{key_id}/", ["DELETE"])
def delete_key(request: Request, key_id: str, who: Identity = Depends(_session_only)) -> Response:
    with request.app.state.runtime.meta.session() as session, session.begin():
        session.delete(_own_key(session, who, key_id))
    return Response(status_code=204)
