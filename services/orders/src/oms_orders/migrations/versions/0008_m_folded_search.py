"""Search by buyer name in any alphabet: a stored case-folded copy of the name, the same on every database.

SQLite's ``lower()`` folds only Latin letters ("Строй" was not found by "строй"), and PostgreSQL's depends on the
database's locale; the orders and buyers searches compare a copy of the name folded in Python instead
(``orders.buyer_name_search``, ``buyers.name_search``), filled here for the rows that exist. On PostgreSQL the
trigram index of the substring search moves to the folded column (built ``CONCURRENTLY``, see 0004 and ADR 006).

Revision ID: 0008m
Revises: 0007a
Create Date: 2026-12-03
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008m"
down_revision = "0007a"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def _fold(text: str) -> str:
    """A frozen copy of ``oms_orders.handlers.common.fold`` as of this migration."""
    return " ".join(text.casefold().replace("ё", "е").split())


def upgrade() -> None:
    op.add_column("orders", sa.Column("buyer_name_search", sa.String(300), server_default="", nullable=False))
    op.add_column("buyers", sa.Column("name_search", sa.String(300), server_default="", nullable=False))
    bind = op.get_bind()
    rows = [(r[0], r[1]) for r in bind.execute(sa.text("SELECT id, name FROM buyers"))]
    if rows:
        bind.execute(
            sa.text("UPDATE buyers SET name_search = :folded WHERE id = :id"),
            [{"id": i, "folded": _fold(n)} for i, n in rows],
        )
    if bind.dialect.name != "postgresql":
        _fill_orders(bind)  # SQLite: one writer anyway, in the migration's transaction
        return
    # The old trigram index goes with the column's addition (keeping a GIN index up to date through the fill
    # below would cost the most); the new one is built after the fill.
    op.execute("DROP INDEX IF EXISTS ix_orders_buyer_name_trgm")
    with op.get_context().autocommit_block():
        # Every order row is rewritten (about 0.2 ms a row with the list's indexes): one short transaction per
        # supplier and name, so an order is locked for milliseconds, not for the whole fill. A second pass
        # takes the orders placed meanwhile by a replica still running the previous version.
        _fill_orders(bind)
        _fill_orders(bind)
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_orders_buyer_name_trgm")  # a build left invalid
        try:
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except sa.exc.DBAPIError as exc:
            log.warning("pg_trgm unavailable, buyer-name search runs without its index: %s", exc)
            return
        op.create_index(
            "ix_orders_buyer_name_trgm",
            "orders",
            [sa.text("buyer_name_search gin_trgm_ops")],
            unique=False,
            postgresql_using="gin",
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def _fill_orders(bind: sa.Connection) -> None:
    """The folded name of every order without one: one UPDATE per supplier and buyer name (thousands, not
    millions), each found through the list's (supplier_id, buyer_name, id) index from 0004."""
    names = bind.execute(
        sa.text("SELECT DISTINCT supplier_id, buyer_name FROM orders WHERE buyer_name_search = '' AND buyer_name <> ''")
    ).all()
    fill = sa.text(
        "UPDATE orders SET buyer_name_search = :folded "
        "WHERE supplier_id = :supplier AND buyer_name = :name AND buyer_name_search = ''"
    )
    for supplier, name in names:
        bind.execute(fill, {"supplier": supplier, "name": name, "folded": _fold(name)})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_orders_buyer_name_trgm")
    with op.batch_alter_table("buyers") as batch:
        batch.drop_column("name_search")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("buyer_name_search")
    if op.get_bind().dialect.name == "postgresql":
        op.create_index(
            "ix_orders_buyer_name_trgm", "orders", [sa.text("lower(buyer_name) gin_trgm_ops")], postgresql_using="gin"
        )
