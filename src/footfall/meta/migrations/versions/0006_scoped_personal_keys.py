"""personal API keys confined to some projects (PostHog's scoped_teams)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("personal_api_keys") as batch:
        batch.add_column(sa.Column("scoped_teams", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("personal_api_keys") as batch:
        batch.drop_column("scoped_teams")
