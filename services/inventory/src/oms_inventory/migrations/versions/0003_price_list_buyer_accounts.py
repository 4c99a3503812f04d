"""Which buyer accounts may read a price list's availability (from ``pricelist.updated``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("price_lists", sa.Column("buyer_account_ids", sa.Text(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("price_lists") as batch:
        batch.drop_column("buyer_account_ids")
