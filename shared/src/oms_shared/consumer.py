"""Idempotent event consumption: one FastStream subscriber per service, inbox dedupe, DLQ.

Each message is parsed against the contracts; a malformed or unknown one goes to
``<topic>.dlq`` with the error. A known event runs its handler inside one transaction together
with the inbox row, so a redelivered event is applied once. A handler that keeps failing is
retried ``max_attempts`` times, then dead-lettered; the consumer moves on. A *transient* database error
(unreachable, failover, serialization failure, deadlock, lock timeout, SQLite busy; see ``oms_shared.transient``)
is not such a failure: the event is tried again in place with backoff up to ``transient_backoff_max_s``, for as
long as the error lasts, the subscription's partitions are paused meanwhile (nothing is fetched ahead) and the
service reports not ready while the database is unreachable; it would only fail the same way on every event
behind it, so dead-lettering it would empty the topic into ``.dlq`` during a 30 s failover. The offset is
committed only after that (AckPolicy.NACK_ON_ERROR: if even the DLQ publish fails, the message
is redelivered instead of being lost).

Kafka orders events within a partition, not across topics: an ``order.changed`` may arrive before the
``account.updated`` it needs. A handler says so by raising ``NotYet``; the event is then *parked* in the
service's ``parked_events`` table (the offset moves on, nothing is lost) and fed to the handler again with
backoff by ``run_parked`` until it applies, or dead-lettered after ``park_deadline_s``. A parked event is
applied after events of its aggregate that arrived later; handlers here keep versions per field, so that
only changes the order of notifications, never the state.

With ``batch_size`` above 1 the subscriber takes what one poll brings (up to ``batch_size`` messages) and applies
its events in ONE transaction, inbox rows and effects together, in the order they arrived (partition by
partition, so per key), then commits the offsets once. The inbox is read once for the batch and its new rows
written in one statement after the handlers. A transaction holds at most ``batch_max_s`` of handler
work: the rest of the poll goes in the next one. When an event fails inside the batch (a bug, a refusal,
``NotYet``), the transaction is rolled back, the events before it are applied together again, and the failing
event takes the one-event path above as if that failed try had been its first (retried, parked or
dead-lettered alone); the events after it are batched again. When the batch as a whole fails (a transient
database error, or one at commit, where no single event is to blame) its events take the one-event path one by
one, with its in-place retries. A poll of one message always takes the one-event path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import sqlalchemy as sa
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry, Counter, Gauge

from oms_shared.contracts import ContractError, Event, parse_event
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import NotYet, PermanentError
from oms_shared.logs import reset_correlation_id, set_correlation_id
from oms_shared.topics import dlq
from oms_shared.transient import CONTENTION, UNAVAILABLE, transient_kind

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any, Tx], Awaitable[None]]


# Outcomes of a known event (oms_consumer_events_total); "malformed" and "ignored" come with unknown types.
OUTCOMES = ("processed", "duplicate", "retried", "dead_lettered", "parked", "unparked")


class ConsumerMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self._events = Counter(
            "oms_consumer_events_total",
            "Events seen by the service's consumer, by outcome",
            ["service", "event_type", "outcome"],
            registry=registry,
        )
        self._dlq = Counter(
            "oms_dlq_messages_total", "Messages sent to a dead-letter topic", ["service", "topic"], registry=registry
        )
        self._transient = Counter(
            "oms_consumer_transient_retries_total",
            "Tries of an event that failed on a transient database error and were repeated in place",
            ["service", "kind"],
            registry=registry,
        )
        self.waiting_for_database = Gauge(
            "oms_consumer_waiting_for_database",
            "1 while the consumer holds an event because its database is unreachable",
            ["service"],
            registry=registry,
        )
        self.parked = Gauge(
            "oms_parked_events", "Events waiting for a fact they depend on (NotYet)", ["service"], registry=registry
        )
        self.service = service

    def initialise(self, topics: list[str], event_types: list[str]) -> None:
        """Series at zero for every label set known at start, so an alert sees the first increase."""
        for topic in topics:
            self._dlq.labels(self.service, topic)
        for event_type in event_types:
            for outcome in OUTCOMES:
                self._events.labels(self.service, event_type, outcome)
        for kind in (UNAVAILABLE, CONTENTION):
            self._transient.labels(self.service, kind)
        self.waiting_for_database.labels(self.service).set(0)
        self.parked.labels(self.service).set(0)

    def event(self, event_type: str, outcome: str) -> None:
        self._events.labels(self.service, event_type, outcome).inc()

    def dead_lettered(self, topic: str) -> None:
        self._dlq.labels(self.service, topic).inc()

    def transient_retry(self, kind: str) -> None:
        self._transient.labels(self.service, kind).inc()


@dataclass
class Delivery:
    """One parsed message with a handler: the event and where it came from (to park or dead-letter it)."""

    event: Event
    handler: Handler
    topic: str
    body: bytes
    headers: dict[str, str]
    key: bytes | None
    record: Any


class EventConsumer:
    """Routes events of the subscribed topics to handlers, in a transaction per event or per batch."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        metrics: ConsumerMetrics,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
        park_backoff_s: float = 0.5,
        park_deadline_s: float = 900.0,
        transient_backoff_s: float = 0.5,
        transient_backoff_max_s: float = 30.0,
        batch_size: int = 1,
        batch_wait_ms: int = 10,
        batch_max_s: float = 0.25,
    ) -> None:
        self.service = service
        self.db = db
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.park_backoff_s = park_backoff_s
        self.park_deadline_s = park_deadline_s
        self.transient_backoff_s = transient_backoff_s
        self.transient_backoff_max_s = transient_backoff_max_s
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.batch_size = batch_size
        # An idle batch subscriber polls this long, then sleeps as long: the most a first message waits.
        self.batch_wait_ms = batch_wait_ms
        self.batch_max_s = batch_max_s
        # Set while an event waits for an unreachable database; the service is not ready meanwhile.
        self.database_unavailable = False
        self._subscriber: Any = None
        self._handlers: dict[str, Handler] = {}
        self.handled_events: list[type[Event]] = []
        self._topics: set[str] = set()
        self._broker: KafkaBroker | None = None

    def on(self, event_cls: type[E], handler: Callable[[E, Tx], Awaitable[None]]) -> None:
        """Handle ``event_cls`` with ``handler(event, tx)``; its topic is subscribed."""
        self._handlers[event_cls.EVENT_TYPE] = handler
        self.handled_events.append(event_cls)
        self._topics.add(event_cls.TOPIC)

    @property
    def topics(self) -> list[str]:
        return sorted(self._topics)

    def attach(
        self,
        broker: KafkaBroker,
        *,
        group_id: str,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 2000,
    ) -> None:
        """Register one subscriber for every handled topic on ``broker``."""
        self.metrics.initialise(self.topics, [cls.EVENT_TYPE for cls in self.handled_events])
        if not self._topics:
            return
        self._broker = broker
        options: dict[str, Any] = {
            "group_id": group_id,
            "auto_offset_reset": "earliest",
            # Offsets are committed after the handler returns; if it raises, the partitions are rewound to the
            # first message it was given (a whole batch is delivered again; the inbox skips what was applied).
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            # The broker holds a fetch until this wait passes when little data is waiting; the
            # default 500 ms put a ~250 ms floor under every hop of a flow (measured here).
            "fetch_max_wait_ms": 50,
            "title": f"{self.service}-events",
        }
        if self.batch_size > 1:
            subscriber = broker.subscriber(
                *self.topics,
                batch=True,
                max_records=self.batch_size,
                batch_timeout_ms=self.batch_wait_ms,
                **options,
            )
            subscriber(self._on_batch)
        else:
            subscriber = broker.subscriber(*self.topics, **options)
            subscriber(self._on_message)
        self._subscriber = subscriber

    async def _on_message(self, msg: KafkaMessage) -> None:
        record = msg.raw_message
        topic: str = getattr(record, "topic", "") or ""
        headers = {k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)}
        body = msg.body if isinstance(msg.body, bytes) else bytes(msg.body or b"")
        await self.handle_raw(topic, body, headers, key=getattr(record, "key", None), record=record)

    async def _on_batch(self, msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        await self.handle_records(records)

    async def handle_records(self, records: Sequence[Any]) -> None:
        """Handle the messages of one poll (aiokafka records, in partition order) as a batch."""
        deliveries: list[Delivery] = []
        for record in records:
            headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
            delivery = await self._parse(str(record.topic), record.value or b"", headers, record.key, record)
            if delivery is not None:
                deliveries.append(delivery)
        await self.apply_batch(deliveries)

    async def handle_raw(
        self, topic: str, body: bytes, headers: dict[str, str], *, key: bytes | None = None, record: Any = None
    ) -> None:
        """Parse, dedupe and handle one message; dead-letter it when it cannot be handled."""
        delivery = await self._parse(topic, body, headers, key, record)
        if delivery is not None:
            await self._handle_one(delivery)

    async def _parse(
        self, topic: str, body: bytes, headers: dict[str, str], key: bytes | None, record: Any
    ) -> Delivery | None:
        """The message's event and handler; ``None`` when there is nothing to apply (dead-lettered, or ignored)."""
        try:
            event = parse_event(body, headers)
        except ContractError as exc:
            self.metrics.event(headers.get("event_type", "unknown"), "malformed")
            await self._dead_letter(topic, body, headers, key, f"contract: {exc}", record)
            return None
        handler = self._handlers.get(event.event_type)
        if handler is None:
            self.metrics.event(event.event_type, "ignored")
            return None
        return Delivery(event, handler, topic, body, headers, key, record)

    async def apply_batch(self, deliveries: Sequence[Delivery]) -> None:
        """Apply events in arrival order, as few transactions as possible; each failing one alone, as today."""
        start = 0
        while start < len(deliveries):
            chunk = deliveries[start:]
            if len(chunk) == 1:
                await self._handle_one(chunk[0])
                return
            applied, failed_at, exc = await self._try_batch(chunk)
            if exc is None:
                start += applied
                continue
            if failed_at is None or transient_kind(exc) is not None:
                # The database or the commit, not one event: each takes the one-event path with its retries.
                log.warning("batch of %d events failed (%r); applying them one by one", len(chunk), exc)
                for delivery in chunk:
                    await self._handle_one(delivery)
                return
            if failed_at:
                await self.apply_batch(chunk[:failed_at])
            await self._handle_one(chunk[failed_at], first_failure=exc)
            start += failed_at + 1

    async def _try_batch(self, chunk: Sequence[Delivery]) -> tuple[int, int | None, Exception | None]:
        """One transaction over the events of ``chunk`` from the first, up to ``batch_max_s`` of work.

        Returns (how many were applied, None, None) when it committed; (0, index of the event whose handler
        failed or None when no single event failed, the error) when it rolled back.
        """
        outcomes: list[tuple[str, str]] = []
        current: int | None = None
        deadline = time.monotonic() + self.batch_max_s
        try:
            async with self.db.transaction() as tx:
                # The inbox in two statements for the batch: which were applied before, then (after the handlers,
                # same transaction) the rows of those applied now; its primary key still refuses a second one.
                seen = await tx.already_processed(self.service, [d.event for d in chunk])
                applied: list[Event] = []
                for index, delivery in enumerate(chunk):
                    if index and time.monotonic() >= deadline:
                        break  # locks are held until commit: the rest goes in the next transaction
                    current = index
                    event = delivery.event
                    event_id = str(event.event_id)
                    if event_id in seen:
                        outcomes.append((event.event_type, "duplicate"))
                        continue
                    token = set_correlation_id(event.correlation_id or event_id)
                    try:
                        await delivery.handler(event, tx)
                    finally:
                        reset_correlation_id(token)
                    seen.add(event_id)
                    applied.append(event)
                    outcomes.append((event.event_type, "processed"))
                current = None  # what fails from here (inbox rows, the outbox insert, the commit) is the batch's
                await tx.record_processed(self.service, applied)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return 0, current, exc
        for event_type, outcome in outcomes:
            self.metrics.event(event_type, outcome)
        return len(outcomes), None, None

    async def _handle_one(self, delivery: Delivery, *, first_failure: Exception | None = None) -> None:
        event = delivery.event
        token = set_correlation_id(event.correlation_id or str(event.event_id))
        try:
            await self._handle_with_retries(
                event,
                delivery.handler,
                delivery.topic,
                delivery.body,
                delivery.headers,
                delivery.key,
                delivery.record,
                first_failure=first_failure,
            )
        finally:
            reset_correlation_id(token)

    async def _handle_with_retries(
        self,
        event: Event,
        handler: Handler,
        topic: str,
        body: bytes,
        headers: dict[str, str],
        key: bytes | None,
        record: Any,
        *,
        first_failure: Exception | None = None,
    ) -> None:
        """``first_failure``: how its try inside a batch failed; that try counts as its first here."""
        attempt = 0  # failures that may happen again: bounded by max_attempts
        outage = 0  # consecutive transient failures: retried in place for as long as they last
        try:
            while True:
                try:
                    try:
                        if first_failure is not None:
                            failure, first_failure = first_failure, None
                            raise failure
                        async with self.db.transaction() as tx:
                            if not await tx.claim(self.service, event):
                                self.metrics.event(event.event_type, "duplicate")
                                return
                            await handler(event, tx)
                        self.metrics.event(event.event_type, "processed")
                        return
                    except NotYet as exc:
                        await self._park(event, topic, body, headers, key, str(exc), record)
                        return
                except asyncio.CancelledError:
                    raise
                except PermanentError as exc:
                    log.warning("event %s refused: %s", event.event_id, exc)
                    self.metrics.event(event.event_type, "dead_lettered")
                    await self._dead_letter(topic, body, headers, key, f"refused: {exc}", record)
                    return
                except Exception as exc:
                    kind = transient_kind(exc)
                    if kind is not None:
                        outage += 1
                        await self._wait_out(event, kind, exc, outage)
                        continue
                    attempt += 1
                    if attempt >= self.max_attempts:
                        log.exception("event %s failed %d times; dead-lettering", event.event_id, attempt)
                        self.metrics.event(event.event_type, "dead_lettered")
                        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                        await self._dead_letter(topic, body, headers, key, f"failed {attempt}x: {detail}", record)
                        return
                    self.metrics.event(event.event_type, "retried")
                    log.warning("event %s failed (attempt %d): %r", event.event_id, attempt, exc)
                    await asyncio.sleep(self.retry_backoff_s * (2 ** (attempt - 1)))
        finally:
            if outage:
                self._recovered(event, outage)

    def transient_delay(self, outage: int) -> float:
        """Seconds before try ``outage + 1`` of an event held by a transient error: doubling, capped."""
        return float(min(self.transient_backoff_s * 2.0 ** min(outage - 1, 30), self.transient_backoff_max_s))

    async def _wait_out(self, event: Event, kind: str, exc: Exception, outage: int) -> None:
        """Hold the event (and the partitions behind it) while a transient error lasts."""
        delay = self.transient_delay(outage)
        self.metrics.transient_retry(kind)
        if outage == 1:
            self._pause()
        if kind == UNAVAILABLE and not self.database_unavailable:
            self.database_unavailable = True
            self.metrics.waiting_for_database.labels(self.service).set(1)
        log.warning(
            "event %s (%s): transient database error (%s, try %d), trying again in %.1f s: %r",
            event.event_id,
            event.event_type,
            kind,
            outage,
            delay,
            exc,
        )
        await asyncio.sleep(delay)

    def _recovered(self, event: Event, outage: int) -> None:
        if self.database_unavailable:
            self.database_unavailable = False
            self.metrics.waiting_for_database.labels(self.service).set(0)
        self._resume()
        log.info("event %s went through after %d transient failures", event.event_id, outage)

    def _kafka_consumer(self) -> Any:
        return getattr(self._subscriber, "consumer", None) if self._subscriber is not None else None

    def assigned_partitions(self) -> dict[str, list[int]] | None:
        """The partitions this process consumes now, by topic (replicas of a service split them);
        ``None`` when it consumes nothing (no subscriber), ``{}`` between assignments."""
        consumer = self._kafka_consumer()
        if consumer is None:
            return None
        try:
            assignment = consumer.assignment()
        except Exception:  # a rebalance in between, or not started: nothing assigned right now
            return {}
        found: dict[str, list[int]] = {}
        for tp in assignment:
            found.setdefault(str(tp.topic), []).append(int(tp.partition))
        return {topic: sorted(found[topic]) for topic in sorted(found)}

    def highwater(self, tp: Any) -> int | None:
        """The end of the log the last fetch of ``tp`` brought back, when this process consumes it."""
        consumer = self._kafka_consumer()
        if consumer is None:
            return None
        try:
            if tp not in consumer.assignment():
                return None
            value = consumer.highwater(tp)
        except Exception:  # between assignments: unknown here, the broker's answer stands
            return None
        return int(value) if value is not None else None

    def _pause(self) -> None:
        """Stop fetching ahead while the current event waits (the offsets behind it stay uncommitted)."""
        consumer = self._kafka_consumer()
        if consumer is None:
            return
        try:
            consumer.pause(*consumer.assignment())
        except Exception as exc:  # a rebalance in between: nothing to pause, fetching is harmless then
            log.debug("could not pause the subscription: %r", exc)

    def _resume(self) -> None:
        consumer = self._kafka_consumer()
        if consumer is None:
            return
        try:
            consumer.resume(*consumer.paused())
        except Exception as exc:
            log.debug("could not resume the subscription: %r", exc)

    async def _dead_letter(
        self, topic: str, body: bytes, headers: dict[str, str], key: bytes | None, error: str, record: Any
    ) -> None:
        if self._broker is None:
            raise RuntimeError(f"cannot dead-letter ({error}): consumer not attached to a broker")
        dlq_headers = dict(headers)
        dlq_headers.update(
            {
                "dlq_error": error[:4000],
                "dlq_source_topic": topic,
                "dlq_source_partition": str(getattr(record, "partition", "")),
                "dlq_source_offset": str(getattr(record, "offset", "")),
                "dlq_consumer": self.service,
            }
        )
        log.error("dead-lettering message from %s: %s", topic, error)
        await self._broker.publish(body, topic=dlq(topic), key=key, headers=dlq_headers)
        self.metrics.dead_lettered(topic)

    # ------------------------------------------------------------------ parked events (NotYet)

    def _park_delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.park_backoff_s * 2 ** (attempts - 1), 60.0))

    async def _park(
        self,
        event: Event,
        topic: str,
        body: bytes,
        headers: dict[str, str],
        key: bytes | None,
        reason: str,
        record: Any,
    ) -> None:
        """Keep the event to try again later; a redelivered message that is parked already stays as it is."""
        parked = self.db.parked
        stored = dict(headers)
        stored["oms_source_partition"] = str(getattr(record, "partition", ""))
        stored["oms_source_offset"] = str(getattr(record, "offset", ""))
        now = utcnow()
        async with self.db.transaction() as tx:
            if await tx.conn.scalar(
                sa.select(parked.c.id).where(
                    parked.c.consumer == self.service, parked.c.event_id == str(event.event_id)
                )
            ):
                return
            await tx.conn.execute(
                parked.insert().values(
                    consumer=self.service,
                    event_id=str(event.event_id),
                    topic=topic,
                    key=key,
                    body=body,
                    headers=json.dumps(stored),
                    reason=reason[:4000],
                    attempts=1,
                    parked_at=now,
                    next_attempt_at=now + self._park_delay(1),
                )
            )
        self.metrics.event(event.event_type, "parked")
        log.info("event %s (%s) parked: %s", event.event_id, event.event_type, reason)

    async def retry_parked(self, *, now: datetime | None = None, limit: int = 100) -> int:
        """Feed the parked events that are due to their handlers again; returns how many were due."""
        parked = self.db.parked
        now = now or utcnow()
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(parked)
                    .where(parked.c.consumer == self.service, parked.c.next_attempt_at <= now)
                    .order_by(parked.c.id)
                    .limit(limit)
                )
            ).all()
        for row in rows:
            await self._retry_one(row, now)
        async with self.db.read() as conn:
            waiting = await conn.scalar(
                sa.select(sa.func.count()).select_from(parked).where(parked.c.consumer == self.service)
            )
        self.metrics.parked.labels(self.service).set(waiting or 0)
        return len(rows)

    async def _retry_one(self, row: Any, now: datetime) -> None:
        parked = self.db.parked
        headers: dict[str, str] = json.loads(row.headers)
        source = SimpleNamespace(
            partition=headers.pop("oms_source_partition", ""), offset=headers.pop("oms_source_offset", "")
        )
        event = parse_event(row.body, headers)  # it parsed when it was parked
        # The row by id and event id: on SQLite a row another process took (applied and deleted) gives its id to
        # the next event parked, which this stale row's id alone would take (deleted, never applied) or update.
        this = sa.and_(parked.c.id == row.id, parked.c.event_id == row.event_id)
        handler = self._handlers.get(event.event_type)
        token = set_correlation_id(event.correlation_id or str(event.event_id))
        try:
            if handler is None:
                raise PermanentError(f"no handler for {event.event_type} any more")
            async with self.db.transaction() as tx:
                taken = await tx.conn.execute(parked.delete().where(this))
                if not taken.rowcount:  # another process of this service took it
                    return
                if await tx.claim(self.service, event):
                    await handler(event, tx)
            self.metrics.event(event.event_type, "unparked")
            log.info("parked event %s applied after %d attempts", event.event_id, row.attempts)
            return
        except asyncio.CancelledError:
            raise
        except PermanentError as exc:
            reason, final = f"refused: {exc}", True
        except Exception as exc:
            if transient_kind(exc) is not None:
                # The database, not the event: try it again later, however long the outage lasted.
                log.warning("parked event %s: transient database error, retried later: %r", event.event_id, exc)
                return
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            reason = str(exc) if isinstance(exc, NotYet) else f"failed: {detail}"
            final = now - row.parked_at >= timedelta(seconds=self.park_deadline_s)
        finally:
            reset_correlation_id(token)
        if final:
            self.metrics.event(event.event_type, "dead_lettered")
            await self._dead_letter(
                row.topic, row.body, headers, row.key, f"parked {row.attempts}x, gave up: {reason}", source
            )
            async with self.db.transaction() as tx:
                await tx.conn.execute(parked.delete().where(this))
            return
        async with self.db.transaction() as tx:
            await tx.conn.execute(
                parked.update()
                .where(this)
                .values(
                    attempts=row.attempts + 1,
                    reason=reason[:4000],
                    next_attempt_at=now + self._park_delay(row.attempts + 1),
                )
            )

    async def run_parked(self, poll_interval_s: float = 0.5) -> None:
        """Background loop: retry parked events as they fall due."""
        while True:
            if not await self.retry_parked():
                await asyncio.sleep(poll_interval_s)
