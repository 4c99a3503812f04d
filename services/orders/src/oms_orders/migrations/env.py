"""Alembic environment of the Orders service (run by the service at start)."""

from oms_orders.db import metadata
from oms_shared.migrations import run_env

run_env(metadata)
