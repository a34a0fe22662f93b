"""Projects, the admin user and personal API keys: creation and lookup."""

from __future__ import annotations

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
    pass


@dataclass(frozen=True)
class ProjectInfo:
    id: int
    name: str
    api_key: str
    timezone: str
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # per-project limits and options


def project_info(project: Project) -> ProjectInfo:
    return ProjectInfo(project.id, project.name, project.api_key, project.timezone, dict(project.settings or {}))


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise AccountError(f"unknown time zone: {name}") from exc
    return name


def create_project(session: Session, name: str, timezone: str = "UTC") -> dict[str, Any]:
    """A new project; its secret key is returned here once and only stored hashed."""
    name = name.strip()
    if not name or len(name) > 200:
        raise AccountError("a project name has 1 to 200 characters")
    if session.scalar(select(Project.id).where(Project.name == name)) is not None:
        raise AccountError(f"a project named {name!r} exists already")
    secret = new_token(nbytes=24)
    project = Project(
        name=name,
        api_key=new_token(nbytes=16).replace("-", "a").replace("_", "b"),
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
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    user = admin_user(session)
    user.password_hash = hash_secret(password)
    return user


def check_login(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.password_hash or not verifier.verify(user.password_hash, password):
        return None
    return user


def create_personal_key(session: Session, scopes: list[str], label: str = "") -> dict[str, Any]:
    """A PostHog-style personal API key for the admin user; the key is shown once."""
    user = admin_user(session)
    key = new_token(KEY_PREFIX, nbytes=30)
    record = PersonalApiKey(
        user_id=user.id,
        label=label,
        lookup=key[:LOOKUP_LENGTH],
        key_hash=hash_secret(key),
        mask_value=f"{key[:6]}...{key[-4:]}",
        scopes=scopes,
    )
    session.add(record)
    session.flush()
    return {"id": record.id, "key": key, "label": label, "scopes": scopes}


def project_by_name(session: Session, name: str) -> Project:
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        raise AccountError(f"no project named {name!r}")
    return project


class ProjectCache:
    """api_key → project for the ingest hot path; unknown keys are remembered briefly too."""

    def __init__(self, meta: MetaDB, negative_ttl: float = 5.0) -> None:
        self.meta = meta
        self._known: dict[str, ProjectInfo] = {}
        self._unknown: dict[str, float] = {}
        self._negative_ttl = negative_ttl
        self._lock = threading.Lock()

    def by_api_key(self, api_key: str) -> ProjectInfo | None:
        info = self._known.get(api_key)
        if info is not None:
            return info
        now = time.monotonic()
        if self._unknown.get(api_key, 0) > now:
            return None
        with self.meta.session() as session:
            project = session.scalar(select(Project).where(Project.api_key == api_key))
        with self._lock:
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
            self._known.clear()
            self._unknown.clear()
