"""Rebuild of the read models: reset them and replay the topics from the beginning.

The replay reads every partition of the consumed topics from offset 0 with its own reader (manual
assignment, no group: nothing to join, nothing to commit) and applies each event with the same
handlers the live consumer uses. Those handlers are idempotent and order-insensitive, so the live
consumer may keep running meanwhile and the result equals the figures built live.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from oms_analytics.db import READ_MODEL_TABLES
from oms_analytics.handlers import ORDER_CHANGES, EventHandler, apply_order_changes
from oms_shared.contracts import ContractError, Event, parse_event
from oms_shared.db import Database
from oms_shared.kafka import kafka_client_options

log = logging.getLogger(__name__)


@dataclass
class RebuildReport:
    rebuild_id: str
    tenant_id: str | None
    status: str = "running"
    events_read: int = 0
    events_applied: int = 0
    events_skipped: int = 0
    seconds: float = 0.0
    events_per_second: float = 0.0
    error: str | None = None
    started_at: float = field(default_factory=time.time)

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("started_at")
        return body


async def reset_read_models(db: Database, tenant_id: str | None) -> None:
    """Empty the read models (of one tenant, or all)."""
    async with db.transaction() as tx:
        for table in reversed(READ_MODEL_TABLES):
            stmt = table.delete()
            if tenant_id is not None:
                stmt = stmt.where(table.c.tenant_id == tenant_id)
            await tx.conn.execute(stmt)


def _headers(record: ConsumerRecord[bytes, bytes]) -> dict[str, str]:
    out = {}
    for key, value in record.headers or ():
        try:
            out[key] = value.decode() if isinstance(value, bytes) else str(value)
        except UnicodeDecodeError:
            continue
    return out


class Rebuilder:
    """Replays the handled topics into the read models."""

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        handlers: Mapping[type[Event], EventHandler],
        *,
        batch_size: int = 1000,
        idle_s: float = 1.5,
        max_idle_s: float = 10.0,
    ) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.handlers = {cls.EVENT_TYPE: h for cls, h in handlers.items()}
        self.topics = sorted({cls.TOPIC for cls in handlers})
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.max_idle_s = max_idle_s

    async def run(self, tenant_id: str | None = None, report: RebuildReport | None = None) -> RebuildReport:
        report = report or RebuildReport(rebuild_id=str(uuid.uuid4()), tenant_id=tenant_id)
        start = time.perf_counter()
        try:
            await reset_read_models(self.db, tenant_id)
            await self._replay(tenant_id, report)
            report.status = "done"
        except Exception as exc:
            log.exception("rebuild %s failed", report.rebuild_id)
            report.status = "failed"
            report.error = f"{type(exc).__name__}: {exc}"
        report.seconds = round(time.perf_counter() - start, 3)
        report.events_per_second = round(report.events_read / report.seconds, 1) if report.seconds else 0.0
        return report

    async def _replay(self, tenant_id: str | None, report: RebuildReport) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            fetch_max_bytes=32 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **kafka_client_options(),
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in self.topics
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            # End offsets are only a lower bound here (Tansu can report them short, BROKER.md): the replay
            # also waits for the topics to stay quiet before it stops.
            ends = await consumer.end_offsets(partitions)
            last_data = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=300, max_records=self.batch_size)
                records = [r for recs in batch.values() for r in recs]
                if records:
                    last_data = time.monotonic()
                    await self._apply(records, tenant_id, report)
                    continue
                idle = time.monotonic() - last_data
                caught_up = all(
                    await asyncio.gather(*(self._position_at_least(consumer, tp, ends[tp]) for tp in partitions))
                )
                if (caught_up and idle >= self.idle_s) or idle >= self.max_idle_s:
                    return
        finally:
            await consumer.stop()

    @staticmethod
    async def _position_at_least(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
        position: int = await consumer.position(tp)
        return position >= end

    async def _apply(
        self, records: list[ConsumerRecord[bytes, bytes]], tenant_id: str | None, report: RebuildReport
    ) -> None:
        events: list[Event] = []
        for record in records:
            report.events_read += 1
            try:
                event = parse_event(record.value or b"", _headers(record))
            except ContractError:
                report.events_skipped += 1  # the live consumer dead-lettered it already
                continue
            if event.event_type not in self.handlers or (tenant_id is not None and str(event.tenant_id) != tenant_id):
                report.events_skipped += 1
                continue
            events.append(event)
        try:
            # One transaction per batch: the replay is bulk work, and every handler is safe to reapply.
            async with self.db.transaction() as tx:
                changes = [ORDER_CHANGES[e.event_type](e) for e in events if e.event_type in ORDER_CHANGES]
                if changes:
                    await apply_order_changes(tx.conn, changes)
                for event in events:
                    if event.event_type not in ORDER_CHANGES:
                        await self.handlers[event.event_type](event, tx)
            report.events_applied += len(events)
        except Exception:
            # One bad event must not sink its batch: redo it event by event and skip what fails.
            for event in events:
                try:
                    async with self.db.transaction() as tx:
                        await self.handlers[event.event_type](event, tx)
                    report.events_applied += 1
                except Exception as exc:
                    log.warning("rebuild skips event %s: %s", event.event_id, exc)
                    report.events_skipped += 1


class RebuildRuns:
    """Rebuilds started over HTTP: one at a time per tenant, their reports kept for polling."""

    def __init__(self, rebuilder: Rebuilder) -> None:
        self.rebuilder = rebuilder
        self.reports: dict[str, RebuildReport] = {}
        self._tasks: dict[str, asyncio.Task[RebuildReport]] = {}

    def running_for(self, tenant_id: str | None) -> RebuildReport | None:
        for report in self.reports.values():
            if report.status == "running" and (report.tenant_id == tenant_id or report.tenant_id is None):
                return report
        return None

    def start(self, tenant_id: str | None) -> tuple[RebuildReport, asyncio.Task[RebuildReport]]:
        report = RebuildReport(rebuild_id=str(uuid.uuid4()), tenant_id=tenant_id)
        self.reports[report.rebuild_id] = report
        task = asyncio.create_task(self.rebuilder.run(tenant_id, report), name=f"rebuild-{report.rebuild_id}")
        self._tasks[report.rebuild_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(report.rebuild_id, None))
        return report, task

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
