"""How much of each order line the ERP has shipped so far: a partial shipment shows per line (R-ERP-5).

Revision ID: 0007h
Revises: 0006
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007h"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_lines",
        sa.Column("shipped_quantity", sa.Numeric(precision=20, scale=4), server_default="0", nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("shipped_quantity")
