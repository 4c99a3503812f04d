"""Parked events: ones that arrived before a fact they depend on, fed to their handler again later.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from oms_shared.migrations import create_parked_events_table, drop_parked_events_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parked_events_table()


def downgrade() -> None:
    drop_parked_events_table()
