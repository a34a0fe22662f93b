"""Projects, the admin user and personal API keys: creation and lookup."""

from __future__ import annotations

import functools
import re
import threading
import time
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.db import MetaDB
from footfall.meta.models import PersonalApiKey, Project, User
from footfall.security import hash_secret, new_token, verifier

ADMIN_EMAIL = "admin@localhost"
KEY_PREFIX = "phx_"
LOOKUP_LENGTH = 12


class AccountError(ValueError):
    """Bad input; `field` names the input at fault (an API reports it as PostHog's `attr`)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    api_key: str
    timezone: str
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # per-project limits and options


def project_info(project: Project) -> ProjectInfo:
    return ProjectInfo(project.id, project.name, project.api_key, project.timezone, dict(project.settings or {}))


@functools.cache
def timezones() -> frozenset[str]:
    """IANA zone names; `localtime` is this machine's setting, not a zone the query engine knows."""
    return frozenset(zoneinfo.available_timezones() - {"localtime"})


def check_timezone(name: str) -> str:
    if name not in timezones():
        raise AccountError(f"unknown time zone: {name}", "timezone")
    return name


def check_project_name(session: Session, name: str, project_id: int | None = None) -> str:
    """A valid name no other project has (`project_id`: the project being renamed)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise AccountError("a project name has 1 to 200 characters", "name")
    if session.scalar(select(Project.id).where(Project.name == name, Project.id != (project_id or 0))) is not None:
        raise AccountError(f"a project named {name!r} exists already", "name")
    return name


def _new_api_key() -> str:
    return new_token(nbytes=16).replace("-", "a").replace("_", "b")


def create_project(session: Session, name: str, timezone: str = "UTC") -> dict[str, Any]:
    """A new project; its secret key is returned here once and only stored hashed."""
    secret = new_token(nbytes=24)
    project = Project(
        name=check_project_name(session, name),
        api_key=_new_api_key(),
        secret_key_hash=hash_secret(secret),
        timezone=check_timezone(timezone),
        settings={},
    )
    session.add(project)
    session.flush()
    return {
        "id": project.id,
        "name": project.name,
        "api_key": project.api_key,
        "secret_key": secret,
        "timezone": project.timezone,
    }


def reset_api_key(project: Project) -> str:
    """A new ingest key (PostHog's reset_token); SDKs still sending the old one are refused once the
    ProjectCache forgets it."""
    project.api_key = _new_api_key()
    return project.api_key


def reset_secret_key(project: Project) -> str:
    """A new secret for Amplitude's HTTP Basic auth, returned once; the old one stops working at once."""
    secret = new_token(nbytes=24)
    project.secret_key_hash = hash_secret(secret)
    return secret


def admin_user(session: Session) -> User:
    user = session.scalar(select(User).where(User.is_admin.is_(True)).order_by(User.id))
    if user is None:
        user = User(email=ADMIN_EMAIL, first_name="Admin", is_admin=True)
        session.add(user)
        session.flush()
    return user


MIN_PASSWORD = 8


def set_admin_password(session: Session, password: str) -> User:
    """Set the admin user's password (stored as an argon2 hash); every existing browser session ends."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters", "password")
    user = admin_user(session)
    user.password_hash = hash_secret(password)
    return user


def change_admin_password(session: Session, current: str, new: str) -> User:
    """The admin's password changed by someone who knows the current one."""
    user = admin_user(session)
    if not user.password_hash or not verifier.verify(user.password_hash, current):
        raise AccountError("the current password is wrong", "current_password")
    return set_admin_password(session, new)


def check_login(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.password_hash or not verifier.verify(user.password_hash, password):
        return None
    return user


# PostHog's form: `*`, or `<object>:<read|write>` (posthog/scopes.py); objects footfall does not check are kept.
_SCOPE = re.compile(r"[a-z][a-z_]*:(read|write)")
MAX_LABEL = 40  # PostHog's PersonalAPIKey.label


def check_scopes(scopes: list[str]) -> list[str]:
    if not scopes:
        raise AccountError("a key needs at least one scope", "scopes")
    for scope in scopes:
        if scope != "*" and not _SCOPE.fullmatch(scope):
            raise AccountError(f"Invalid scope: {scope}", "scopes")
    return list(dict.fromkeys(scopes))


def create_personal_key(
    session: Session, scopes: list[str], label: str = "", scoped_teams: list[int] | None = None
) -> dict[str, Any]:
    """A PostHog-style personal API key for the admin user; the key is shown once.

    `scoped_teams` confines it to those projects (none: every project), as PostHog's scoped keys."""
    label = label.strip()
    if len(label) > MAX_LABEL:
        raise AccountError(f"a label has at most {MAX_LABEL} characters", "label")
    teams = sorted(set(scoped_teams or []))
    if teams and len(session.scalars(select(Project.id).where(Project.id.in_(teams))).all()) != len(teams):
        raise AccountError("You must be a member of all teams that you are scoping the key to.", "scoped_teams")
    user = admin_user(session)
    key = new_token(KEY_PREFIX, nbytes=30)
    record = PersonalApiKey(
        user_id=user.id,
        label=label,
        lookup=key[:LOOKUP_LENGTH],
        key_hash=hash_secret(key),
        mask_value=f"{key[:6]}...{key[-4:]}",
        scopes=check_scopes(scopes),
        scoped_teams=teams,
    )
    session.add(record)
    session.flush()
    return {"id": record.id, "key": key, "label": label, "scopes": record.scopes, "scoped_teams": teams}


def project_by_name(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise AccountError(f"no project named {name!r}")
    return project


class ProjectCache:
    """api_key → project for the ingest hot path; unknown keys are remembered briefly too.

    Whoever changes a project's key or settings calls `forget()`. A lookup that read the database before
    a `forget()` does not store what it read: a rotated key must not slip back in."""

    def __init__(self, meta: MetaDB, negative_ttl: float = 5.0) -> None:
        self.meta = meta
        self._known: dict[str, ProjectInfo] = {}
        self._unknown: dict[str, float] = {}
        self._negative_ttl = negative_ttl
        self._lock = threading.Lock()
        self._generation = 0

    def by_api_key(self, api_key: str) -> ProjectInfo | None:
        info = self._known.get(api_key)
        if info is not None:
            return info
        now = time.monotonic()
        if self._unknown.get(api_key, 0) > now:
            return None
        generation = self._generation
        with self.meta.session() as session:
            project = session.scalar(select(Project).where(Project.api_key == api_key))
        with self._lock:
            if generation != self._generation:
                return None if project is None else project_info(project)
            if project is None:
                if len(self._unknown) > 10_000:
                    self._unknown.clear()
                self._unknown[api_key] = now + self._negative_ttl
                return None
            self._known[api_key] = project_info(project)
            return self._known[api_key]

    def verify_secret(self, api_key: str, secret: str) -> ProjectInfo | None:
        """The project whose api_key and secret_key these are (Amplitude's Basic auth)."""
        with self.meta.session() as session:
            project = session.scalar(select(Project).where(Project.api_key == api_key))
        if project is None or not verifier.verify(project.secret_key_hash, secret):
            return None
        return project_info(project)

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._known.clear()
            self._unknown.clear()
