"""Tables of the notifications service: recipient replicas, the in-app inbox, the e-mail outbox, preferences."""

from __future__ import annotations

import sqlalchemy as sa

from oms_shared.db import UtcDateTime, messaging_tables

metadata = sa.MetaData()
outbox, inbox, idempotency = messaging_tables(metadata)

accounts = sa.Table(
    "nt_accounts",
    metadata,
    sa.Column("account_id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    # Snapshots can be redelivered or overtaken; an older one never overwrites a newer one.
    sa.Column("version_at", UtcDateTime(), nullable=False),
    sa.Column("version_seq", sa.Integer(), nullable=False),
)

users = sa.Table(
    "nt_users",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("account_id", sa.String(36), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("is_owner", sa.Boolean(), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("access_orders", sa.String(10), nullable=False),
    sa.Column("restricted", sa.Boolean(), nullable=False),
)

buyers = sa.Table(
    "nt_buyers",
    metadata,
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("buyer_account_id", sa.String(36), nullable=True),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("deleted", sa.Boolean(), nullable=False),
)

buyer_managers = sa.Table(
    "nt_buyer_managers",
    metadata,
    sa.Column("buyer_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), primary_key=True),
)

orders = sa.Table(
    "nt_orders",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("number", sa.String(50), nullable=False),
    sa.Column("buyer_id", sa.String(36), nullable=False),
    sa.Column("buyer_account_id", sa.String(36), nullable=True),
    sa.Column("buyer_name", sa.String(300), nullable=False),
    sa.Column("responsible_user_id", sa.String(36), nullable=True),
    sa.Column("status", sa.String(30), nullable=False),
    # 0003e: the order version (event sequence) the row is as of; an older event does not overwrite it
    sa.Column("sequence", sa.BigInteger(), nullable=False, server_default="0"),
    # 0004l: the order its parts were split from (itself for an order that is no part): e-mails about an order and
    # its parts are coalesced
    sa.Column("root_order_id", sa.String(36), nullable=True),
)

notifications = sa.Table(
    "nt_notifications",
    metadata,
    sa.Column("notification_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("account_id", sa.String(36), nullable=False),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("order_number", sa.String(50), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("title", sa.String(500), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("changed_line_ids", sa.Text(), nullable=False),
    sa.Column("source_event_id", sa.String(36), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("read_at", UtcDateTime(), nullable=True),
    # One in-app notification per (event, recipient): a redelivered event adds nothing.
    sa.UniqueConstraint("source_event_id", "user_id", name="uq_nt_notifications_event_user"),
    sa.Index("ix_nt_notifications_user_read", "user_id", "read_at"),
    sa.Index("ix_nt_notifications_user_order", "user_id", "order_id"),
)

emails = sa.Table(
    "nt_emails",
    metadata,
    sa.Column("email_id", sa.String(36), primary_key=True),
    sa.Column("notification_id", sa.String(36), nullable=False),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("locale", sa.String(10), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("order_id", sa.String(36), nullable=False),
    sa.Column("order_number", sa.String(50), nullable=False),
    sa.Column("context", sa.Text(), nullable=False),
    sa.Column("source_event_id", sa.String(36), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("claimed_until", UtcDateTime(), nullable=True),
    # Random per claim: only the sender holding it renews the lease, sends and records (never twice).
    sa.Column("claim_token", sa.String(32), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("sent_at", UtcDateTime(), nullable=True),
    # 0004l: e-mails of one recipient with the same key (an order and its parts) that are pending together are sent
    # as one message; null for an e-mail that is never coalesced (a password reset)
    sa.Column("group_key", sa.String(80), nullable=True),
    # One e-mail per (event, recipient): a redelivered event never sends twice.
    sa.UniqueConstraint("source_event_id", "user_id", name="uq_nt_emails_event_user"),
    sa.Index("ix_nt_emails_status_next", "status", "next_attempt_at"),
    sa.Index("ix_nt_emails_user_group", "user_id", "group_key"),
)

preferences = sa.Table(
    "nt_preferences",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("channel", sa.String(10), primary_key=True),
    sa.Column("kind", sa.String(30), primary_key=True),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)
