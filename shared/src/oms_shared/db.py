"""Async engine factory, the messaging tables every service owns, and the unit of work.

SQLite (aiosqlite) is the default; PostgreSQL (asyncpg) by URL. The unit of work couples a
state change with the events it causes in one transaction (transactional outbox).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from oms_shared.contracts import Event
from oms_shared.errors import Conflict
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


# Execution option of the connections Database.transaction() writes with (SQLite begins them IMMEDIATE).
WRITE_OPTION = "oms_write"


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
            # A write transaction takes the write lock at its start (waiting up to the busy timeout): begun
            # deferred, one that read first and then writes after another process committed fails at once with
            # "database is locked" (WAL cannot upgrade its stale snapshot), whatever the busy timeout.
            write = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # asyncpg prepares every statement; after five runs PostgreSQL may switch to a generic plan, in which a bound
    # LIKE pattern or sort cannot use the list's prefix/trigram indexes (2.2 s vs 5 ms measured, bench/README.md).
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql+asyncpg"):
        connect_args["server_settings"] = {"plan_cache_mode": "force_custom_plan"}
        # Statements per connection kept prepared (asyncpg's default 100 is less than a service's statements:
        # a miss costs a Parse round trip).
        connect_args["prepared_statement_cache_size"] = 500
    engine = create_async_engine(url, echo=echo, pool_size=10, max_overflow=10, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


# A pooled connection idle longer than this is pinged before use (a database restart left it dead).
PING_IDLE_S = 2.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a connection at checkout only when it sat idle in the pool: ``pool_pre_ping`` pinged every checkout.

    asyncpg's ping is three round trips (BEGIN, a query, ROLLBACK), paid by every transaction under load although a
    connection checked in a millisecond ago is alive; profiled, it was 8-10 % of the orders service's samples. A
    dead connection found here is replaced (the pool retries the checkout with a new one); one that dies while in
    use fails its transaction, a transient error the callers already retry or answer with 503.
    """
    pool_events = engine.sync_engine.pool

    @sa_event.listens_for(pool_events, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["oms_idle_since"] = time.monotonic()

    @sa_event.listens_for(pool_events, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("oms_idle_since")
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return  # new, or back in the pool a moment ago
        try:
            dbapi_conn.ping()
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"a pooled connection is dead: {exc}") from exc


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def messaging_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table, sa.Table]:
    """Add the outbox (and its kept sent rows), inbox, idempotency (keys, effects) and parked-events tables."""
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
    # Rows the relay published, kept for ``outbox_keep_sent_s`` (then deleted by the retention loop): re-sent when
    # the broker lost its log (a memory broker restarted), consumers dedupe by event id (docs/adr/019).
    sa.Table(
        "outbox_sent",
        metadata,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Index("ix_outbox_sent_sent_at", "sent_at"),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("processed_at", UtcDateTime(), nullable=False),
        sa.Index("ix_inbox_processed_at", "processed_at"),
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
        # Who holds the key and until when: after the lease a retry may take over a claim whose effect never
        # committed (its process died); the answer's time starts the record's retention.
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.Index("ix_idempotency_keys_created_at", "created_at"),
    )
    # The effect of a keyed request, written in the same transaction as the effect itself: a retry never re-does
    # it, and gets the answer rebuilt from ``outcome`` (status and where to read the result) if it was not saved.
    sa.Table(
        "idempotency_effects",
        metadata,
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("claim", sa.String(32), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("committed_at", UtcDateTime(), nullable=False),
        sa.Index("ix_idempotency_effects_committed_at", "committed_at"),
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
class RequestKey:
    """The Idempotency-Key a running request holds: its transactions record their effect under it."""

    scope: str
    key: str
    claim: str
    # How to rebuild the answer should it be lost after the effect committed: {"status": 201, "read": "/api/..."}.
    outcome: dict[str, Any] | None = None
    effect_committed: bool = False
    # The request's own task: a task it spawns (a background job) inherits the context but not the key.
    task: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)


current_request_key: ContextVar[RequestKey | None] = ContextVar("oms_request_key", default=None)


def declare_outcome(status: int, read_path: str) -> None:
    """Say how the answer of the running keyed request can be rebuilt: ``status`` with the body of ``GET read_path``.

    Call it inside the transaction that makes the effect; if the process dies after the commit and before the
    answer is saved, a retry with the same Idempotency-Key gets that answer instead of a second effect.
    """
    request_key = current_request_key.get()
    if request_key is not None:
        request_key.outcome = {"status": status, "read": read_path}


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

    async def already_processed(self, consumer: str, events: list[Event]) -> set[str]:
        """The ids among ``events`` that ``consumer`` has processed (one query for a batch)."""
        ids = [str(event.event_id) for event in events]
        found = await self.conn.scalars(
            sa.select(self.inbox.c.event_id).where(self.inbox.c.consumer == consumer, self.inbox.c.event_id.in_(ids))
        )
        return set(found)

    async def record_processed(self, consumer: str, events: list[Event]) -> None:
        """Insert the inbox rows of ``events`` (one statement); a row already there fails the transaction."""
        if not events:
            return
        now = utcnow()
        await self.conn.execute(
            self.inbox.insert(),
            [
                {"consumer": consumer, "event_id": str(e.event_id), "event_type": e.event_type, "processed_at": now}
                for e in events
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
        self.idempotency_effects = metadata.tables["idempotency_effects"]
        self.parked = metadata.tables["parked_events"]
        self.outbox_sent = metadata.tables["outbox_sent"]
        self._listeners: list[Callable[[], None]] = []
        # SQLite allows one writer; queue writers in-process instead of spinning on the file lock.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if is_sqlite(engine) else None
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True}) if is_sqlite(engine) else engine

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
        request_key = current_request_key.get()
        if request_key is not None and request_key.task is not asyncio.current_task():
            request_key = None
        async with self._write_engine.begin() as conn:
            tx = Tx(conn=conn, outbox=self.outbox, inbox=self.inbox)
            yield tx
            await tx.flush()
            if request_key is not None:
                await self._record_effect(conn, request_key)
        if request_key is not None:
            request_key.effect_committed = True
        if tx.events:
            for callback in self._listeners:
                callback()

    async def _record_effect(self, conn: AsyncConnection, request_key: RequestKey) -> None:
        """Mark the keyed request's effect as committed, in its own transaction, if the key is still its own.

        The key's row is share-locked: a retry taking over an expired claim locks it for update, so either the
        retry sees this effect, or this transaction sees the claim taken and rolls back.
        """
        keys, effects = self.idempotency, self.idempotency_effects
        where = sa.and_(keys.c.scope == request_key.scope, keys.c.key == request_key.key)
        holder = await conn.scalar(sa.select(keys.c.claim).where(where).with_for_update(read=True))
        if holder != request_key.claim:
            raise Conflict(
                "a retry with this Idempotency-Key took the request over; retry to get its answer",
                code="request_in_progress",
            )
        outcome = json.dumps(request_key.outcome) if request_key.outcome else None
        if request_key.effect_committed:
            if outcome is not None:
                await conn.execute(
                    effects.update()
                    .where(effects.c.scope == request_key.scope, effects.c.key == request_key.key)
                    .values(outcome=outcome)
                )
            return
        await conn.execute(
            effects.insert().values(
                scope=request_key.scope,
                key=request_key.key,
                claim=request_key.claim,
                outcome=outcome,
                committed_at=utcnow(),
            )
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries only.

        On PostgreSQL its queries share one snapshot (REPEATABLE READ; read-only, so it never meets a
        serialization failure): an answer built from several queries (an order, its lines, its parts) never
        mixes the state before a concurrent commit with the state after it. SQLite reads one snapshot anyway."""
        async with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
