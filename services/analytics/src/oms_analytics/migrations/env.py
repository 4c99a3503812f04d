"""Alembic environment of the Analytics service (run by the service at start)."""

from oms_analytics.db import metadata
from oms_shared.migrations import run_env

run_env(metadata)
