"""The company profile of an account: address and bank details (printed on orders).

Revision ID: 0010j
Revises: 0008k
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0010j"
down_revision = "0008k"
branch_labels = None
depends_on = None

COLUMNS = {
    "address": 500,
    "bank_name": 300,
    "bic": 9,
    "bank_account": 20,
    "correspondent_account": 20,
}


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for name, length in COLUMNS.items():
            batch.add_column(sa.Column(name, sa.String(length), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
