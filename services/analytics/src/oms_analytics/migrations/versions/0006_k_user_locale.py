"""Each supplier user's language (from account.updated): the Excel export speaks it.

Revision ID: 0006k
Revises: 0005a
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006k"
down_revision = "0005a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("an_users", sa.Column("locale", sa.String(10), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("an_users") as batch:
        batch.drop_column("locale")
