"""Personal API keys with scopes, and the project a PostHog URL names.

A key is read from `Authorization: Bearer`, then a `personal_api_key` query parameter (as PostHog does);
without one, the web UI's session cookie (footfall.ui.session) authenticates the signed-in admin.
Scopes are `<object>:<read|write>` or `*`; write implies read. A missing scope is 403, a bad key 401.
Project ids are numbers or `@current`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select

from footfall.api.posthog.errors import PostHogAPIError, not_found
from footfall.meta.accounts import LOOKUP_LENGTH, ProjectInfo, project_info
from footfall.meta.models import PersonalApiKey, Project
from footfall.security import verifier
from footfall.ui import session as ui_session


@dataclass(frozen=True)
class Caller:
    user_id: int
    key_id: int
    scopes: frozenset[str]
    project: ProjectInfo

    def allows(self, scope: str) -> bool:
        obj, _, action = scope.partition(":")
        return "*" in self.scopes or scope in self.scopes or (action == "read" and f"{obj}:write" in self.scopes)


def _key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("personal_api_key", "")


def _authenticate(request: Request) -> tuple[int, int, frozenset[str]]:
    key = _key(request)
    if not key:
        return _browser(request)
    meta = request.app.state.runtime.meta
    with meta.session() as session:
        candidates = session.scalars(select(PersonalApiKey).where(PersonalApiKey.lookup == key[:LOOKUP_LENGTH])).all()
    for record in candidates:
        if verifier.verify(record.key_hash, key):
            return record.user_id, record.id, frozenset(record.scopes or [])
    raise PostHogAPIError(401, "authentication_failed", "Personal API key found in request is invalid.")


def _browser(request: Request) -> tuple[int, int, frozenset[str]]:
    """The web UI's signed-in admin: every scope, and a CSRF token on requests that change state."""
    user = ui_session.current(request)
    if user is None:
        raise PostHogAPIError(401, "not_authenticated", "Authentication credentials were not provided.")
    if not ui_session.csrf_ok(request, user):
        raise PostHogAPIError(403, "csrf_failed", "CSRF token missing or incorrect.")
    return user.user_id, 0, frozenset({"*"})


def _project(request: Request, project_id: str) -> ProjectInfo:
    meta = request.app.state.runtime.meta
    with meta.session() as session:
        if project_id == "@current":
            project = session.scalar(select(Project).order_by(Project.id))
        elif project_id.isdigit():
            project = session.get(Project, int(project_id))
        else:
            project = None
        if project is None:
            raise not_found()
        return project_info(project)


def require(scope: str) -> Callable[[Request, str], Caller]:
    """A dependency: the authenticated caller, allowed `scope`, in the project the path names."""

    def dependency(request: Request, project_id: str) -> Caller:
        user_id, key_id, scopes = _authenticate(request)
        caller = Caller(user_id, key_id, scopes, _project(request, project_id))
        if not caller.allows(scope):
            raise PostHogAPIError(403, "permission_denied", f"API key missing required scope '{scope}'")
        return caller

    return dependency
