"""Alembic environment of the Orders service (run by the service at start)."""

from oms_shared.migrations import run_env

from oms_orders.db import metadata

run_env(metadata)
