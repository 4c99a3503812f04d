"""Coalesced e-mails: the root order of an order replica, and the group key of a queued e-mail.

Revision ID: 0004l
Revises: 0003a
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004l"
down_revision = "0003a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nt_orders", sa.Column("root_order_id", sa.String(36), nullable=True))
    op.add_column("nt_emails", sa.Column("group_key", sa.String(80), nullable=True))
    op.create_index("ix_nt_emails_user_group", "nt_emails", ["user_id", "group_key"])


def downgrade() -> None:
    op.drop_index("ix_nt_emails_user_group", table_name="nt_emails")
    with op.batch_alter_table("nt_emails") as batch:
        batch.drop_column("group_key")
    with op.batch_alter_table("nt_orders") as batch:
        batch.drop_column("root_order_id")
