"""Tables of the ERP bridge: connections and exchange sessions, the exchange log, mappings and replicas.

Replicas (fed by events): orders to export, buyers (counterparties), warehouses. Mappings (from the ERP's
files or set by the supplier): 1C products → SKU, 1C warehouses → warehouses.
"""

from __future__ import annotations

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)

# One ERP login per supplier account: 1C sends it with HTTP Basic on checkauth.
connections = sa.Table(
    "erp_connections",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("login", sa.String(100), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("encoding", sa.String(20), nullable=False),  # of the XML we send: utf-8 (with BOM) or windows-1251
    sa.Column("status_map", sa.Text(), nullable=False),  # JSON {1C status text: OMS status}
    # 0004: the supplier's time zone: 1C reads the dates and times of the orders XML as local time
    sa.Column("timezone", sa.String(64), nullable=False, server_default="Europe/Moscow"),
    # 0005b: 1C may send its files in one zip archive (init answers zip=yes)
    sa.Column("zip", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One exchange session per checkauth; its files live in their own directory (two 1C nodes never clobber).
sessions = sa.Table(
    "erp_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the cookie value
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("channel", sa.String(20), nullable=False),  # catalog | sale
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    # mode=query: {order_id: version} sent; mode=success marks exactly those as taken by the ERP
    sa.Column("query_snapshot", sa.Text(), nullable=True),
)

# Files received in a session (bytes on disk), and how far their import got.
files = sa.Table(
    "erp_files",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(64), nullable=False),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("kind", sa.String(20), nullable=True),  # orders | catalog | offers | rests | unknown, once read
    sa.Column("cursor", sa.Integer(), nullable=False),  # items imported so far (imports answer "progress")
    sa.Column("total", sa.Integer(), nullable=True),
    sa.Column("outcome", sa.String(20), nullable=True),  # None while not finished | success | failure
    sa.Column("detail", sa.Text(), nullable=False),
    sa.UniqueConstraint("session_id", "filename", name="uq_erp_files_session_name"),
)

# Every call of an exchange (1C or the JSON API), with its outcome: what an SRE or a manager reads (R-ERP-6).
exchange_log = sa.Table(
    "erp_exchange_log",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(50), nullable=False),  # e.g. sale.query, catalog.import, api.stock
    sa.Column("outcome", sa.String(20), nullable=False),  # success | progress | failure
    sa.Column("detail", sa.Text(), nullable=False, server_default=""),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("session_id", sa.String(64), nullable=True),  # 0003
    sa.Column("filename", sa.String(255), nullable=True),  # 0003
    sa.Column("caller", sa.String(300), nullable=True),  # 0005: who called the ERP API, e.g. "ERP (1c-exchange)"
    sa.Index("ix_erp_exchange_log_tenant_started", "tenant_id", "started_at"),
    sa.Index("ix_erp_exchange_log_started", "started_at"),  # retention
)

# Orders as the ERP will see them: a snapshot per order, its version, and the version the ERP last took.
orders = sa.Table(
    "erp_orders",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("buyer_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("snapshot", sa.Text(), nullable=False),  # JSON: lines, total, comment, dates, payment
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("changed_at", UtcDateTime(), nullable=False),
    sa.Column("exportable", sa.Boolean(), nullable=False),  # confirmed once: from then on the ERP gets it
    sa.Column("version", sa.Integer(), nullable=False),  # raised by every change the ERP has to learn
    sa.Column("exported_version", sa.Integer(), nullable=False),  # what the ERP confirmed taking (0: nothing)
    sa.Column("exported_at", UtcDateTime(), nullable=True),
    sa.Column("erp_number", sa.String(100), nullable=False),  # Номер1С, once the ERP sent it
    sa.Column("erp_version", sa.String(100), nullable=False),  # НомерВерсии of the last document applied
    # The last `Статус заказа` text 1C sent: the order gets the comment "1C: <text>" once per new text.
    sa.Column("erp_status_text", sa.String(200), nullable=False, server_default=""),
    sa.Column("sequence", sa.Integer(), nullable=False),  # the newest order event applied (per-order sequence)
    sa.Index("ix_erp_orders_pending", "tenant_id", "exportable", "exported_version", "version"),
)

buyers = sa.Table(
    "erp_buyers",
    metadata,
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("inn", sa.String(20), nullable=False),
    sa.Column("kpp", sa.String(20), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
)

warehouses = sa.Table(
    "erp_warehouses",
    metadata,
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("erp_id", sa.String(100), nullable=True),  # the 1C warehouse Ид mapped to it
    sa.UniqueConstraint("tenant_id", "erp_id", name="uq_erp_warehouses_erp_id"),
)

products = sa.Table(
    "erp_products",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("erp_id", sa.String(100), primary_key=True),  # the 1C product Ид (without #characteristic)
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("unit", sa.String(30), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("ix_erp_products_sku", "tenant_id", "sku"),
)
