"""Tables of the inventory service: catalogue, stock projection, reserve ledger, holds, price list replica, ERP
snapshots in parts."""

from __future__ import annotations

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)

# Quantities are integers in thousandths of a unit (see domain.SCALE).
Qty = sa.BigInteger

warehouses = sa.Table(
    "warehouses",
    metadata,
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("code", sa.String(50), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("tenant_id", "code", name="uq_warehouses_tenant_code"),
    # 0006e: on-hand stock comes from the ERP (set when ERP stock arrives for the warehouse): shipping in OMS
    # releases the reserve and leaves on hand to the ERP's figure (docs/adr/013-erp-stock-and-shipping.md).
    sa.Column("erp_fed", sa.Boolean(), nullable=False, server_default=sa.false()),
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("unit", sa.String(30), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# The projection: ``reserved`` is the sum of the reserve ledger for the item (checked by the
# reconciler); the CHECK constraints are the last line of defence against overselling (R-RSV-2).
stock = sa.Table(
    "stock",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("on_hand", Qty(), nullable=False),
    sa.Column("reserved", Qty(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.CheckConstraint("on_hand >= 0", name="ck_stock_on_hand_nonneg"),
    sa.CheckConstraint("reserved >= 0", name="ck_stock_reserved_nonneg"),
    sa.CheckConstraint("reserved <= on_hand", name="ck_stock_no_oversell"),
)

incoming_stock = sa.Table(
    "incoming_stock",
    metadata,
    sa.Column("incoming_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("warehouse_id", sa.String(36), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("quantity", Qty(), nullable=False),
    sa.Column("expected_date", sa.Date(), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=True),
)

# Current reserve of each confirmed order line; a line short of stock is a backorder (FIFO by confirmed_at).
order_lines = sa.Table(
    "order_line_reserves",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("line_id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), nullable=False, index=True),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("warehouse_id", sa.String(36), nullable=True),
    sa.Column("requested", Qty(), nullable=False),
    sa.Column("reserved", Qty(), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("confirmed_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # What the ERP has shipped of the line so far (R-ERP-5): a shipment takes from the reserve only beyond it.
    sa.Column("shipped", Qty(), nullable=False, server_default="0"),
    sa.Index("ix_order_line_reserves_item", "tenant_id", "warehouse_id", "sku", "state"),
)

# Manual (R-RSV-3) and Integration (ERP) reserves of a warehouse item, with who/when/why.
holds = sa.Table(
    "holds",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("quantity", Qty(), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("by_user_id", sa.String(36), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# Append-only: every change of a reserve is a signed row; the idempotency key makes a replay a no-op.
reserve_ledger = sa.Table(
    "reserve_ledger",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("warehouse_id", sa.String(36), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("order_id", sa.String(36), nullable=True, index=True),
    sa.Column("line_id", sa.String(36), nullable=True),
    sa.Column("quantity", Qty(), nullable=False),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("idempotency_key", sa.String(200), nullable=False, unique=True),
    sa.Column("by_user_id", sa.String(36), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Index("ix_reserve_ledger_item", "tenant_id", "warehouse_id", "sku"),
)

price_lists = sa.Table(
    "price_lists",
    metadata,
    sa.Column("price_list_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("warehouse_ids", sa.Text(), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # 0003: buyer accounts the list is open to (JSON array); they may read its availability
    sa.Column("buyer_account_ids", sa.Text(), nullable=False, server_default="[]"),
)

price_list_items = sa.Table(
    "price_list_items",
    metadata,
    sa.Column("price_list_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("unit", sa.String(30), nullable=False),
    # Availability reads a list in its order, a page at a time.
    sa.Index("ix_price_list_items_position", "price_list_id", "position", "sku"),
)

# 0005: a full ERP snapshot in parts (erp.stock_imported with parts > 1): what each part listed and which parts
# arrived; once all have, the snapshot's warehouses lose what no part listed and these rows go.
erp_snapshot_parts = sa.Table(
    "erp_snapshot_parts",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("snapshot_id", sa.String(100), primary_key=True),
    sa.Column("part", sa.Integer(), primary_key=True),
    sa.Column("parts", sa.Integer(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
)

erp_snapshot_items = sa.Table(
    "erp_snapshot_items",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("snapshot_id", sa.String(100), primary_key=True),
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
)

# 0006e: the last order event applied per order (its ``sequence``, the order's version) and the order's status
# then: older events are dropped, ones ahead of a gap wait (parked), a closed order takes no more reserves.
order_versions = sa.Table(
    "order_versions",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)


# 0006: who may see an order's reserves. A manager restricted to their own buyers (R-ACC-1) sees only the orders
# of the buyers assigned to them: buyers and their managers come from buyer.updated, each order's buyer from the
# order events inventory already reads.
access_buyers = sa.Table(
    "inv_access_buyers",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("version", sa.String(80), nullable=False),  # of the buyer.updated applied: older ones are dropped
    sa.Column("name", sa.String(300), nullable=False, server_default=""),  # 0007k: drill-downs show it
)

access_buyer_managers = sa.Table(
    "inv_access_buyer_managers",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Index("ix_inv_access_buyer_managers_user", "tenant_id", "user_id"),
)

access_order_buyers = sa.Table(
    "inv_access_order_buyers",
    metadata,
    sa.Column("tenant_id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("buyer_id", sa.String(36), nullable=False),
    sa.Column("number", sa.String(50), nullable=False, server_default=""),  # 0007k: the order's readable number
    sa.Index("ix_inv_access_order_buyers_buyer", "tenant_id", "buyer_id"),
)
