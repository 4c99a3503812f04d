"""The exchange log names who called the ERP API ("ERP (<login>)" or the owner).

Revision ID: 0005d
Revises: 0005b
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0005d"
down_revision = "0005b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("erp_exchange_log", sa.Column("caller", sa.String(300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("erp_exchange_log") as batch:
        batch.drop_column("caller")
