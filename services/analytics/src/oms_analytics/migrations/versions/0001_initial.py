"""Initial schema of the analytics service: order read model, buyers, managers.

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
        "an_orders",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("number", sa.String(50), nullable=False, server_default=""),
        sa.Column("buyer_id", sa.String(36), nullable=True),
        sa.Column("buyer_name", sa.String(300), nullable=False, server_default=""),
        sa.Column("responsible_user_id", sa.String(36), nullable=True),
        sa.Column("price_list_id", sa.String(36), nullable=True),
        sa.Column("parent_order_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("placed_at", UtcDateTime(), nullable=True),
        sa.Column("placed_day", sa.Date(), nullable=True),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.Column("shipped_at", UtcDateTime(), nullable=True),
        sa.Column("rejected_at", UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(), nullable=True),
        sa.Column("hours_to_confirm", sa.Float(), nullable=True),
        sa.Column("hours_to_ship", sa.Float(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("deleted_by_supplier", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("versions", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_an_orders_tenant_day", "an_orders", ["tenant_id", "placed_day"])
    op.create_index("ix_an_orders_tenant_buyer_day", "an_orders", ["tenant_id", "buyer_id", "placed_day"])
    op.create_index("ix_an_orders_tenant_manager_day", "an_orders", ["tenant_id", "responsible_user_id", "placed_day"])
    op.create_table(
        "an_buyers",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("version", sa.String(80), nullable=False, server_default=""),
    )
    op.create_table(
        "an_buyer_managers",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_an_buyer_managers_user", "an_buyer_managers", ["tenant_id", "user_id"])
    op.create_table(
        "an_users",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("email", sa.String(300), nullable=False, server_default=""),
        sa.Column("version", sa.String(80), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("an_users")
    op.drop_table("an_buyer_managers")
    op.drop_table("an_buyers")
    op.drop_table("an_orders")
    op.drop_table("idempotency_keys")
    op.drop_table("inbox")
    op.drop_table("outbox")
