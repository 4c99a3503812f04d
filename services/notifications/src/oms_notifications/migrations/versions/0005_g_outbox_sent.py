"""Published outbox rows are kept for a while, to be re-sent when the broker lost its log (ADR 019).

Revision ID: 0005g
Revises: 0004l
Create Date: 2026-12-03
"""

from oms_shared.migrations import create_outbox_sent_table, drop_outbox_sent_table

revision = "0005g"
down_revision = "0004l"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_sent_table()


def downgrade() -> None:
    drop_outbox_sent_table()
