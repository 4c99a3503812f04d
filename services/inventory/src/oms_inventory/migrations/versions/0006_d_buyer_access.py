"""Replica of buyers' managers and of each order's buyer: a restricted manager sees only their buyers' reserves.

Revision ID: 0006d
Revises: 0006e
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006d"
down_revision = "0006e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inv_access_buyers",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.String(80), nullable=False),
    )
    op.create_table(
        "inv_access_buyer_managers",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_inv_access_buyer_managers_user", "inv_access_buyer_managers", ["tenant_id", "user_id"])
    op.create_table(
        "inv_access_order_buyers",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("buyer_id", sa.String(36), nullable=False),
    )
    op.create_index("ix_inv_access_order_buyers_buyer", "inv_access_order_buyers", ["tenant_id", "buyer_id"])


def downgrade() -> None:
    op.drop_table("inv_access_order_buyers")
    op.drop_table("inv_access_buyer_managers")
    op.drop_table("inv_access_buyers")
