"""Alembic environment of the Analytics service (run by the service at start)."""

from oms_shared.migrations import run_env

from oms_analytics.db import metadata

run_env(metadata)
