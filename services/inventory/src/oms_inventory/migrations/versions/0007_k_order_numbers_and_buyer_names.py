"""Each order's number and each buyer's name (from the order and buyer events): drill-downs name them.

Revision ID: 0007k
Revises: 0007j
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007k"
down_revision = "0007j"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inv_access_buyers", sa.Column("name", sa.String(300), nullable=False, server_default=""))
    op.add_column("inv_access_order_buyers", sa.Column("number", sa.String(50), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("inv_access_order_buyers") as batch:
        batch.drop_column("number")
    with op.batch_alter_table("inv_access_buyers") as batch:
        batch.drop_column("name")
