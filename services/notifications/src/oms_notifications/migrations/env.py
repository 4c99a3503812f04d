"""Alembic environment of the Notifications service (run by the service at start)."""

from oms_notifications.db import metadata
from oms_shared.migrations import run_env

run_env(metadata)
