"""wider distinct ids and group keys: Amplitude ids and group values are up to 1024 characters

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_WIDENED = (("person_distinct_ids", "distinct_id", 400), ("groups", "group_type", 200), ("groups", "group_key", 400))


def upgrade() -> None:
    for table, column, old in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(old), type_=sa.String(1024), existing_nullable=False)


def downgrade() -> None:
    for table, column, old in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, existing_type=sa.String(1024), type_=sa.String(old), existing_nullable=False)
