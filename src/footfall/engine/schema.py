"""ClickHouse tables. Statements are idempotent, so opening an engine applies them every time."""

from __future__ import annotations

from footfall.engine.base import Engine


def json_value_sql(column: str, key: str) -> str:
    """A key of a JSON properties column as a string: a string's text, other values as their JSON ('3', 'true',
    '[1,2]'), '' when unset or null. (JSONExtract to String returns a non-string's JSON; one parse.)"""
    return f"JSONExtract({column}, {key}, 'String')"


# Hot event properties kept in columns of their own, computed from `properties` at insert (as PostHog's
# `mat_$current_url`): paths, breakdowns and filters on them read a small column instead of parsing every
# event's JSON. Key → (column, type); queries map a key to its column through this fixed table.
MATERIALIZED = {
    "$current_url": ("mat_current_url", "String"),
    "$pathname": ("mat_pathname", "String"),
    "$screen_name": ("mat_screen_name", "LowCardinality(String)"),
    "$host": ("mat_host", "LowCardinality(String)"),
    "$referring_domain": ("mat_referring_domain", "LowCardinality(String)"),
    "$browser": ("mat_browser", "LowCardinality(String)"),
    "$os": ("mat_os", "LowCardinality(String)"),
    "$device_type": ("mat_device_type", "LowCardinality(String)"),
}
# All of them from one parse of the JSON: a tuple named by the keys, whose String elements hold what
# `json_value_sql` gives. The identical extraction in every column's expression is computed once per insert
# (an extraction per column added about twice as much insert CPU).
_HOT = "JSONExtract(properties, 'Tuple(" + ", ".join(f"`{key}` String" for key in MATERIALIZED) + ")')"
_MATERIALIZED_COLUMNS = {
    column: f"{column} {kind} MATERIALIZED tupleElement({_HOT}, '{key}')"
    for key, (column, kind) in MATERIALIZED.items()
}

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
    f"""CREATE TABLE IF NOT EXISTS events ({EVENT_COLUMNS}, {", ".join(_MATERIALIZED_COLUMNS.values())},
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
    _upgrade_materialized(engine)


def _upgrade_dedupe_keys(engine: Engine) -> None:
    """Data dirs created before permanent keys: add the column, and keep permanent rows past the TTL."""
    definition = engine.scalar(
        "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'dedupe_keys'"
    )
    if definition and "permanent" not in definition:
        engine.command("ALTER TABLE dedupe_keys ADD COLUMN IF NOT EXISTS permanent UInt8 DEFAULT 0")
        engine.command("ALTER TABLE dedupe_keys MODIFY TTL seen_at + INTERVAL 8 DAY DELETE WHERE permanent = 0")


def _upgrade_materialized(engine: Engine) -> None:
    """Data dirs from before a materialized column: add it, and compute it for the stored parts in the background
    (a mutation rewriting only that column). Until then those parts compute it on read, as fast as before."""
    present = {
        row[0]
        for row in engine.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
        )
    }
    missing = [column for column in _MATERIALIZED_COLUMNS if column not in present]
    if missing:
        adds = ", ".join(f"ADD COLUMN IF NOT EXISTS {_MATERIALIZED_COLUMNS[column]}" for column in missing)
        engine.command(f"ALTER TABLE events {adds}")
        materialize = ", ".join(f"MATERIALIZE COLUMN {column}" for column in missing)
        engine.command(f"ALTER TABLE events {materialize} SETTINGS mutations_sync = 0")  # not waited for
