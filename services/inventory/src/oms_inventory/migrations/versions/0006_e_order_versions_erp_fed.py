"""The last applied version and status of every order (events apply in version order), and warehouses whose
on-hand stock is fed by the ERP.

Revision ID: 0006e
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from oms_shared.db import UtcDateTime

revision = "0006e"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_versions",
        sa.Column("tenant_id", sa.String(36), primary_key=True),
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.add_column("warehouses", sa.Column("erp_fed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("warehouses", "erp_fed")
    op.drop_table("order_versions")
