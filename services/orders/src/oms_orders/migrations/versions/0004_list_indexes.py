"""Indexes that let the order list answer from an index at 1,000,000 orders (bench/README.md).

One index per sortable column with ``id`` last (the list breaks ties by id, so a page and its keyset cursor come
straight from the index), the buyer and status filters in creation order, overdue orders as a partial index, the
buyer's own view; on PostgreSQL also the number prefix and a trigram index for the buyer-name substring search.
The indexes these extend are dropped.

On PostgreSQL every index is built ``CONCURRENTLY`` in an autocommit block: at a million orders a plain
``CREATE INDEX`` holds the table's write lock for the whole build, and orders could not be placed meanwhile.
Each statement is re-runnable (``IF NOT EXISTS``; a build left invalid by an interrupted run is dropped and
built again), because a concurrent build cannot be rolled back with the migration. See ADR 006.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import logging
from typing import Any

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
    if op.get_bind().dialect.name != "postgresql":
        _upgrade_in_transaction()
        return
    with op.get_context().autocommit_block():
        for name, columns in SORT_INDEXES.items():
            _create_concurrently(name, ["supplier_id", *columns, "id"])
        _create_concurrently(
            "ix_orders_sup_overdue_created_id",
            ["supplier_id", "created_at", "id"],
            postgresql_where=sa.text("overdue IS TRUE"),
        )
        _create_concurrently("ix_orders_buyer_account_created_id", ["buyer_account_id", "created_at", "id"])
        for name in REPLACED:
            op.drop_index(name, table_name="orders", postgresql_concurrently=True, if_exists=True)
        _create_concurrently(
            "ix_orders_sup_number_prefix", ["supplier_id", "number"], postgresql_ops={"number": "varchar_pattern_ops"}
        )
        _trigram_index()


def _upgrade_in_transaction() -> None:
    """SQLite: no concurrent builds there (one writer anyway); everything in the migration's transaction."""
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "orders", ["supplier_id", *columns, "id"], unique=False)
    op.create_index(
        "ix_orders_sup_overdue_created_id",
        "orders",
        ["supplier_id", "created_at", "id"],
        unique=False,
        sqlite_where=sa.text("overdue IS TRUE"),
    )
    op.create_index(
        "ix_orders_buyer_account_created_id", "orders", ["buyer_account_id", "created_at", "id"], unique=False
    )
    for name in REPLACED:
        op.drop_index(name, table_name="orders")


def _create_concurrently(name: str, columns: list[Any], **kw: Any) -> None:
    """``CREATE INDEX CONCURRENTLY IF NOT EXISTS``; an invalid leftover of an interrupted build goes first."""
    valid = op.get_bind().scalar(
        sa.text(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND pg_table_is_visible(c.oid)"
        ),
        {"name": name},
    )
    if valid is False:
        log.warning("index %s was left invalid by an interrupted build; building it again", name)
        op.drop_index(name, table_name="orders", postgresql_concurrently=True, if_exists=True)
    op.create_index(name, "orders", columns, unique=False, postgresql_concurrently=True, if_not_exists=True, **kw)


def _trigram_index() -> None:
    """The substring search on buyer names through pg_trgm; without the extension the search still works, slower.

    Runs in the autocommit block: a failed CREATE EXTENSION ends only its own statement.
    """
    bind = op.get_bind()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm unavailable, buyer-name search runs without its index: %s", exc)
        return
    _create_concurrently(
        "ix_orders_buyer_name_trgm", [sa.text("lower(buyer_name) gin_trgm_ops")], postgresql_using="gin"
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
