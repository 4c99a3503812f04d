"""Idempotency claims with a lease and effects recorded with the effect; indexes for retention.

Revision ID: 0005a
Revises: 0005d
Create Date: 2026-12-03
"""

from alembic import op

from oms_shared.migrations import add_idempotency_claims, drop_idempotency_claims

revision = "0005a"
down_revision = "0005d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_idempotency_claims()
    op.create_index("ix_erp_exchange_log_started", "erp_exchange_log", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_erp_exchange_log_started", table_name="erp_exchange_log")
    drop_idempotency_claims()
