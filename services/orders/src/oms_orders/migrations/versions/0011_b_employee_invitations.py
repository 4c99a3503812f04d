"""Employees invited by e-mail: one-time tokens (hashes) with the access chosen for the person invited.

Revision ID: 0011b
Revises: 0010j
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0011b"
down_revision = "0010j"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "employee_invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(300), nullable=False, server_default=""),
        sa.Column("locale", sa.String(10), nullable=False, server_default="ru"),
        sa.Column("access_buyers", sa.String(10), nullable=False, server_default="none"),
        sa.Column("access_orders", sa.String(10), nullable=False, server_default="none"),
        sa.Column("restricted_to_own_buyers", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("manage_users", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("invited_by_user_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("accepted_at", UtcDateTime(), nullable=True),
        sa.Column("accepted_user_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_employee_invitations_account_id", "employee_invitations", ["account_id"])
    op.create_index("ix_employee_invitations_expires_at", "employee_invitations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("employee_invitations")
