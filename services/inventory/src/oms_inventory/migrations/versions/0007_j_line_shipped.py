"""What the ERP has shipped of each order line so far, in thousandths: a partial shipment takes from the line's
reserve only what goes beyond it, so a repeated or older event ships nothing twice.

Revision ID: 0007j
Revises: 0006a
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0007j"
down_revision = "0006a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("order_line_reserves", sa.Column("shipped", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_column("order_line_reserves", "shipped")
