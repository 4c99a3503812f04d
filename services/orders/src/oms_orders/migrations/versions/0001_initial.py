"""Initial schema of the orders service.

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
        "accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("inn", sa.String(length=20), server_default="", nullable=False),
        sa.Column("kpp", sa.String(length=20), server_default="", nullable=False),
        sa.Column("next_order_number", sa.Integer(), server_default="1001", nullable=False),
        sa.Column("time_limits", sa.Text(), server_default="{}", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "buyers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=36), nullable=False),
        sa.Column("buyer_account_id", sa.String(length=36), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("inn", sa.String(length=20), server_default="", nullable=False),
        sa.Column("kpp", sa.String(length=20), server_default="", nullable=False),
        sa.Column("contacts", sa.Text(), server_default="", nullable=False),
        sa.Column("manager_user_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supplier_id", "buyer_account_id", name="uq_buyers_supplier_account"),
    )
    op.create_index(op.f("ix_buyers_buyer_account_id"), "buyers", ["buyer_account_id"], unique=False)
    op.create_index(op.f("ix_buyers_supplier_id"), "buyers", ["supplier_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("root_number", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.String(length=36), nullable=False),
        sa.Column("buyer_account_id", sa.String(length=36), nullable=True),
        sa.Column("buyer_name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("price_list_id", sa.String(length=36), nullable=True),
        sa.Column("price_list_name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("status_changed_at", UtcDateTime(), nullable=False),
        sa.Column("desired_shipment_date", sa.Date(), nullable=True),
        sa.Column("shipment_date", sa.Date(), nullable=True),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("one_shipment", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("responsible_user_id", sa.String(length=36), nullable=True),
        sa.Column("paid_amount", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
        sa.Column("total", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
        sa.Column("overdue", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("overdue_since", UtcDateTime(), nullable=True),
        sa.Column("reserve_status", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("parent_order_id", sa.String(length=36), nullable=True),
        sa.Column("next_part", sa.Integer(), server_default="1", nullable=False),
        sa.Column("split_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("placed_by_side", sa.String(length=10), server_default="buyer", nullable=False),
        sa.Column("deleted_by_supplier", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deleted_by_buyer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("supplier_id", "number", name="uq_orders_supplier_number"),
    )
    op.create_index(op.f("ix_orders_buyer_account_id"), "orders", ["buyer_account_id"], unique=False)
    op.create_index(op.f("ix_orders_buyer_id"), "orders", ["buyer_id"], unique=False)
    op.create_index(op.f("ix_orders_parent_order_id"), "orders", ["parent_order_id"], unique=False)
    op.create_index("ix_orders_supplier_created", "orders", ["supplier_id", "created_at"], unique=False)
    op.create_index("ix_orders_supplier_status", "orders", ["supplier_id", "status"], unique=False)
    op.create_table(
        "price_lists",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("warehouse_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("auto_confirm", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("link_token", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_token"),
    )
    op.create_index(op.f("ix_price_lists_supplier_id"), "price_lists", ["supplier_id"], unique=False)
    op.create_table(
        "warehouses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("supplier_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=100), server_default="", nullable=False),
        sa.Column("name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_warehouses_supplier_id"), "warehouses", ["supplier_id"], unique=False)
    op.create_table(
        "order_comments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("author_user_id", sa.String(length=36), nullable=False),
        sa.Column("author_name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("author_side", sa.String(length=10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_comments_order_id"), "order_comments", ["order_id"], unique=False)
    op.create_table(
        "order_documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("stored_name", sa.String(length=100), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_user_id", sa.String(length=36), nullable=False),
        sa.Column("uploaded_by_side", sa.String(length=10), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_documents_order_id"), "order_documents", ["order_id"], unique=False)
    op.create_table(
        "order_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("by_user_id", sa.String(length=36), nullable=True),
        sa.Column("by_side", sa.String(length=10), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_history_order_id"), "order_history", ["order_id"], unique=False)
    op.create_table(
        "order_line_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("line_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=100), server_default="", nullable=False),
        sa.Column("field", sa.String(length=30), nullable=False),
        sa.Column("old", sa.String(length=100), nullable=True),
        sa.Column("new", sa.String(length=100), nullable=True),
        sa.Column("by_user_id", sa.String(length=36), nullable=True),
        sa.Column("by_side", sa.String(length=10), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_line_changes_order_id"), "order_line_changes", ["order_id"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=500), server_default="", nullable=False),
        sa.Column("unit", sa.String(length=30), server_default="", nullable=False),
        sa.Column("warehouse_id", sa.String(length=36), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("price", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("additional", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reserved", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
        sa.Column("shortage", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"], unique=False)
    op.create_table(
        "price_list_buyers",
        sa.Column("price_list_id", sa.String(length=36), nullable=False),
        sa.Column("buyer_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["buyer_id"],
            ["buyers.id"],
        ),
        sa.ForeignKeyConstraint(
            ["price_list_id"],
            ["price_lists.id"],
        ),
        sa.PrimaryKeyConstraint("price_list_id", "buyer_id"),
    )
    op.create_table(
        "price_list_items",
        sa.Column("price_list_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), server_default="", nullable=False),
        sa.Column("unit", sa.String(length=30), server_default="", nullable=False),
        sa.Column("price", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("vat_rate", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["price_list_id"],
            ["price_lists.id"],
        ),
        sa.PrimaryKeyConstraint("price_list_id", "sku"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=300), server_default="", nullable=False),
        sa.Column("locale", sa.String(length=10), server_default="ru", nullable=False),
        sa.Column("is_owner", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("access_buyers", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("access_orders", sa.String(length=10), server_default="none", nullable=False),
        sa.Column("restricted_to_own_buyers", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_index(op.f("ix_users_account_id"), "users", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("price_list_items")
    op.drop_table("price_list_buyers")
    op.drop_table("order_lines")
    op.drop_table("order_line_changes")
    op.drop_table("order_history")
    op.drop_table("order_documents")
    op.drop_table("order_comments")
    op.drop_table("warehouses")
    op.drop_table("price_lists")
    op.drop_table("orders")
    op.drop_table("buyers")
    op.drop_table("accounts")
    op.drop_table("idempotency_keys")
    op.drop_table("inbox")
    op.drop_table("outbox")
