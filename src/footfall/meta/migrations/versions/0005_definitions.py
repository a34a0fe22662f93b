"""event and property definitions, derived at ingestion (PostHog's event_definitions/property_definitions)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name"),
    )
    with op.batch_alter_table("event_definitions") as batch_op:
        batch_op.create_index(batch_op.f("ix_event_definitions_project_id"), ["project_id"], unique=False)

    op.create_table(
        "property_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("property_type", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "kind", "name"),
    )
    with op.batch_alter_table("property_definitions") as batch_op:
        batch_op.create_index(batch_op.f("ix_property_definitions_project_id"), ["project_id"], unique=False)

    op.create_table(
        "event_properties",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=400), nullable=False),
        sa.Column("property", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "event", "property"),
    )


def downgrade() -> None:
    op.drop_table("event_properties")
    with op.batch_alter_table("property_definitions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_property_definitions_project_id"))
    op.drop_table("property_definitions")
    with op.batch_alter_table("event_definitions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_definitions_project_id"))
    op.drop_table("event_definitions")
