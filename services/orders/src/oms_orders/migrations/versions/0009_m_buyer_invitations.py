"""Invitations of a buyer company by e-mail: one-time tokens (hashes) that link the buyer record to an account.

Revision ID: 0009m
Revises: 0008m
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0009m"
down_revision = "0008m"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "buyer_invitations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("supplier_id", sa.String(36), nullable=False),
        sa.Column("buyer_id", sa.String(36), sa.ForeignKey("buyers.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("invited_by_user_id", sa.String(36), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("accepted_at", UtcDateTime(), nullable=True),
        sa.Column("accepted_account_id", sa.String(36), nullable=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_buyer_invitations_supplier_id", "buyer_invitations", ["supplier_id"])
    op.create_index("ix_buyer_invitations_buyer_id", "buyer_invitations", ["buyer_id"])
    op.create_index("ix_buyer_invitations_expires_at", "buyer_invitations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("buyer_invitations")
