"""Alembic environment of the Inventory service (run by the service at start)."""

from oms_shared.migrations import run_env

from oms_inventory.db import metadata

run_env(metadata)
