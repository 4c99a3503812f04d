"""The outbox relay: publishes committed outbox rows to Kafka in order, then deletes them.

One relay per service database is active at a time (a PostgreSQL advisory lock elects it among
replicas). Rows are sent in id order and the send futures awaited together, so per-key order
holds (one partition per key, in-order sends) while throughput stays near the producer's
batched rate. A crash between send and delete re-sends: consumers dedupe by event id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_shared.db import Database, is_sqlite, utcnow
from oms_shared.kafka import kafka_client_options

log = logging.getLogger(__name__)


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


def make_producer(bootstrap: str, *, enable_idempotence: bool = False, client_id: str = "oms") -> AIOKafkaProducer:
    """A producer that waits for all in-sync replicas; idempotence only when the broker supports it."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=enable_idempotence,
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
    ) -> None:
        self.db = db
        self.producer = producer
        self.metrics = metrics
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self._lock_key = zlib.crc32(f"oms-outbox-{service}".encode()) & 0x7FFFFFFF
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._leader_conn: AsyncConnection | None = None
        self._listening = False
        self.running = False

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
            self._wake.clear()

    async def _ensure_leader(self) -> bool:
        """On PostgreSQL, hold a session advisory lock so one replica relays at a time."""
        if is_sqlite(self.db.engine):
            return True
        if self._leader_conn is not None:
            return True
        conn = await self.db.engine.connect()
        got = await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(self._lock_key)))
        await conn.commit()
        if got:
            self._leader_conn = conn
            return True
        await conn.close()
        return False

    async def _release_leader(self) -> None:
        if self._leader_conn is not None:
            try:
                await self._leader_conn.close()
            finally:
                self._leader_conn = None

    async def publish_once(self) -> int:
        """Publish one batch in id order; returns how many rows were sent."""
        if not await self._ensure_leader():
            return 0
        outbox = self.db.outbox
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(outbox).order_by(outbox.c.id).limit(self.batch_size))).all()
            remaining = await conn.scalar(sa.select(sa.func.count()).select_from(outbox))
        if not rows:
            self.metrics.backlog.set(0)
            self.metrics.oldest_age.set(0)
            return 0
        self.metrics.backlog.set(remaining or 0)
        self.metrics.oldest_age.set(max(0.0, (utcnow() - rows[0].created_at).total_seconds()))
        futures: list[asyncio.Future[Any]] = []
        for row in rows:
            headers = [(k, str(v).encode()) for k, v in json.loads(row.headers).items()]
            futures.append(
                await self.producer.send(row.topic, value=row.payload.encode(), key=row.key.encode(), headers=headers)
            )
        await asyncio.gather(*futures)
        async with self.db.transaction() as tx:
            await tx.conn.execute(outbox.delete().where(outbox.c.id.in_([row.id for row in rows])))
        self.metrics.published.inc(len(rows))
        self.metrics.backlog.set(max(0, (remaining or 0) - len(rows)))
        return len(rows)
