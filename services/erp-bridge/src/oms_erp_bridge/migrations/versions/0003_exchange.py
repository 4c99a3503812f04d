"""The 1C exchange and the JSON ERP API: connections, sessions, files, order/buyer/warehouse replicas, product map.

The first queue of confirmed orders (erp_order_queue) is replaced by erp_orders, which keeps a version per
order and the version the ERP took; the bridge had not exchanged with any ERP yet, so nothing is carried over.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("erp_order_queue")
    op.create_table(
        "erp_connections",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("login", sa.String(100), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("encoding", sa.String(20), nullable=False),
        sa.Column("status_map", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "erp_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("query_snapshot", sa.Text(), nullable=True),
    )
    op.create_table(
        "erp_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=True),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.UniqueConstraint("session_id", "filename", name="uq_erp_files_session_name"),
    )
    with op.batch_alter_table("erp_exchange_log") as batch:
        batch.add_column(sa.Column("session_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("filename", sa.String(255), nullable=True))
    op.create_index("ix_erp_exchange_log_tenant_started", "erp_exchange_log", ["tenant_id", "started_at"])
    op.create_table(
        "erp_orders",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("number", sa.String(50), nullable=False),
        sa.Column("buyer_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("exportable", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("exported_version", sa.Integer(), nullable=False),
        sa.Column("exported_at", UtcDateTime(), nullable=True),
        sa.Column("erp_number", sa.String(100), nullable=False),
        sa.Column("erp_version", sa.String(100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_erp_orders_pending", "erp_orders", ["tenant_id", "exportable", "exported_version", "version"]
    )
    op.create_table(
        "erp_buyers",
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("inn", sa.String(20), nullable=False),
        sa.Column("kpp", sa.String(20), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "erp_warehouses",
        sa.Column("warehouse_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("erp_id", sa.String(100), nullable=True),
        sa.UniqueConstraint("tenant_id", "erp_id", name="uq_erp_warehouses_erp_id"),
    )
    op.create_table(
        "erp_products",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("erp_id", sa.String(100), primary_key=True),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("unit", sa.String(30), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_erp_products_sku", "erp_products", ["tenant_id", "sku"])


def downgrade() -> None:
    op.drop_index("ix_erp_products_sku", table_name="erp_products")
    op.drop_table("erp_products")
    op.drop_table("erp_warehouses")
    op.drop_table("erp_buyers")
    op.drop_index("ix_erp_orders_pending", table_name="erp_orders")
    op.drop_table("erp_orders")
    op.drop_index("ix_erp_exchange_log_tenant_started", table_name="erp_exchange_log")
    with op.batch_alter_table("erp_exchange_log") as batch:
        batch.drop_column("filename")
        batch.drop_column("session_id")
    op.drop_table("erp_files")
    op.drop_table("erp_sessions")
    op.drop_table("erp_connections")
    op.create_table(
        "erp_order_queue",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("number", sa.String(50), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("queued_at", UtcDateTime(), nullable=False),
        sa.Column("exported_at", UtcDateTime(), nullable=True),
    )
