"""ClickHouse tables. Statements are idempotent, so opening an engine applies them every time."""

from __future__ import annotations

from footfall.engine.base import Engine

# Column order of `events`, as the flusher writes rows.
EVENT_COLUMNS = """
    project_id UInt32,
    uuid UUID,
    event LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    distinct_id String,
    person_id UUID,
    properties String CODEC(ZSTD(3)),
    person_properties String CODEC(ZSTD(3)),
    user_id String,
    device_id String,
    session_id Int64,
    session String,
    insert_id String,
    event_id Int64,
    app_version LowCardinality(String),
    platform LowCardinality(String),
    os_name LowCardinality(String),
    os_version LowCardinality(String),
    device_brand LowCardinality(String),
    device_manufacturer LowCardinality(String),
    device_model LowCardinality(String),
    device_type LowCardinality(String),
    carrier LowCardinality(String),
    country LowCardinality(String),
    region LowCardinality(String),
    city LowCardinality(String),
    dma LowCardinality(String),
    language LowCardinality(String),
    ip String,
    location_lat Nullable(Float64),
    location_lng Nullable(Float64),
    library LowCardinality(String),
    groups String,
    group_properties String,
    user_properties String CODEC(ZSTD(3)),
    extra String CODEC(ZSTD(3)),
    client_upload_time DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    source LowCardinality(String),
    wal_pos UInt64
"""

STATEMENTS = [
    f"""CREATE TABLE IF NOT EXISTS events ({EVENT_COLUMNS},
        INDEX received_idx received_at TYPE minmax GRANULARITY 4,
        INDEX session_idx session TYPE bloom_filter GRANULARITY 4)
    ENGINE = MergeTree
    PARTITION BY toYYYYMM(timestamp)
    ORDER BY (project_id, event, toDate(timestamp), person_id, timestamp)
    SETTINGS non_replicated_deduplication_window = 10000""",
    # Current person state, mirrored from the metadata store; the newest version wins.
    """CREATE TABLE IF NOT EXISTS persons (
        project_id UInt32, id UUID, created_at DateTime64(3, 'UTC'), properties String,
        is_identified UInt8, is_deleted UInt8, version UInt64)
    ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, id)""",
    """CREATE TABLE IF NOT EXISTS person_distinct_ids (
        project_id UInt32, distinct_id String, person_id UUID, is_deleted UInt8, version UInt64)
    ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, distinct_id)""",
    # Merged-away persons: queries map events.person_id through this (small) table.
    """CREATE TABLE IF NOT EXISTS person_overrides (
        project_id UInt32, old_person_id UUID, person_id UUID, version UInt64)
    ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, old_person_id)""",
    # Cohort membership as queries read it: static cohorts' members as added, dynamic cohorts' as last
    # computed. The newest version per person wins; is_deleted = 1 removes (footfall.query.cohorts).
    """CREATE TABLE IF NOT EXISTS cohort_members (
        project_id UInt32, cohort_id UInt64, person_id UUID, is_deleted UInt8, version UInt64)
    ENGINE = ReplacingMergeTree(version) ORDER BY (project_id, cohort_id, person_id)""",
    # Seen insert_ids / uuids, for Amplitude's 7-day insert_id dedupe and PostHog's uuid dedupe.
    # Imported events' keys are permanent: importing the same file again, weeks later, stores nothing.
    """CREATE TABLE IF NOT EXISTS dedupe_keys (
        project_id UInt32, key UInt64, wal_pos UInt64, seen_at DateTime('UTC'), permanent UInt8 DEFAULT 0)
    ENGINE = MergeTree ORDER BY (project_id, key)
    TTL seen_at + INTERVAL 8 DAY DELETE WHERE permanent = 0
    SETTINGS non_replicated_deduplication_window = 10000""",
]


def apply_schema(engine: Engine) -> None:
    for statement in STATEMENTS:
        engine.command(statement)
    _upgrade_dedupe_keys(engine)


def _upgrade_dedupe_keys(engine: Engine) -> None:
    """Data dirs created before permanent keys: add the column, and keep permanent rows past the TTL."""
    definition = engine.scalar(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'dedupe_keys'"
    )
    if definition and "permanent" not in definition:
        engine.command("ALTER TABLE dedupe_keys ADD COLUMN IF NOT EXISTS permanent UInt8 DEFAULT 0")
        engine.command("ALTER TABLE dedupe_keys MODIFY TTL seen_at + INTERVAL 8 DAY DELETE WHERE permanent = 0")
