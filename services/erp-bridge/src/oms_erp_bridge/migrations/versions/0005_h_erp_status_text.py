"""The last status text 1C sent for an order, so that its comment "1C: <text>" is written once per new text.

Revision ID: 0005h
Revises: 0004
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005h"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("erp_orders", sa.Column("erp_status_text", sa.String(200), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("erp_orders") as batch:
        batch.drop_column("erp_status_text")
