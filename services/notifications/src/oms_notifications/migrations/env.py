"""Alembic environment of the Notifications service (run by the service at start)."""

from oms_shared.migrations import run_env

from oms_notifications.db import metadata

run_env(metadata)
