"""The outbox relay: publishes committed outbox rows to Kafka in order, then deletes them (or keeps them a while).

One relay per service database is active at a time (a PostgreSQL advisory lock elects it among
replicas; the lock's connection is checked every few seconds, and a lost one gives the lead up). Each
round claims up to ``batch_size`` rows in id order, sends them all without awaiting each ack, awaits the
acks together (``acks=all``), then deletes the rows in one statement; with ``keep_sent_s`` the same transaction
moves them to ``outbox_sent`` (the retention loop deletes them after ``keep_sent_s``). When the broker lost its
log (a memory broker restarted: a produce answer's offset went back, or ``broker_lost()`` is called because the
cluster id changed or the topics were gone), the kept rows are sent again in id order before anything new
(docs/adr/019-broker-restart-and-lost-logs.md). Per-key order holds: one partition
per key and in-order sends; a row whose transaction commits late has a higher id than the rows of its
aggregate it waited for (their row locks), so it is read after them. After a commit the relay lingers
``linger_s`` when the last round was not full, so commits close together share a round. A crash between
send and delete re-sends: consumers dedupe by event id. On SQLite (no advisory lock) every process on the file
relays; a round deletes its rows by id and event id, as SQLite gives a deleted row's id to the next insert.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner, murmur2
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_shared.db import Database, UtcDateTime, is_sqlite, utcnow
from oms_shared.kafka import kafka_client_options
from oms_shared.retention import RetentionRule

log = logging.getLogger(__name__)

DEFAULT_PARTITIONER = DefaultPartitioner()
# How often the relay counts the whole backlog while rounds come back full (a partial round is the backlog).
ARRAY_OF_IDS = postgresql.ARRAY(sa.BigInteger())
BACKLOG_COUNT_INTERVAL_S = 1.0
# How often the leader checks that the connection holding its advisory lock is alive.
LEADER_CHECK_INTERVAL_S = 5.0


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.published = Counter(
            "oms_outbox_published_total", "Outbox events published to Kafka", ["service"], registry=registry
        ).labels(service)
        self.failures = Counter(
            "oms_outbox_publish_failures_total", "Failed outbox publish batches", ["service"], registry=registry
        ).labels(service)
        self.backlog = Gauge(
            "oms_outbox_backlog", "Outbox rows not yet published", ["service"], registry=registry
        ).labels(service)
        self.oldest_age = Gauge(
            "oms_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["service"], registry=registry
        ).labels(service)
        self.log_lost = Counter(
            "oms_outbox_broker_log_lost_total",
            "Times the relay found that the broker lost its log (a memory broker restarted)",
            ["service"],
            registry=registry,
        ).labels(service)
        self.resent = Counter(
            "oms_outbox_resent_total", "Published outbox rows sent again after the broker lost its log", ["service"],
            registry=registry,
        ).labels(service)  # fmt: skip
        self.unrecoverable = Counter(
            "oms_outbox_unrecoverable_losses_total",
            "Broker log losses reaching back before the kept rows: older events lost where a consumer lagged",
            ["service"],
            registry=registry,
        ).labels(service)


class KeyPartitioner:
    """aiokafka's default partitioner (murmur2 of the key, as the Java client), remembering each key's hash.

    Keys repeat (an order id, a warehouse:SKU) and the pure-Python murmur2 was an eighth of the relay's time.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._hashes: dict[bytes, int] = {}
        self._max_keys = max_keys

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if key is None:
            return DEFAULT_PARTITIONER(key, all_partitions, available)  # type: ignore[no-any-return]
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) >= self._max_keys:
                self._hashes.clear()
            found = self._hashes[key] = murmur2(key) & 0x7FFFFFFF
        return all_partitions[found % len(all_partitions)]


def make_producer(bootstrap: str, *, enable_idempotence: bool = False, client_id: str = "oms") -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; idempotence only when the broker supports it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=enable_idempotence,
        partitioner=KeyPartitioner(),
        linger_ms=5,
        max_request_size=5 * 1024 * 1024,
        client_id=client_id,
        **kafka_client_options(),
    )


class OutboxRelay:
    """Moves outbox rows to Kafka; wake it with ``notify()`` after a commit."""

    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        metrics: OutboxMetrics,
        *,
        service: str,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        linger_s: float = 0.005,
        keep_sent_s: float = 0.0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.db = db
        self.producer = producer
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.linger_s = linger_s
        self.keep_sent_s = keep_sent_s
        self._postgres = not is_sqlite(db.engine)
        self._counted_at = 0.0
        self._leader_checked_at = 0.0
        self._lock_key = zlib.crc32(f"oms-outbox-{service}".encode()) & 0x7FFFFFFF
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._leader_conn: AsyncConnection | None = None
        self._listening = False
        self.running = False
        # The highest offset a produce answer gave per (topic, partition): a lower one means the log was lost.
        self._high: dict[tuple[str, int], int] = {}
        # Why the kept rows must be sent again (None: nothing to re-send), and since when this relay knew the
        # broker whose log was lost (what was sent before the kept window may be lost for good).
        self._resend_reason: str | None = None
        self._broker_since = utcnow()
        self._lost_broker_since = self._broker_since
        # Asks the broker who it is (``BrokerWatch.check``): called before a round whenever the producer's
        # connections changed, so that a broker that started over is known before anything new is sent to it.
        self.broker_check: Callable[[], Awaitable[object]] | None = None
        self._connections: frozenset[int] | None = None

    def broker_lost(self, reason: str) -> None:
        """The broker lost its log (everything published may be gone): send the kept rows again, then go on."""
        if self._resend_reason is None:
            self._lost_broker_since = self._broker_since
        self._broker_since = utcnow()
        self._resend_reason = reason
        self._high.clear()
        self.metrics.log_lost.inc()
        log.warning("outbox relay: the broker lost its log (%s); re-sending the rows kept as sent", reason)
        self._wake.set()

    def sent_retention(self) -> RetentionRule | None:
        """The retention loop's rule for the kept sent rows (None when none are kept)."""
        if self.keep_sent_s <= 0:
            return None
        return RetentionRule(self.db.outbox_sent, "sent_at", self.keep_sent_s)

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Start relaying (again, after ``stop()``)."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")
        if not self._listening:
            self.db.on_commit_with_events(self.notify)
            self._listening = True

    async def stop(self) -> None:
        """Drain what is committed, then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
        await self._release_leader()
        self.running = False

    async def _run(self) -> None:
        self.running = True
        backoff = self.poll_interval_s
        while True:
            try:
                sent = await self.publish_once()
                backoff = self.poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception:
                self.metrics.failures.inc()
                log.exception("outbox publish failed; retrying")
                sent = 0
                backoff = min(backoff * 2, 10.0)
                await asyncio.sleep(backoff)
                continue
            if sent >= self.batch_size:
                continue
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            else:
                if self.linger_s > 0 and not self._stopping:
                    await asyncio.sleep(self.linger_s)  # let commits close behind this one join the round
            self._wake.clear()

    async def _ensure_leader(self) -> bool:
        """On PostgreSQL, hold a session advisory lock so one replica relays at a time."""
        if not self._postgres:
            return True
        if self._leader_conn is not None:
            now = time.monotonic()
            if now - self._leader_checked_at < LEADER_CHECK_INTERVAL_S:
                return True
            self._leader_checked_at = now
            try:
                await self._leader_conn.scalar(sa.select(sa.literal(1)))
                await self._leader_conn.commit()
                return True
            except Exception as exc:  # the server dropped the session, and the lock with it: elect again
                log.warning("outbox relay lost its leader connection: %r", exc)
                await self._release_leader()
        conn = await self.db.engine.connect()
        got = await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(self._lock_key)))
        await conn.commit()
        if got:
            self._leader_conn = conn
            self._leader_checked_at = time.monotonic()
            return True
        await conn.close()
        return False

    async def _release_leader(self) -> None:
        """Give the lead up: a session lock would outlive ``close()`` on a connection that goes back to the pool."""
        conn, self._leader_conn = self._leader_conn, None
        if conn is None:
            return
        try:
            await conn.scalar(sa.select(sa.func.pg_advisory_unlock(self._lock_key)))
            await conn.commit()
            await conn.close()
        except Exception as exc:  # the session is gone (and its lock with it), or unusable: never pool it again
            log.debug("releasing the outbox lead: %r", exc)
            try:
                await conn.invalidate()
                await conn.close()
            except Exception as again:
                log.debug("discarding the leader connection: %r", again)

    async def publish_once(self) -> int:
        """Publish one round (up to ``batch_size`` rows) in id order; returns how many rows were sent."""
        if not await self._ensure_leader():
            self._resend_reason = None  # the leader re-sends; this replica saw the loss too
            return 0
        if self.broker_check is not None and self._reconnected():
            await self.broker_check()
            self._connections = self._open_connections()
        if self._resend_reason is not None:
            await self.resend_kept()
        outbox = self.db.outbox
        backlog: int | None = None  # None: a full round, not counted this time (counting scans the table)
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.id).limit(self.batch_size))).all()
            if len(rows) < self.batch_size:
                backlog = len(rows)
            elif time.monotonic() - self._counted_at >= BACKLOG_COUNT_INTERVAL_S:
                self._counted_at = time.monotonic()
                backlog = int(await conn.scalar(sa.select(sa.func.count()).select_from(outbox)) or 0)
        if backlog is not None:
            self.metrics.backlog.set(backlog)
        if not rows:
            self.metrics.oldest_age.set(0)
            return 0
        self.metrics.oldest_age.set(max(0.0, (utcnow() - rows[0].created_at).total_seconds()))
        await self._send(rows)  # any failure fails the round: nothing is deleted, all is sent again
        async with self.db.transaction() as tx:
            await self._mark_sent(tx.conn, rows)
        self.metrics.published.inc(len(rows))
        if backlog is not None:
            self.metrics.backlog.set(max(0, backlog - len(rows)))
        return len(rows)

    def _open_connections(self) -> frozenset[int] | None:
        conns = getattr(self.producer.client, "_conns", None)  # aiokafka's open connections, by node
        if not isinstance(conns, dict):
            return None
        return frozenset(id(conn) for conn in conns.values() if conn.connected())

    def _reconnected(self) -> bool:
        """Whether the producer's connections are not those of the last check (or cannot be told)."""
        now = self._open_connections()
        return now is None or now != self._connections

    async def _send(self, rows: Sequence[Any]) -> None:
        """Send ``rows`` in order, await every ack, and check the answers' offsets for a lost log."""
        send = self.producer.send
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            headers = [(k, str(v).encode()) for k, v in json.loads(row.headers).items()]
            futures.append(await send(row.topic, value=row.payload.encode(), key=row.key.encode(), headers=headers))
        try:
            for future in futures:
                await future
        finally:
            for future in futures:  # a failed round: retrieve every error, so none is logged as never retrieved
                if future.done() and not future.cancelled():
                    future.exception()
        answers = [future.result() for future in futures]
        went_back = next(
            (a for a in answers if a.offset <= self._high.get((a.topic, a.partition), -1)), None
        )  # a broker keeps offsets growing per partition: one that went back started its log over
        if went_back is not None:
            seen = self._high[(went_back.topic, went_back.partition)]
            self.broker_lost(
                f"{went_back.topic}[{went_back.partition}] answered offset {went_back.offset} after {seen}"
            )
        high = self._high
        for a in answers:
            tp = (a.topic, a.partition)
            if a.offset > high.get(tp, -1):
                high[tp] = a.offset

    async def _mark_sent(self, conn: AsyncConnection, rows: Sequence[Any]) -> None:
        """Delete the published rows; with ``keep_sent_s``, move them to ``outbox_sent`` (one statement on
        PostgreSQL, two on SQLite) in the same transaction."""
        outbox = self.db.outbox
        if self._postgres:  # one array parameter: a statement prepared once, whatever the round's size
            ids = [row.id for row in rows]
            where = outbox.c.id == sa.any_(sa.bindparam("ids", ids, type_=ARRAY_OF_IDS))
        else:
            # SQLite reuses a deleted row's id (no AUTOINCREMENT), and every process on one file relays: a row
            # this round read may be gone (another relay sent it) and its id taken by a new event. Matching id
            # and event id together, a slow round never deletes (or keeps) a row it did not send.
            where = sa.tuple_(outbox.c.id, outbox.c.event_id).in_([(row.id, row.event_id) for row in rows])
        if self.keep_sent_s <= 0:
            await conn.execute(outbox.delete().where(where))
            return
        sent = self.db.outbox_sent
        # Kept in the order they were sent (their own id: SQLite reuses outbox ids once the table was empty).
        columns = ["event_id", "topic", "key", "payload", "headers", "created_at"]
        if self._postgres:
            moved = outbox.delete().where(where).returning(outbox.c.id, *(outbox.c[c] for c in columns)).cte("moved")
            await conn.execute(
                sent.insert().from_select(
                    [*columns, "sent_at"],
                    sa.select(*(moved.c[c] for c in columns), sa.func.now()).order_by(moved.c.id),
                )
            )
            return
        now = sa.literal(utcnow(), UtcDateTime())
        await conn.execute(
            sent.insert().from_select(
                [*columns, "sent_at"],
                sa.select(*(outbox.c[c] for c in columns), now).where(where).order_by(outbox.c.id),
            )
        )
        await conn.execute(outbox.delete().where(where))

    async def resend_kept(self) -> int:
        """Send the kept rows again in id order (rounds of ``batch_size``); returns how many. A failure leaves the
        re-send pending: the next round starts it over (consumers dedupe by event id)."""
        reason = self._resend_reason
        sent = self.db.outbox_sent
        after = -1
        total = 0
        oldest: datetime | None = None
        while True:
            async with self.db.read() as conn:
                rows = (
                    await conn.execute(
                        sa.select(sent).where(sent.c.id > after).order_by(sent.c.id).limit(self.batch_size)
                    )
                ).all()
            if not rows:
                break
            if oldest is None:
                oldest = rows[0].sent_at
            await self._send(rows)
            after = rows[-1].id
            total += len(rows)
        if self._resend_reason is reason:  # no new loss was met while re-sending
            self._resend_reason = None
        self.metrics.resent.inc(total)
        # What was sent to the lost broker before the kept window began is gone from the database too.
        window_start = utcnow() - timedelta(seconds=self.keep_sent_s)
        if self._lost_broker_since < window_start:
            self.metrics.unrecoverable.inc()
            log.error(
                "outbox relay: the broker lost its log, and rows published before %s (kept %.0f s) were not kept: "
                "events published to it from %s until then may be lost for consumers that had not read them",
                (oldest or window_start).isoformat(), self.keep_sent_s, self._lost_broker_since.isoformat(),
            )  # fmt: skip
        log.warning("outbox relay: %d kept rows sent again after the broker lost its log (%s)", total, reason)
        return total
