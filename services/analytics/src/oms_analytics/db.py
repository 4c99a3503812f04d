"""Tables of the analytics service: the order read model, its rollups and the names of buyers and managers."""

from __future__ import annotations

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)

orders = sa.Table(
    "an_orders",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("number", sa.String(50), nullable=False, server_default=""),
    sa.Column("buyer_id", sa.String(36), nullable=True),
    sa.Column("buyer_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("responsible_user_id", sa.String(36), nullable=True),
    sa.Column("price_list_id", sa.String(36), nullable=True),
    sa.Column("parent_order_id", sa.String(36), nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    # Money in hundredths: exact sums on SQLite as well as PostgreSQL.
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
    sa.Index("ix_an_orders_tenant_day", "tenant_id", "placed_day"),
    sa.Index("ix_an_orders_tenant_buyer_day", "tenant_id", "buyer_id", "placed_day"),
    sa.Index("ix_an_orders_tenant_manager_day", "tenant_id", "responsible_user_id", "placed_day"),
)

buyers = sa.Table(
    "an_buyers",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("version", sa.String(80), nullable=False, server_default=""),
)

buyer_managers = sa.Table(
    "an_buyer_managers",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Index("ix_an_buyer_managers_user", "tenant_id", "user_id"),
)

users = sa.Table(
    "an_users",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("email", sa.String(300), nullable=False, server_default=""),
    sa.Column("version", sa.String(80), nullable=False, server_default=""),
    sa.Column("locale", sa.String(10), nullable=False, server_default=""),  # 0006k: the export's language
)

# Per-day rollups of an_orders, kept in the same transaction as the rows they summarise.
daily = sa.Table(
    "an_daily",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("status", sa.String(30), primary_key=True),
    sa.Column("confirmed", sa.Boolean(), primary_key=True),
    sa.Column("shipped", sa.Boolean(), primary_key=True),
    sa.Column("overdue", sa.Boolean(), primary_key=True),
    sa.Column("orders", sa.BigInteger(), nullable=False),
    sa.Column("total_minor", sa.BigInteger(), nullable=False),
    sa.Column("paid_minor", sa.BigInteger(), nullable=False),
)

daily_hours = sa.Table(
    "an_daily_hours",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("day", sa.Date(), primary_key=True),
    sa.Column("metric", sa.String(10), primary_key=True),
    sa.Column("bin", sa.Integer(), primary_key=True),
    sa.Column("n", sa.BigInteger(), nullable=False),
)


def _group_rollup(name: str, key: str) -> sa.Table:
    """Per-day rollups of one grouping (buyer, responsible manager): grouped summaries read these."""
    return sa.Table(
        name,
        metadata,
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        # NO_GROUP ("") stands for an order without one: a primary key column cannot be NULL.
        sa.Column(key, sa.String(36), primary_key=True),
        sa.Column("status", sa.String(30), primary_key=True),
        sa.Column("confirmed", sa.Boolean(), primary_key=True),
        sa.Column("shipped", sa.Boolean(), primary_key=True),
        sa.Column("overdue", sa.Boolean(), primary_key=True),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
    )


daily_buyers = _group_rollup("an_daily_buyers", "buyer_id")
daily_managers = _group_rollup("an_daily_managers", "responsible_user_id")

READ_MODEL_TABLES = (orders, buyers, buyer_managers, users, daily, daily_hours, daily_buyers, daily_managers)
