"""Personal API keys with scopes, and the project a PostHog URL names.

A key is read from `Authorization: Bearer`, then a `personal_api_key` query parameter (as PostHog does);
without one, the web UI's session cookie (footfall.ui.session) authenticates the signed-in admin.
Scopes are `<object>:<read|write>` or `*`; write implies read. A missing scope is 403, a bad key 401.
A key scoped to some projects (PostHog's scoped_teams) gets 403 from the others' endpoints.
Project ids are numbers or `@current` (the first project the caller reaches).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy import select, update

from footfall.api.posthog.errors import PostHogAPIError, not_found
from footfall.meta.accounts import LOOKUP_LENGTH, ProjectInfo, project_info
from footfall.meta.models import PersonalApiKey, Project, utcnow
from footfall.routing import row_id
from footfall.security import verifier
from footfall.ui import session as ui_session

# Every scope an endpoint requires, gathered as the endpoints register: the settings page offers these.
SCOPES_CHECKED: set[str] = set()
LAST_USED_EVERY = dt.timedelta(hours=1)  # as PostHog, `last_used_at` is written at most hourly


@dataclass(frozen=True)
class Identity:
    """Who calls: a personal API key (key_id > 0) or the web UI's signed-in admin (key_id 0, every scope)."""

    user_id: int
    key_id: int
    scopes: frozenset[str]
    scoped_teams: frozenset[int]  # empty: every project

    def allows(self, scope: str) -> bool:
        obj, _, action = scope.partition(":")
        return "*" in self.scopes or scope in self.scopes or (action == "read" and f"{obj}:write" in self.scopes)

    def reaches(self, project_id: int) -> bool:
        return not self.scoped_teams or project_id in self.scoped_teams


@dataclass(frozen=True)
class Caller(Identity):
    project: ProjectInfo


def _key(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("personal_api_key", "")


def authenticate(request: Request) -> Identity:
    key = _key(request)
    if not key:
        return _browser(request)
    meta = request.app.state.runtime.meta
    with meta.session() as session:
        candidates = session.scalars(select(PersonalApiKey).where(PersonalApiKey.lookup == key[:LOOKUP_LENGTH])).all()
    for record in candidates:
        if verifier.verify(record.key_hash, key):
            _note_use(request, record)
            teams = frozenset(int(t) for t in record.scoped_teams or [])
            return Identity(record.user_id, record.id, frozenset(record.scopes or []), teams)
    raise PostHogAPIError(401, "authentication_failed", "Personal API key found in request is invalid.")


def _note_use(request: Request, record: PersonalApiKey) -> None:
    now, used = utcnow(), record.last_used_at
    if used is not None and now - used.replace(tzinfo=used.tzinfo or dt.UTC) < LAST_USED_EVERY:
        return
    with request.app.state.runtime.meta.session() as session, session.begin():
        session.execute(update(PersonalApiKey).where(PersonalApiKey.id == record.id).values(last_used_at=now))


def _browser(request: Request) -> Identity:
    """The web UI's signed-in admin: every scope, and a CSRF token on requests that change state."""
    user = ui_session.current(request)
    if user is None:
        raise PostHogAPIError(401, "not_authenticated", "Authentication credentials were not provided.")
    if not ui_session.csrf_ok(request, user):
        raise PostHogAPIError(403, "csrf_failed", "CSRF token missing or incorrect.")
    return Identity(user.user_id, 0, frozenset({"*"}), frozenset())


def _missing(scope: str) -> PostHogAPIError:
    return PostHogAPIError(403, "permission_denied", f"API key missing required scope '{scope}'")


def allowed(scope: str) -> Callable[[Request], Identity]:
    """A dependency for endpoints outside a project (`/api/projects/`): the caller, allowed `scope`."""
    SCOPES_CHECKED.add(scope)

    def dependency(request: Request) -> Identity:
        who = authenticate(request)
        if not who.allows(scope):
            raise _missing(scope)
        return who

    return dependency


def _project(request: Request, project_id: str, who: Identity) -> ProjectInfo:
    meta = request.app.state.runtime.meta
    with meta.session() as session:
        if project_id == "@current":
            reachable = select(Project).order_by(Project.id)
            if who.scoped_teams:
                reachable = reachable.where(Project.id.in_(who.scoped_teams))
            project = session.scalar(reachable)
        else:
            number = row_id(project_id)
            project = session.get(Project, number) if number is not None else None
        if project is None:
            raise not_found()
        if not who.reaches(project.id):
            raise PostHogAPIError(
                403, "permission_denied", f"API key does not have access to the requested project: ID {project.id}."
            )
        return project_info(project)


def require(scope: str) -> Callable[[Request, str], Caller]:
    """A dependency: the authenticated caller, allowed `scope`, in the project the path names."""
    SCOPES_CHECKED.add(scope)

    def dependency(request: Request, project_id: str) -> Caller:
        who = authenticate(request)
        project = _project(request, project_id, who)  # an unknown project is 404 whatever the scopes
        if not who.allows(scope):
            raise _missing(scope)
        return Caller(who.user_id, who.key_id, who.scopes, who.scoped_teams, project)

    return dependency
