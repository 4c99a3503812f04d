"""Indexes that let the order list answer from an index at 1,000,000 orders (issue 3, bench/README.md).

One index per sortable column with ``id`` last (the list breaks ties by id, so a page and its keyset cursor come
straight from the index), the buyer and status filters in creation order, overdue orders as a partial index, the
buyer's own view; on PostgreSQL also the number prefix and a trigram index for the buyer-name substring search.
The indexes these extend are dropped.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# name -> the column between supplier_id and id
SORT_INDEXES = {
    "ix_orders_sup_created_id": ["created_at"],
    "ix_orders_sup_updated_id": ["updated_at"],
    "ix_orders_sup_total_id": ["total"],
    "ix_orders_sup_shipment_id": ["shipment_date"],
    "ix_orders_sup_paid_id": ["paid_amount"],
    "ix_orders_sup_buyer_name_id": ["buyer_name"],
    "ix_orders_sup_price_list_name_id": ["price_list_name"],
    "ix_orders_sup_status_id": ["status"],
    "ix_orders_sup_number_id": ["root_number", "number"],  # the "number" sort is (root_number, number)
    "ix_orders_sup_buyer_created_id": ["buyer_id", "created_at"],
    "ix_orders_sup_status_created_id": ["status", "created_at"],
}
REPLACED = {  # made redundant by the indexes above (same leading columns)
    "ix_orders_supplier_created": ["supplier_id", "created_at"],
    "ix_orders_supplier_status": ["supplier_id", "status"],
    "ix_orders_supplier_updated": ["supplier_id", "updated_at"],
    "ix_orders_supplier_total": ["supplier_id", "total"],
    "ix_orders_supplier_number": ["supplier_id", "root_number", "number"],
    "ix_orders_buyer_account_created": ["buyer_account_id", "created_at"],
    "ix_orders_buyer_account_id": ["buyer_account_id"],
}


def upgrade() -> None:
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "orders", ["supplier_id", *columns, "id"], unique=False)
    op.create_index(
        "ix_orders_sup_overdue_created_id",
        "orders",
        ["supplier_id", "created_at", "id"],
        unique=False,
        postgresql_where=sa.text("overdue IS TRUE"),
        sqlite_where=sa.text("overdue IS TRUE"),
    )
    op.create_index(
        "ix_orders_buyer_account_created_id", "orders", ["buyer_account_id", "created_at", "id"], unique=False
    )
    for name in REPLACED:
        op.drop_index(name, table_name="orders")
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_orders_sup_number_prefix",
            "orders",
            ["supplier_id", "number"],
            unique=False,
            postgresql_ops={"number": "varchar_pattern_ops"},
        )
        _trigram_index()


def _trigram_index() -> None:
    """The substring search on buyer names through pg_trgm; without the extension the search still works, slower."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm unavailable, buyer-name search runs without its index: %s", exc)
        return
    op.create_index(
        "ix_orders_buyer_name_trgm",
        "orders",
        [sa.text("lower(buyer_name) gin_trgm_ops")],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_orders_buyer_name_trgm")
        op.drop_index("ix_orders_sup_number_prefix", table_name="orders")
    for name, columns in REPLACED.items():
        op.create_index(name, "orders", columns, unique=False)
    op.drop_index("ix_orders_buyer_account_created_id", table_name="orders")
    op.drop_index("ix_orders_sup_overdue_created_id", table_name="orders")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="orders")
