"""Daily rollups of the order read model (summaries over a year without reading every order).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "an_daily",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("status", sa.String(30), primary_key=True),
        sa.Column("confirmed", sa.Boolean(), primary_key=True),
        sa.Column("shipped", sa.Boolean(), primary_key=True),
        sa.Column("overdue", sa.Boolean(), primary_key=True),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_minor", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "an_daily_hours",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("metric", sa.String(10), primary_key=True),
        sa.Column("bin", sa.Integer(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )

    # Orders already in the read model: a rebuild (oms-analytics rebuild) fills the rollups for them.


def downgrade() -> None:
    op.drop_table("an_daily_hours")
    op.drop_table("an_daily")
