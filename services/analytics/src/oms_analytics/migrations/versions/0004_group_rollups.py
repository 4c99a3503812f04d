"""Per-day rollups by buyer and by responsible manager, filled from the orders already in the read model.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, group column, the an_orders column it comes from)
GROUP_ROLLUPS = (
    ("an_daily_buyers", "buyer_id", "buyer_id"),
    ("an_daily_managers", "responsible_user_id", "responsible_user_id"),
)
# oms_analytics.domain.NO_GROUP as SQL text: a literal, not a parameter, so that PostgreSQL sees the select
# list and GROUP BY use the same expression.
NO_GROUP = sa.literal_column("''")

an_orders = sa.table(
    "an_orders",
    sa.column("tenant_id", sa.String()),
    sa.column("buyer_id", sa.String()),
    sa.column("responsible_user_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("placed_day", sa.Date()),
    sa.column("confirmed_at", sa.DateTime()),
    sa.column("shipped_at", sa.DateTime()),
    sa.column("overdue", sa.Boolean()),
    sa.column("total_minor", sa.BigInteger()),
    sa.column("paid_minor", sa.BigInteger()),
)


def _create(name: str, key: str) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column(key, sa.String(36), primary_key=True),
        sa.Column("status", sa.String(30), primary_key=True),
        sa.Column("confirmed", sa.Boolean(), primary_key=True),
        sa.Column("shipped", sa.Boolean(), primary_key=True),
        sa.Column("overdue", sa.Boolean(), primary_key=True),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
    )


def _backfill(table: sa.Table, key: str, source: str) -> None:
    """One row per tenant, day, group, status and flags of the existing orders: what the handlers keep up."""
    o = an_orders.c
    dims = [
        o.tenant_id,
        o.placed_day,
        sa.func.coalesce(o[source], NO_GROUP),
        o.status,
        o.confirmed_at.is_not(None),
        o.shipped_at.is_not(None),
        o.overdue,
    ]
    select = (
        sa.select(
            *dims,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(o.total_minor), 0),
            sa.func.coalesce(sa.func.sum(o.paid_minor), 0),
        )
        .where(o.placed_day.is_not(None))
        .group_by(*dims)
    )
    columns = [
        "tenant_id",
        "day",
        key,
        "status",
        "confirmed",
        "shipped",
        "overdue",
        "orders",
        "total_minor",
        "paid_minor",
    ]
    op.execute(table.insert().from_select(columns, select))


def upgrade() -> None:
    for name, key, source in GROUP_ROLLUPS:
        table = _create(name, key)
        _backfill(table, key, source)


def downgrade() -> None:
    for name, _key, _source in reversed(GROUP_ROLLUPS):
        op.drop_table(name)
