"""Initial schema of the inventory service.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime
from oms_shared.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "warehouses",
        sa.Column("warehouse_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("tenant_id", "code", name="uq_warehouses_tenant_code"),
    )
    op.create_table(
        "products",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("unit", sa.String(30), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "stock",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("warehouse_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_nonneg"),
        sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_nonneg"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_no_oversell"),
    )
    op.create_table(
        "incoming_stock",
        sa.Column("incoming_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("warehouse_id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("expected_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=True),
    )
    op.create_table(
        "order_line_reserves",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("line_id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(36), nullable=False, index=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("warehouse_id", sa.String(36), nullable=True),
        sa.Column("requested", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_order_line_reserves_item", "order_line_reserves", ["tenant_id", "warehouse_id", "sku", "state"])
    op.create_table(
        "holds",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("warehouse_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by_user_id", sa.String(36), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "reserve_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("warehouse_id", sa.String(36), nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("order_id", sa.String(36), nullable=True, index=True),
        sa.Column("line_id", sa.String(36), nullable=True),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
        sa.Column("by_user_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_reserve_ledger_item", "reserve_ledger", ["tenant_id", "warehouse_id", "sku"])
    op.create_table(
        "price_lists",
        sa.Column("price_list_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("warehouse_ids", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "price_list_items",
        sa.Column("price_list_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("unit", sa.String(30), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "price_list_items",
        "price_lists",
        "reserve_ledger",
        "holds",
        "order_line_reserves",
        "incoming_stock",
        "stock",
        "products",
        "warehouses",
        "idempotency_keys",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
