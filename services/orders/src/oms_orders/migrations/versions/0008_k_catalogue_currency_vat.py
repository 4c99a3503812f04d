"""The product catalogue replica (from product.updated), and each price list's and order's currency and VAT mode.

Revision ID: 0008k
Revises: 0009m
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0008k"
down_revision = "0009m"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("supplier_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False, server_default=""),
        sa.Column("unit", sa.String(30), nullable=False, server_default=""),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    for table in ("price_lists", "orders"):
        op.add_column(table, sa.Column("currency", sa.String(3), nullable=False, server_default="RUB"))
        op.add_column(table, sa.Column("vat_included", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    for table in ("price_lists", "orders"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("vat_included")
            batch.drop_column("currency")
    op.drop_table("products")
