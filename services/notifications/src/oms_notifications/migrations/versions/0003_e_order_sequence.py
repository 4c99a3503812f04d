"""The version (event sequence) of the order replica: an older order event does not overwrite a newer state.

Revision ID: 0003e
Revises: 0003g
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003e"
down_revision = "0003g"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nt_orders", sa.Column("sequence", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("nt_orders", "sequence")
