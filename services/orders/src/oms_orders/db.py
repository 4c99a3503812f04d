"""Tables of the orders service: identity, buyers, price lists, the warehouse replica and orders."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)


def money() -> sa.Numeric[Decimal]:
    return sa.Numeric(20, 4)


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("inn", sa.String(20), nullable=False, server_default=""),
    sa.Column("kpp", sa.String(20), nullable=False, server_default=""),
    sa.Column("next_order_number", sa.Integer(), nullable=False, server_default="1001"),
    sa.Column("time_limits", sa.Text(), nullable=False, server_default="{}"),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    # The company profile (printed on orders): address and bank details.
    sa.Column("address", sa.String(500), nullable=False, server_default=""),
    sa.Column("bank_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("bic", sa.String(9), nullable=False, server_default=""),
    sa.Column("bank_account", sa.String(20), nullable=False, server_default=""),
    sa.Column("correspondent_account", sa.String(20), nullable=False, server_default=""),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(300), nullable=False),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("locale", sa.String(10), nullable=False, server_default="ru"),
    sa.Column("is_owner", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("access_buyers", sa.String(10), nullable=False, server_default="none"),
    sa.Column("access_orders", sa.String(10), nullable=False, server_default="none"),
    sa.Column("restricted_to_own_buyers", sa.Boolean(), nullable=False, server_default=sa.false()),
    # May add employees and change their access (never above their own); the owner always may.
    sa.Column("manage_users", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

# A sign-in: its refresh token (only a hash of its secret is kept) renews short access tokens
# until it expires or is revoked (sign-out, password change or reset, the user disabled).
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

# One-time password-reset tokens, kept as hashes: expire, and are used at most once.
password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("used_at", UtcDateTime(), nullable=True),
)

buyers = sa.Table(
    "buyers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("supplier_id", sa.String(36), nullable=False, index=True),
    sa.Column("buyer_account_id", sa.String(36), nullable=True, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    # 0008m: the name case-folded in Python (see handlers.common.fold) for a search that folds every alphabet
    sa.Column("name_search", sa.String(300), nullable=False, server_default=""),
    sa.Column("inn", sa.String(20), nullable=False, server_default=""),
    sa.Column("kpp", sa.String(20), nullable=False, server_default=""),
    sa.Column("contacts", sa.Text(), nullable=False, server_default=""),
    sa.Column("segment", sa.String(100), nullable=False, server_default=""),  # 0003
    sa.Column("manager_user_ids", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.UniqueConstraint("supplier_id", "buyer_account_id", name="uq_buyers_supplier_account"),
)

# 0009m: invitations of a buyer company by e-mail (one-time tokens kept as hashes): registering or accepting
# through one links the buyer record to the account.
buyer_invitations = sa.Table(
    "buyer_invitations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("supplier_id", sa.String(36), nullable=False, index=True),
    sa.Column("buyer_id", sa.String(36), sa.ForeignKey("buyers.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("invited_by_user_id", sa.String(36), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("accepted_at", UtcDateTime(), nullable=True),
    sa.Column("accepted_account_id", sa.String(36), nullable=True),
)

# 0011b: employees invited by e-mail: the access chosen for them waits here until they set a password.
employee_invitations = sa.Table(
    "employee_invitations",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("locale", sa.String(10), nullable=False, server_default="ru"),
    sa.Column("access_buyers", sa.String(10), nullable=False, server_default="none"),
    sa.Column("access_orders", sa.String(10), nullable=False, server_default="none"),
    sa.Column("restricted_to_own_buyers", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("manage_users", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("invited_by_user_id", sa.String(36), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False, index=True),
    sa.Column("accepted_at", UtcDateTime(), nullable=True),
    sa.Column("accepted_user_id", sa.String(36), nullable=True),
)

price_lists = sa.Table(
    "price_lists",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("supplier_id", sa.String(36), nullable=False, index=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("warehouse_ids", sa.Text(), nullable=False, server_default="[]"),
    sa.Column("auto_confirm", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("link_token", sa.String(64), nullable=True, unique=True),
    sa.Column("segments", sa.Text(), nullable=False, server_default="[]"),  # 0003: buyer segments it is open to
    # 0005: the buyer accounts it was last published as open to (pricelist.updated carries them to inventory)
    sa.Column("buyer_account_ids", sa.Text(), nullable=False, server_default="[]"),
    # 0008k: the currency of its prices, and whether they include VAT ("в т.ч. НДС") or VAT comes on top.
    sa.Column("currency", sa.String(3), nullable=False, server_default="RUB"),
    sa.Column("vat_included", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

price_list_items = sa.Table(
    "price_list_items",
    metadata,
    sa.Column("price_list_id", sa.String(36), sa.ForeignKey("price_lists.id"), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(500), nullable=False, server_default=""),
    sa.Column("unit", sa.String(30), nullable=False, server_default=""),
    sa.Column("price", money(), nullable=False),
    sa.Column("vat_rate", money(), nullable=False),
)

price_list_buyers = sa.Table(
    "price_list_buyers",
    metadata,
    sa.Column("price_list_id", sa.String(36), sa.ForeignKey("price_lists.id"), primary_key=True),
    sa.Column("buyer_id", sa.String(36), sa.ForeignKey("buyers.id"), primary_key=True),
)

# 0008k: inventory's product catalogue (from product.updated): price lists are built from it.
products = sa.Table(
    "products",
    metadata,
    sa.Column("supplier_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(500), nullable=False, server_default=""),
    sa.Column("unit", sa.String(30), nullable=False, server_default=""),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

warehouses = sa.Table(
    "warehouses",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("supplier_id", sa.String(36), nullable=False, index=True),
    sa.Column("code", sa.String(100), nullable=False, server_default=""),
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("supplier_id", sa.String(36), nullable=False),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("root_number", sa.Integer(), nullable=False),
    sa.Column("buyer_id", sa.String(36), nullable=False, index=True),
    sa.Column("buyer_account_id", sa.String(36), nullable=True),
    sa.Column("buyer_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("buyer_name_search", sa.String(300), nullable=False, server_default=""),  # 0008m: folded
    sa.Column("price_list_id", sa.String(36), nullable=True),
    sa.Column("price_list_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("status_changed_at", UtcDateTime(), nullable=False),
    sa.Column("desired_shipment_date", sa.Date(), nullable=True),
    sa.Column("shipment_date", sa.Date(), nullable=True),
    sa.Column("comment", sa.Text(), nullable=False, server_default=""),
    sa.Column("one_shipment", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("responsible_user_id", sa.String(36), nullable=True),
    sa.Column("paid_amount", money(), nullable=False, server_default="0"),
    sa.Column("total", money(), nullable=False, server_default="0"),
    sa.Column("overdue", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("overdue_since", UtcDateTime(), nullable=True),
    sa.Column("reserve_status", sa.String(10), nullable=False, server_default="none"),
    sa.Column("parent_order_id", sa.String(36), nullable=True, index=True),
    sa.Column("next_part", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("split_done", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("placed_by_side", sa.String(10), nullable=False, server_default="buyer"),
    sa.Column("deleted_by_supplier", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("deleted_by_buyer", sa.Boolean(), nullable=False, server_default=sa.false()),
    # 0008k: the price list's currency and VAT mode when the order was placed: its lines keep them
    sa.Column("currency", sa.String(3), nullable=False, server_default="RUB"),
    sa.Column("vat_included", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.UniqueConstraint("supplier_id", "number", name="uq_orders_supplier_number"),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("name", sa.String(500), nullable=False, server_default=""),
    sa.Column("unit", sa.String(30), nullable=False, server_default=""),
    sa.Column("warehouse_id", sa.String(36), nullable=True),
    sa.Column("quantity", money(), nullable=False),
    sa.Column("price", money(), nullable=False),
    sa.Column("vat_rate", money(), nullable=False),
    sa.Column("additional", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("reserved", money(), nullable=False, server_default="0"),
    sa.Column("shortage", money(), nullable=False, server_default="0"),
    # How much of the line the ERP has shipped so far (R-ERP-5); the order is shipped once every line is whole.
    sa.Column("shipped_quantity", money(), nullable=False, server_default="0"),
)

order_history = sa.Table(
    "order_history",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("from_status", sa.String(30), nullable=True),
    sa.Column("to_status", sa.String(30), nullable=False),
    sa.Column("by_user_id", sa.String(36), nullable=True),
    sa.Column("by_side", sa.String(10), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=False, server_default=""),
)

line_changes = sa.Table(
    "order_line_changes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("line_id", sa.String(36), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False, server_default=""),
    sa.Column("field", sa.String(30), nullable=False),
    sa.Column("old", sa.String(100), nullable=True),
    sa.Column("new", sa.String(100), nullable=True),
    sa.Column("by_user_id", sa.String(36), nullable=True),
    sa.Column("by_side", sa.String(10), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)

comments = sa.Table(
    "order_comments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("author_user_id", sa.String(36), nullable=False),
    sa.Column("author_name", sa.String(300), nullable=False, server_default=""),
    sa.Column("author_side", sa.String(10), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)

documents = sa.Table(
    "order_documents",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("file_name", sa.String(300), nullable=False),
    sa.Column("stored_name", sa.String(100), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("uploaded_by_user_id", sa.String(36), nullable=False),
    sa.Column("uploaded_by_side", sa.String(10), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)

# 0002: inventory's availability per warehouse item (from stock.updated) for the split preview.
stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("warehouse_id", sa.String(36), primary_key=True),
    sa.Column("sku", sa.String(100), primary_key=True),
    sa.Column("supplier_id", sa.String(36), nullable=False, index=True),
    sa.Column("available", money(), nullable=False),
    sa.Column("incoming", money(), nullable=False, server_default="0"),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# 0004: the list's indexes (see migration 0004): every sort column with id last, so that a page and its keyset
# cursor come straight from an index; the buyer and status filters and overdue orders in creation order; the
# buyer's own view. PostgreSQL only: the number prefix and the buyer-name trigram search (0008m: on the folded name).
for _name, _columns in {
    "ix_orders_sup_created_id": ["created_at"],
    "ix_orders_sup_updated_id": ["updated_at"],
    "ix_orders_sup_total_id": ["total"],
    "ix_orders_sup_shipment_id": ["shipment_date"],
    "ix_orders_sup_paid_id": ["paid_amount"],
    "ix_orders_sup_buyer_name_id": ["buyer_name"],
    "ix_orders_sup_price_list_name_id": ["price_list_name"],
    "ix_orders_sup_status_id": ["status"],
    "ix_orders_sup_number_id": ["root_number", "number"],
    "ix_orders_sup_buyer_created_id": ["buyer_id", "created_at"],
    "ix_orders_sup_status_created_id": ["status", "created_at"],
}.items():
    sa.Index(_name, orders.c.supplier_id, *(orders.c[c] for c in _columns), orders.c.id)
sa.Index(
    "ix_orders_sup_overdue_created_id",
    orders.c.supplier_id,
    orders.c.created_at,
    orders.c.id,
    postgresql_where=sa.text("overdue IS TRUE"),
    sqlite_where=sa.text("overdue IS TRUE"),
)
sa.Index("ix_orders_buyer_account_created_id", orders.c.buyer_account_id, orders.c.created_at, orders.c.id)
PG_ONLY_INDEXES = {"ix_orders_sup_number_prefix", "ix_orders_buyer_name_trgm"}
sa.Index(
    "ix_orders_sup_number_prefix",
    orders.c.supplier_id,
    orders.c.number,
    postgresql_ops={"number": "varchar_pattern_ops"},
).ddl_if(dialect="postgresql")
sa.Index(
    "ix_orders_buyer_name_trgm",
    sa.text("buyer_name_search gin_trgm_ops"),
    postgresql_using="gin",
    _table=orders,
).ddl_if(dialect="postgresql")
