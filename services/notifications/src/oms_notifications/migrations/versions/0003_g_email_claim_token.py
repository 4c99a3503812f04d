"""The claim token of a queued e-mail: only the sender holding the claim renews it, sends and records.

Revision ID: 0003g
Revises: 0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003g"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nt_emails", sa.Column("claim_token", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nt_emails") as batch:
        batch.drop_column("claim_token")
