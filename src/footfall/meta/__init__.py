"""Metadata: projects, keys, users, persons and (later) dashboards, in SQLite or PostgreSQL."""
