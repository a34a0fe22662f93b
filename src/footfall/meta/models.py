"""SQLAlchemy models. Every project-owned row carries project_id (tenancy is enforced in queries)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The public key SDKs send (Amplitude api_key, PostHog project token).
    api_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    secret_key_hash: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    first_name: Mapped[str] = mapped_column(String(150), default="")
    password_hash: Mapped[str] = mapped_column(String(200), default="")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PersonalApiKey(Base):
    """A PostHog-style personal API key: only a lookup prefix and an argon2 hash are stored."""

    __tablename__ = "personal_api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(100), default="")
    lookup: Mapped[str] = mapped_column(String(32), index=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    mask_value: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The project ids it is confined to (PostHog's scoped_teams); empty or null: every project.
    scoped_teams: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Person(Base):
    __tablename__ = "persons"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_identified: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class PersonDistinctId(Base):
    __tablename__ = "person_distinct_ids"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    distinct_id: Mapped[str] = mapped_column(String(1024), primary_key=True)  # Amplitude ids reach 1024
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class PersonOverride(Base):
    """A merged-away person and the person it now counts as (applied at query time)."""

    __tablename__ = "person_overrides"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    old_person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), index=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class Group(Base):
    __tablename__ = "groups"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_type: Mapped[str] = mapped_column(String(1024), primary_key=True)
    group_key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IngestState(Base):
    """Small durable counters of the ingestion pipeline (e.g. how far identity has been applied)."""

    __tablename__ = "ingest_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Insight(Base):
    """A saved chart: an Amplitude chart and a PostHog insight are the same row.

    `query` is PostHog's form, `{"kind": "InsightVizNode", "source": {"kind": "TrendsQuery", ...}}`. A chart
    saved from Amplitude Dashboard REST parameters keeps them in `amplitude` instead,
    `{"chart": "segmentation"|"funnels"|"retention", "params": {name: value | [values]}}`. `kind` names what
    it computes (TrendsQuery, FunnelsQuery, RetentionQuery, ...) so lists need not parse either.
    Amplitude addresses a chart by `short_id` (as in its chart URLs), PostHog by `id` or `short_id`.
    """

    __tablename__ = "insights"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    short_id: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    derived_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(64), default="")
    query: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    amplitude: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    saved: Mapped[bool] = mapped_column(Boolean, default=False)
    favorited: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    last_modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_modified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_refresh: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AnnotationCategory(Base):
    """Amplitude's annotation categories (PostHog has none; its annotations leave `category_id` empty)."""

    __tablename__ = "annotation_categories"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotation(Base):
    """One annotation for both products.

    Amplitude v2 `{id, date, label, details}` and v3 `{id, start, end, label, details, category, chart_id}`;
    PostHog `{id, content, date_marker, scope, dashboard_item, creation_type, deleted, ...}`. `content` is
    Amplitude's label; `date_marker` is v2's date (local midnight) and v3's start; `insight_id` is both
    Amplitude's chart_id and PostHog's dashboard_item. Deletion is soft (PostHog's `deleted`).
    """

    __tablename__ = "annotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[str] = mapped_column(Text, default="")
    date_marker: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    end_marker: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotation_categories.id", ondelete="SET NULL"), nullable=True
    )
    insight_id: Mapped[int | None] = mapped_column(ForeignKey("insights.id", ondelete="SET NULL"), nullable=True)
    dashboard_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # PostHog scope "dashboard"
    # PostHog: "dashboard_item" (one chart), "dashboard", "project", "organization".
    scope: Mapped[str] = mapped_column(String(24), default="project")
    creation_type: Mapped[str] = mapped_column(String(3), default="USR")  # USR or GIT
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Cohort(Base):
    """A set of persons, for both products: Amplitude behavioral cohorts and PostHog cohorts.

    Static cohorts list their members (`CohortMember`, mirrored to the engine's `cohort_members`).
    Dynamic cohorts have a `definition` in PostHog's form, `{"properties": {"type": "AND"|"OR", "values":
    [...]}}` with person-property (and cohort) filters; their members are computed into the engine's
    `cohort_members` (see `footfall.query.cohorts`), and `count`/`last_computed` record the last computation.
    """

    __tablename__ = "cohorts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(400), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_static: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    owners: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    last_computed: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    count: Mapped[int | None] = mapped_column(Integer, nullable=True)


class CohortMember(Base):
    """A static cohort's member (a person id as resolved when added; queries follow later merges)."""

    __tablename__ = "cohort_members"
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)


class CohortDownload(Base):
    """An Amplitude cohort download request (`/api/5/cohorts/request/...`); valid for 7 days."""

    __tablename__ = "cohort_downloads"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the request_id, from `secrets`
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    props: Mapped[bool] = mapped_column(Boolean, default=False)
    prop_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CustomEvent(Base):
    """An Amplitude custom event (`ce:<name>` in queries): any of `events`, Amplitude event objects
    `{"event_type", "filters"}`, matches it. Managed over `/api/2/custom-events` (`api/amplitude/custom_events`)."""

    __tablename__ = "custom_events"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(400))
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


Index("ix_person_distinct_ids_person", PersonDistinctId.project_id, PersonDistinctId.person_id)


class Dashboard(Base):
    """A PostHog dashboard. Deletion is soft (`deleted`); `creation_mode` is default|template|duplicate|unlisted."""

    __tablename__ = "dashboards"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(400), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    creation_mode: Mapped[str] = mapped_column(String(16), default="default")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    restriction_level: Mapped[int] = mapped_column(Integer, default=21)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    breakdown_colors: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unlisted_tag: Mapped[str | None] = mapped_column(String(200), nullable=True)  # one unlisted per tag
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_accessed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_refresh: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DashboardText(Base):
    """A text tile's body (PostHog's Text)."""

    __tablename__ = "texts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DashboardTile(Base):
    """An insight or a text on a dashboard, with its place in the grid (`layouts`) and colour."""

    __tablename__ = "dashboard_tiles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dashboard_id: Mapped[int] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"), index=True)
    insight_id: Mapped[int | None] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"), nullable=True)
    text_id: Mapped[int | None] = mapped_column(ForeignKey("texts.id", ondelete="CASCADE"), nullable=True)
    color: Mapped[str | None] = mapped_column(String(32), nullable=True)
    layouts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    filters_overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    show_description: Mapped[bool] = mapped_column(Boolean, default=False)
    transparent_background: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_refresh: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SharingConfiguration(Base):
    """Public link of a dashboard or an insight; the token is random and rotates on refresh."""

    __tablename__ = "sharing_configurations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    dashboard_id: Mapped[int | None] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=True)
    insight_id: Mapped[int | None] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    access_token: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    password_required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SharePassword(Base):
    """A password of a shared link, stored only as an argon2 hash."""

    __tablename__ = "share_passwords"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sharing_configuration_id: Mapped[int] = mapped_column(
        ForeignKey("sharing_configurations.id", ondelete="CASCADE"), index=True
    )
    password_hash: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(400), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class ExportedAsset(Base):
    """A PNG, PDF or CSV of a dashboard or insight, rendered in the background; content lives in the data dir."""

    __tablename__ = "exported_assets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    dashboard_id: Mapped[int | None] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=True)
    insight_id: Mapped[int | None] = mapped_column(ForeignKey("insights.id", ondelete="CASCADE"), nullable=True)
    export_format: Mapped[str] = mapped_column(String(100))
    export_context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_path: Mapped[str | None] = mapped_column(String(400), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    expires_after: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FileSystemEntry(Base):
    """PostHog's file system: folders and items (dashboards, insights, …) at slash-separated paths."""

    __tablename__ = "file_system"
    __table_args__ = (UniqueConstraint("project_id", "path", "type", "ref"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    depth: Mapped[int] = mapped_column(Integer, default=1)
    type: Mapped[str] = mapped_column(String(100), default="folder")
    ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    href: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    shortcut: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    last_viewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EventDefinition(Base):
    """An event name a project has ingested (PostHog's event definitions), kept up to date by the flusher."""

    __tablename__ = "event_definitions"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(400))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # first ingested
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # last ingested
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # last edited


class PropertyDefinition(Base):
    """A property key of a project's events (`kind` 1) or persons (`kind` 2), with the type its first typed
    value suggested (String, Numeric, Boolean, DateTime; None until a typed value arrives)."""

    __tablename__ = "property_definitions"
    __table_args__ = (UniqueConstraint("project_id", "kind", "name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(400))
    property_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EventProperty(Base):
    """An event property key seen on an event name (PostHog's `event_names` filter of property definitions)."""

    __tablename__ = "event_properties"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    event: Mapped[str] = mapped_column(String(400), primary_key=True)
    property: Mapped[str] = mapped_column(String(400), primary_key=True)


__all__ = [
    "Annotation",
    "AnnotationCategory",
    "Base",
    "Cohort",
    "CohortDownload",
    "CohortMember",
    "CustomEvent",
    "Dashboard",
    "DashboardText",
    "DashboardTile",
    "EventDefinition",
    "EventProperty",
    "ExportedAsset",
    "FileSystemEntry",
    "Group",
    "IngestState",
    "Insight",
    "Person",
    "PersonDistinctId",
    "PersonOverride",
    "PersonalApiKey",
    "Project",
    "PropertyDefinition",
    "SharePassword",
    "SharingConfiguration",
    "User",
]
