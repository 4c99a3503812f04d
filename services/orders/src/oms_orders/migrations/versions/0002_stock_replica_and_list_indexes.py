"""Availability replica for the split preview; indexes for the order list's sorts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stock_levels",
        sa.Column("warehouse_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("supplier_id", sa.String(length=36), nullable=False),
        sa.Column("available", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("incoming", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("warehouse_id", "sku"),
    )
    op.create_index(op.f("ix_stock_levels_supplier_id"), "stock_levels", ["supplier_id"], unique=False)
    op.create_index("ix_orders_supplier_updated", "orders", ["supplier_id", "updated_at"], unique=False)
    op.create_index("ix_orders_supplier_total", "orders", ["supplier_id", "total"], unique=False)
    op.create_index("ix_orders_supplier_number", "orders", ["supplier_id", "root_number", "number"], unique=False)
    op.create_index("ix_orders_buyer_account_created", "orders", ["buyer_account_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_buyer_account_created", table_name="orders")
    op.drop_index("ix_orders_supplier_number", table_name="orders")
    op.drop_index("ix_orders_supplier_total", table_name="orders")
    op.drop_index("ix_orders_supplier_updated", table_name="orders")
    op.drop_index(op.f("ix_stock_levels_supplier_id"), table_name="stock_levels")
    op.drop_table("stock_levels")
