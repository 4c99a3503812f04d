"""Idempotency claims with a lease and effects recorded with the effect; indexes for retention.

Revision ID: 0007a
Revises: 0007c
Create Date: 2026-12-03
"""

from oms_shared.migrations import add_idempotency_claims, drop_idempotency_claims

revision = "0007a"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_idempotency_claims()


def downgrade() -> None:
    drop_idempotency_claims()
