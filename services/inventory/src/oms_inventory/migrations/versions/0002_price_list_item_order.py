"""Price-list lines in list order: availability pages read the index instead of sorting the list.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_price_list_items_position", "price_list_items", ["price_list_id", "position", "sku"])


def downgrade() -> None:
    op.drop_index("ix_price_list_items_position", table_name="price_list_items")
