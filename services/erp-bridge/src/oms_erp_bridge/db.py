"""Tables of the ERP bridge: the queue of orders for the next 1C exchange and the exchange log."""

from __future__ import annotations

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)

order_queue = sa.Table(
    "erp_order_queue",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("snapshot", sa.Text(), nullable=False),
    sa.Column("queued_at", UtcDateTime(), nullable=False),
    sa.Column("exported_at", UtcDateTime(), nullable=True),
)

exchange_log = sa.Table(
    "erp_exchange_log",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(50), nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
)
