"""Full ERP stock snapshots in parts: which parts arrived and which items they listed, until the last one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erp_snapshot_parts",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("snapshot_id", sa.String(100), primary_key=True),
        sa.Column("part", sa.Integer(), primary_key=True),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "erp_snapshot_items",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("snapshot_id", sa.String(100), primary_key=True),
        sa.Column("warehouse_id", sa.String(36), primary_key=True),
        sa.Column("sku", sa.String(100), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("erp_snapshot_items")
    op.drop_table("erp_snapshot_parts")
