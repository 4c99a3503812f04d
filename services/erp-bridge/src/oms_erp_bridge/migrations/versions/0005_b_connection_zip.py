"""zip=yes as a setting of the ERP connection: 1C then sends its exchange files packed in one archive.

Revision ID: 0005b
Revises: 0005h
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005b"
down_revision = "0005h"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("erp_connections", sa.Column("zip", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("erp_connections") as batch:
        batch.drop_column("zip")
