"""The supplier's time zone on the ERP connection: dates and times in the orders XML are local, as 1C reads them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "erp_connections", sa.Column("timezone", sa.String(64), server_default="Europe/Moscow", nullable=False)
    )


def downgrade() -> None:
    with op.batch_alter_table("erp_connections") as batch:
        batch.drop_column("timezone")
