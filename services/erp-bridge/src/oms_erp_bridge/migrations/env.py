"""Alembic environment of the ERP bridge service (run by the service at start)."""

from oms_erp_bridge.db import metadata
from oms_shared.migrations import run_env

run_env(metadata)
