"""Sharing of dashboards and insights (`.../sharing/`, `refresh/`, `passwords/`) and the public link.

`/shared/<access_token>` answers the shared object read-only. When a password is required, `POST` with the
password sets a signed, HTTP-only cookie (PostHog's `posthog_sharing_token`, 24 h) and returns it as
`shareToken`; a wrong password is 401 `{"error": "Incorrect password"}`. Plain passwords are shown once,
at creation, and never logged.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import Caller, require
from footfall.api.posthog.common import PathId, body_of, capped_body, dual_route, json_response
from footfall.api.posthog.errors import PostHogAPIError, invalid, not_found
from footfall.api.posthog.serialize import iso
from footfall.meta import dashboards as boards
from footfall.meta import sharing
from footfall.meta.accounts import project_info
from footfall.meta.models import Project, SharePassword, SharingConfiguration, User
from footfall.security import server_secret, sign, unsign

router = APIRouter(tags=["PostHog sharing"])
COOKIE = "posthog_sharing_token"
COOKIE_TTL = 24 * 3600


class SharingIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool | None = None
    settings: dict[str, Any] | None = None
    password_required: bool | None = None


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    raw_password: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=400)


def describe(session: Any, config: SharingConfiguration) -> dict[str, Any]:
    def email(user_id: int | None) -> str | None:
        found = session.get(User, user_id) if user_id else None
        return found.email if found else None

    return {
        "created_at": iso(config.created_at),
        "enabled": config.enabled,
        "access_token": config.access_token,
        "settings": config.settings or {},
        "password_required": config.password_required,
        "share_passwords": [
            {
                "id": p.id,
                "created_at": iso(p.created_at),
                "note": p.note,
                "created_by_email": email(p.created_by_id),
                "is_active": p.is_active,
            }
            for p in sharing.passwords(session, config)
        ],
    }


def _config(session: Any, caller: Caller, kind: str, object_id: int) -> SharingConfiguration:
    try:
        if kind == "dashboards":
            boards.dashboard(session, caller.project.id, object_id)
            return sharing.config_for(session, caller.project.id, dashboard_id=object_id)
        boards.insight(session, caller.project.id, object_id)
        return sharing.config_for(session, caller.project.id, insight_id=object_id)
    except boards.NotFound as exc:
        raise not_found() from exc


def _register(kind: str, scope_object: str) -> None:
    read, write = require(f"{scope_object}:read"), require("sharing_configuration:write")

    @dual_route(router, f"/{kind}/{{object_id}}/sharing/", ["GET"])
    def get_sharing(request: Request, object_id: PathId, caller: Caller = Depends(read)) -> Response:
        with request.app.state.runtime.meta.session() as session, session.begin():
            return json_response(describe(session, _config(session, caller, kind, object_id)))

    @dual_route(router, f"/{kind}/{{object_id}}/sharing/", ["PATCH"])
    async def patch_sharing(request: Request, object_id: PathId, caller: Caller = Depends(write)) -> Response:
        body = await body_of(request, SharingIn)
        with request.app.state.runtime.meta.session() as session, session.begin():
            config = _config(session, caller, kind, object_id)
            for field in ("enabled", "settings", "password_required"):
                if getattr(body, field) is not None:
                    setattr(config, field, getattr(body, field))
            return json_response(describe(session, config))

    @dual_route(router, f"/{kind}/{{object_id}}/sharing/refresh/", ["POST"])
    def refresh_sharing(request: Request, object_id: PathId, caller: Caller = Depends(write)) -> Response:
        with request.app.state.runtime.meta.session() as session, session.begin():
            config = _config(session, caller, kind, object_id)
            sharing.rotate(config)
            return json_response(describe(session, config))

    @dual_route(router, f"/{kind}/{{object_id}}/sharing/passwords/", ["POST"])
    async def create_password(request: Request, object_id: PathId, caller: Caller = Depends(write)) -> Response:
        body = await body_of(request, PasswordIn)

        def create() -> dict[str, Any]:
            with request.app.state.runtime.meta.session() as session, session.begin():
                config = _config(session, caller, kind, object_id)
                if not config.password_required:
                    raise invalid("enable password_required before adding passwords", "password_required")
                try:
                    record, plain = sharing.add_password(session, config, caller.user_id, body.raw_password, body.note)
                except ValueError as exc:
                    raise invalid(str(exc), "raw_password") from exc
                user = session.get(User, caller.user_id)
                return {
                    "id": record.id,
                    "password": plain,
                    "note": record.note,
                    "created_at": iso(record.created_at),
                    "created_by_email": user.email if user else None,
                    "is_active": True,
                }

        return json_response(await run_in_threadpool(create), 201)

    @dual_route(router, f"/{kind}/{{object_id}}/sharing/passwords/{{password_id}}/", ["DELETE"])
    def delete_password(
        request: Request, object_id: PathId, password_id: PathId, caller: Caller = Depends(write)
    ) -> Response:
        with request.app.state.runtime.meta.session() as session, session.begin():
            config = _config(session, caller, kind, object_id)
            record = session.get(SharePassword, password_id)
            if record is None or record.sharing_configuration_id != config.id:
                raise not_found()
            record.is_active = False
        return Response(status_code=204)


_register("dashboards", "dashboard")
_register("insights", "insight")


# -- the public link ----------------------------------------------------------------------------------
def _shared(request: Request, token: str) -> tuple[Any, SharingConfiguration]:
    session = request.app.state.runtime.meta.session()
    config = sharing.by_token(session, token)
    if config is None:
        session.close()
        raise PostHogAPIError(404, "not_found", "This link is not shared or no longer works.")
    return session, config


def _unlocked(request: Request, config: SharingConfiguration) -> bool:
    if not config.password_required:
        return True
    secret = server_secret(request.app.state.runtime.settings.data_dir)
    presented = request.cookies.get(COOKIE) or request.headers.get("authorization", "").removeprefix("Bearer ")
    return bool(presented) and unsign(secret, presented, f"share-{config.id}-{config.access_token}")


@router.post("/shared/{token}")
async def unlock(request: Request, token: str) -> Response:
    try:
        body = orjson.loads(await capped_body(request) or b"{}")
    except orjson.JSONDecodeError:
        body = {}
    password = body.get("password") if isinstance(body, dict) else None
    session, config = _shared(request, token)
    with session:
        if not isinstance(password, str) or not await run_in_threadpool(
            sharing.check_password, session, config, password
        ):
            return Response(orjson.dumps({"error": "Incorrect password"}), 401, media_type="application/json")
        secret = server_secret(request.app.state.runtime.settings.data_dir)
        share_token = sign(secret, f"share-{config.id}-{config.access_token}", COOKIE_TTL)
    response = json_response({"shareToken": share_token})
    response.set_cookie(COOKIE, share_token, max_age=COOKIE_TTL, httponly=True, samesite="lax", path=f"/shared/{token}")
    return response


@router.get("/shared/{token}")
def shared(request: Request, token: str) -> Response:
    """The shared dashboard or insight with its results, read-only (JSON; the web UI renders it)."""
    from footfall.api.posthog.dashboards import shared_dashboard
    from footfall.api.posthog.insights import shared_insight

    session, config = _shared(request, token)
    with session:
        if not _unlocked(request, config):
            return Response(orjson.dumps({"password_required": True}), 401, media_type="application/json")
        project = project_info(session.get(Project, config.project_id))
        if config.dashboard_id:
            return json_response(shared_dashboard(request, session, project, config.dashboard_id))
        return json_response(shared_insight(request, session, project, config.insight_id))
