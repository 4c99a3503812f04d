"""Initial schema of the notifications service.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime
from oms_shared.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "nt_accounts",
        sa.Column("account_id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("version_at", UtcDateTime(), nullable=False),
        sa.Column("version_seq", sa.Integer(), nullable=False),
    )
    op.create_table(
        "nt_users",
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
    op.create_table(
        "nt_buyers",
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("buyer_account_id", sa.String(36), nullable=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "nt_buyer_managers",
        sa.Column("buyer_id", sa.String(36), primary_key=True),
        sa.Column("user_id", sa.String(36), primary_key=True),
    )
    op.create_table(
        "nt_orders",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(36), nullable=False, index=True),
        sa.Column("number", sa.String(50), nullable=False),
        sa.Column("buyer_id", sa.String(36), nullable=False),
        sa.Column("buyer_account_id", sa.String(36), nullable=True),
        sa.Column("buyer_name", sa.String(300), nullable=False),
        sa.Column("responsible_user_id", sa.String(36), nullable=True),
        sa.Column("status", sa.String(30), nullable=False),
    )
    op.create_table(
        "nt_notifications",
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
        sa.UniqueConstraint("source_event_id", "user_id", name="uq_nt_notifications_event_user"),
    )
    op.create_index("ix_nt_notifications_user_read", "nt_notifications", ["user_id", "read_at"])
    op.create_index("ix_nt_notifications_user_order", "nt_notifications", ["user_id", "order_id"])
    op.create_table(
        "nt_emails",
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
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("source_event_id", "user_id", name="uq_nt_emails_event_user"),
    )
    op.create_index("ix_nt_emails_status_next", "nt_emails", ["status", "next_attempt_at"])
    op.create_table(
        "nt_preferences",
        sa.Column("user_id", sa.String(36), primary_key=True),
        sa.Column("channel", sa.String(10), primary_key=True),
        sa.Column("kind", sa.String(30), primary_key=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nt_preferences")
    op.drop_index("ix_nt_emails_status_next", "nt_emails")
    op.drop_table("nt_emails")
    op.drop_index("ix_nt_notifications_user_order", "nt_notifications")
    op.drop_index("ix_nt_notifications_user_read", "nt_notifications")
    op.drop_table("nt_notifications")
    op.drop_table("nt_orders")
    op.drop_table("nt_buyer_managers")
    op.drop_table("nt_buyers")
    op.drop_table("nt_users")
    op.drop_table("nt_accounts")
    op.drop_table("idempotency_keys")
    op.drop_table("inbox")
    op.drop_table("outbox")
