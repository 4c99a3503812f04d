"""Alembic environment of the Inventory service (run by the service at start)."""

from oms_inventory.db import metadata
from oms_shared.migrations import run_env

run_env(metadata)
