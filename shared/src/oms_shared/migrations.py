"""Alembic glue: each service keeps its own migrations and applies them at start."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from oms_shared.db import UtcDateTime

log = logging.getLogger(__name__)

# How often a replica waiting for another's migration tries the lock again.
MIGRATION_LOCK_POLL_S = 0.5


def _config(script_location: Path, connection: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = connection
    return cfg


def migration_lock_key(script_location: Path) -> int:
    """The advisory-lock key of one service's migrations: the same for every replica, wherever it is installed."""
    name = f"{script_location.parent.name}/{script_location.name}"  # e.g. oms_orders/migrations
    return zlib.crc32(f"oms-migrate-{name}".encode()) & 0x7FFFFFFF


async def upgrade_to_head(
    engine: AsyncEngine, script_location: Path, *, lock_poll_s: float = MIGRATION_LOCK_POLL_S
) -> None:
    """Apply every pending migration; on PostgreSQL one replica at a time, under an advisory lock.

    The others wait for the lock, then find the database at head and go on. They wait by trying the lock
    (``pg_try_advisory_lock``) in autocommit, not by blocking on it: a blocked ``pg_advisory_lock`` is a
    statement with an open snapshot, and ``CREATE INDEX CONCURRENTLY`` in the migration waits for every older
    snapshot of the database to end, so the two would wait for each other.
    """

    def _upgrade(sync_conn: Any) -> None:
        command.upgrade(_config(script_location, sync_conn), "head")

    if engine.dialect.name != "postgresql":
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade)
            await conn.commit()
        return
    key = migration_lock_key(script_location)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        waited_since: float | None = None
        while not await conn.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}):
            if waited_since is None:
                waited_since = time.monotonic()
                log.info("another replica is migrating %s; waiting for it", script_location.parent.name)
            await asyncio.sleep(lock_poll_s)
        if waited_since is not None:
            log.info("waited %.1f s for the migration lock", time.monotonic() - waited_since)
        await conn.commit()  # SQLAlchemy's own "transaction" of the autocommit statements above
        try:
            await conn.execution_options(isolation_level=conn.default_isolation_level)
            await conn.run_sync(_upgrade)
            await conn.commit()
        finally:
            if conn.in_transaction():
                await conn.rollback()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def run_env(target_metadata: sa.MetaData) -> None:
    """Body of every service's ``env.py``: migrate on the connection handed over by the service."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run from the service at start (upgrade_to_head), not from the CLI")
    # One transaction per migration file: a migration that must run outside a transaction (an index built
    # CONCURRENTLY in an autocommit block) commits what came before it, so each file is its own unit.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_messaging_tables() -> None:
    """Create the outbox, inbox and idempotency tables (call from a service's first migration)."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )


def create_parked_events_table() -> None:
    """Create the parked-events table (events whose handler said "not yet"); call from a service migration."""
    op.create_table(
        "parked_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.LargeBinary(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parked_at", UtcDateTime(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("consumer", "event_id", name="uq_parked_events_event"),
    )
    op.create_index("ix_parked_events_due", "parked_events", ["next_attempt_at"])


def drop_parked_events_table() -> None:
    op.drop_index("ix_parked_events_due", table_name="parked_events")
    op.drop_table("parked_events")


def add_idempotency_claims() -> None:
    """Idempotency claims with a lease, the effects recorded with them, and the indexes retention deletes by."""
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.add_column(sa.Column("claim", sa.String(32), nullable=True))
        batch.add_column(sa.Column("lease_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("completed_at", UtcDateTime(), nullable=True))
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.create_table(
        "idempotency_effects",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("claim", sa.String(32), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("committed_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_effects_committed_at", "idempotency_effects", ["committed_at"])
    op.create_index("ix_inbox_processed_at", "inbox", ["processed_at"])


def drop_idempotency_claims() -> None:
    op.drop_index("ix_inbox_processed_at", table_name="inbox")
    op.drop_index("ix_idempotency_effects_committed_at", table_name="idempotency_effects")
    op.drop_table("idempotency_effects")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("completed_at")
        batch.drop_column("lease_until")
        batch.drop_column("claim")


def create_outbox_sent_table() -> None:
    """The outbox rows the relay published, kept for a while to re-send after a broker lost its log (ADR 019)."""
    op.create_table(
        "outbox_sent",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_outbox_sent_sent_at", "outbox_sent", ["sent_at"])


def drop_outbox_sent_table() -> None:
    op.drop_index("ix_outbox_sent_sent_at", table_name="outbox_sent")
    op.drop_table("outbox_sent")
