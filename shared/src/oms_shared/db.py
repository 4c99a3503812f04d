"""Async engine factory, the messaging tables every service owns, and the unit of work.

SQLite (aiosqlite) is the default; PostgreSQL (asyncpg) by URL. The unit of work couples a
state change with the events it causes in one transaction (transactional outbox).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from oms_shared.contracts import Event
from oms_shared.logs import current_correlation_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware datetimes on SQLite and PostgreSQL alike (stored as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine; SQLite gets WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})

        @sa_event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling is off; SQLAlchemy's "begin" below emits BEGIN
            # (the SQLAlchemy-documented recipe for correct SQLite transactions).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa_event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan, in which a bound
    # LIKE pattern or sort cannot use the list's prefix/trigram indexes (2.2 s vs 5 ms measured, bench/README.md).
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql+asyncpg"):
        connect_args["server_settings"] = {"plan_cache_mode": "force_custom_plan"}
    return create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args=connect_args
    )


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table]:
    """Add the outbox, inbox, idempotency and parked-events tables to a service's metadata."""
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
    )
    idempotency = sa.Table(
        "idempotency_keys",
        metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    # Events that arrived before a fact they depend on (the handler raised NotYet): re-fed later.
    sa.Table(
        "parked_events",
        metadata,
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
        sa.Index("ix_parked_events_due", "next_attempt_at"),
    )
    return outbox, inbox, idempotency


@dataclass
class Tx:
    """One open transaction: the connection plus the events to publish when it commits."""

    conn: AsyncConnection
    outbox: sa.Table
    inbox: sa.Table
    events: list[Event] = field(default_factory=list)
    _flushed: int = 0

    async def publish(self, event: Event) -> None:
        """Write ``event`` to the outbox in this transaction; the relay sends it after commit."""
        if not event.correlation_id:
            event = event.model_copy(update={"correlation_id": current_correlation_id()})
        self.events.append(event)

    async def flush(self) -> None:
        """Insert the events published so far (one statement for all; done before commit)."""
        pending, self._flushed = self.events[self._flushed :], len(self.events)
        if not pending:
            return
        now = utcnow()
        await self.conn.execute(
            self.outbox.insert(),
            [
                {
                    "event_id": str(event.event_id),
                    "topic": event.TOPIC,
                    "key": event.partition_key(),
                    "payload": event.model_dump_json(),
                    "headers": json.dumps(event.kafka_headers()),
                    "created_at": now,
                }
                for event in pending
            ],
        )

    async def claim(self, consumer: str, event: Event) -> bool:
        """Record ``event`` as processed by ``consumer``; False if it was already processed."""
        exists = await self.conn.scalar(
            sa.select(sa.literal(1))
            .select_from(self.inbox)
            .where(self.inbox.c.consumer == consumer, self.inbox.c.event_id == str(event.event_id))
        )
        if exists:
            return False
        await self.conn.execute(
            self.inbox.insert().values(
                consumer=consumer, event_id=str(event.event_id), event_type=event.event_type, processed_at=utcnow()
            )
        )
        return True


class Database:
    """A service's database: engine, messaging tables and transactions that feed the outbox."""

    def __init__(self, engine: AsyncEngine, metadata: sa.MetaData) -> None:
        self.engine = engine
        self.metadata = metadata
        self.outbox = metadata.tables["outbox"]
        self.inbox = metadata.tables["inbox"]
        self.idempotency = metadata.tables["idempotency_keys"]
        self.parked = metadata.tables["parked_events"]
        self._listeners: list[Callable[[], None]] = []
        # SQLite allows one writer; queue writers in-process instead of spinning on the file lock.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if is_sqlite(engine) else None

    def on_commit_with_events(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit that wrote to the outbox (wakes the relay)."""
        self._listeners.append(callback)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """A read-write transaction; commits on success, rolls back on any exception."""
        if self._write_lock is not None:
            async with self._write_lock:
                async with self._begin() as tx:
                    yield tx
        else:
            async with self._begin() as tx:
                yield tx

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[Tx]:
        async with self.engine.begin() as conn:
            tx = Tx(conn=conn, outbox=self.outbox, inbox=self.inbox)
            yield tx
            await tx.flush()
        if tx.events:
            for callback in self._listeners:
                callback()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries only."""
        async with self.engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
