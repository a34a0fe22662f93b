"""Public links of dashboards and insights: one config each, a random token that rotates, hashed passwords."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from footfall.meta.models import SharePassword, SharingConfiguration
from footfall.security import hash_secret, new_token, verifier

MIN_PASSWORD = 8


def config_for(
    session: Session, project_id: int, dashboard_id: int | None = None, insight_id: int | None = None
) -> SharingConfiguration:
    """The object's sharing configuration, created (disabled) on first use."""
    query = select(SharingConfiguration).where(SharingConfiguration.project_id == project_id)
    query = (
        query.where(SharingConfiguration.dashboard_id == dashboard_id)
        if dashboard_id
        else query.where(SharingConfiguration.insight_id == insight_id)
    )
    found = session.scalar(query)
    if found is None:
        found = SharingConfiguration(
            project_id=project_id,
            dashboard_id=dashboard_id,
            insight_id=insight_id,
            access_token=new_token(nbytes=24),
            enabled=False,
            settings={},
        )
        session.add(found)
        session.flush()
    return found


def rotate(config: SharingConfiguration) -> None:
    """A new token: links with the old one stop working."""
    config.access_token = new_token(nbytes=24)


def add_password(
    session: Session, config: SharingConfiguration, user_id: int | None, raw: str | None, note: str
) -> tuple[SharePassword, str]:
    """A new password (generated when none is given); the plain text is returned only here."""
    password = raw if raw is not None else new_token(nbytes=12)
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"a password has at least {MIN_PASSWORD} characters")
    record = SharePassword(
        sharing_configuration_id=config.id, password_hash=hash_secret(password), note=note[:400], created_by_id=user_id
    )
    session.add(record)
    session.flush()
    return record, password


def passwords(session: Session, config: SharingConfiguration) -> list[SharePassword]:
    return list(
        session.scalars(
            select(SharePassword).where(
                SharePassword.sharing_configuration_id == config.id, SharePassword.is_active.is_(True)
            )
        )
    )


def check_password(session: Session, config: SharingConfiguration, password: str) -> bool:
    return any(verifier.verify(p.password_hash, password) for p in passwords(session, config))


def by_token(session: Session, token: str) -> SharingConfiguration | None:
    found = session.scalar(select(SharingConfiguration).where(SharingConfiguration.access_token == token))
    return found if found is not None and found.enabled else None
