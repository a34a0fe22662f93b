"""The project settings page, and the admin's password change.

The page's script does its work through the PostHog API (footfall.api.posthog.projects): the project's name
and time zone, its keys, personal API keys and new projects. Changing the password ends every other
session (footfall.ui.session); this browser gets a new session cookie and CSRF token.
"""

from __future__ import annotations

import functools

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from footfall.api.posthog.auth import SCOPES_CHECKED
from footfall.api.posthog.common import body_of
from footfall.api.posthog.errors import PostHogAPIError, invalid
from footfall.meta.accounts import AccountError, change_admin_password, timezones
from footfall.meta.models import User
from footfall.ui import session as ui_session
from footfall.ui.pages import page

router = APIRouter(include_in_schema=False)
# IANA's geographic areas: the zones people pick, without aliases such as `Etc/GMT+5`, `US/Pacific` or `GB`.
AREAS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@functools.cache
def zone_choices() -> list[str]:
    return ["UTC", *sorted(z for z in timezones() if z.split("/", 1)[0] in AREAS)]


@router.get("/project/{project_id:id}/settings")
def settings(request: Request, project_id: int) -> Response:
    return page(
        request,
        "settings.html",
        project_id,
        data={"timezones": zone_choices(), "scopes": sorted(SCOPES_CHECKED)},
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="ignore")
    current_password: str
    password: str


@router.post("/_ui/password")
async def change_password(request: Request) -> Response:
    """204 with a new session cookie; the page reads its new CSRF token from the `footfall_csrf` cookie."""
    user = ui_session.current(request)
    if user is None:
        raise PostHogAPIError(401, "not_authenticated", "Authentication credentials were not provided.")
    if not ui_session.csrf_ok(request, user):
        raise PostHogAPIError(403, "csrf_failed", "CSRF token missing or incorrect.")
    body = await body_of(request, PasswordChange)

    def change() -> User:  # argon2 twice: off the event loop
        with request.app.state.runtime.meta.session() as session, session.begin():
            try:
                return change_admin_password(session, body.current_password, body.password)
            except AccountError as exc:
                raise invalid(str(exc), exc.field) from exc

    admin = await run_in_threadpool(change)
    response = Response(status_code=204)
    ui_session.start(request, response, admin)
    return response
