"""Idempotent event consumption: one FastStream subscriber per service, inbox dedupe, DLQ.

Each message is parsed against the contracts; a malformed or unknown one goes to
``<topic>.dlq`` with the error. A known event runs its handler inside one transaction together
with the inbox row, so a redelivered event is applied once. A handler that keeps failing is
retried ``max_attempts`` times, then dead-lettered; the consumer moves on. The offset is
committed only after that (AckPolicy.NACK_ON_ERROR: if even the DLQ publish fails, the message
is redelivered instead of being lost).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from prometheus_client import CollectorRegistry, Counter

from oms_shared.contracts import ContractError, Event, parse_event
from oms_shared.db import Database, Tx
from oms_shared.errors import PermanentError
from oms_shared.logs import reset_correlation_id, set_correlation_id
from oms_shared.topics import dlq

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)
Handler = Callable[[Any, Tx], Awaitable[None]]


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
        self.service = service

    def event(self, event_type: str, outcome: str) -> None:
        self._events.labels(self.service, event_type, outcome).inc()

    def dead_lettered(self, topic: str) -> None:
        self._dlq.labels(self.service, topic).inc()


class EventConsumer:
    """Routes events of the subscribed topics to handlers, each in its own transaction."""

    def __init__(
        self,
        *,
        service: str,
        db: Database,
        metrics: ConsumerMetrics,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
    ) -> None:
        self.service = service
        self.db = db
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
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
        if not self._topics:
            return
        self._broker = broker
        subscriber = broker.subscriber(
            *self.topics,
            group_id=group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=heartbeat_interval_ms,
            # The broker holds a fetch until this wait passes when little data is waiting; the
            # default 500 ms put a ~250 ms floor under every hop of a flow (measured here).
            fetch_max_wait_ms=50,
            title=f"{self.service}-events",
        )
        subscriber(self._on_message)

    async def _on_message(self, msg: KafkaMessage) -> None:
        record = msg.raw_message
        topic: str = getattr(record, "topic", "") or ""
        headers = {k: v for k, v in (msg.headers or {}).items() if isinstance(v, str)}
        body = msg.body if isinstance(msg.body, bytes) else bytes(msg.body or b"")
        await self.handle_raw(topic, body, headers, key=getattr(record, "key", None), record=record)

    async def handle_raw(
        self, topic: str, body: bytes, headers: dict[str, str], *, key: bytes | None = None, record: Any = None
    ) -> None:
        """Parse, dedupe and handle one message; dead-letter it when it cannot be handled."""
        try:
            event = parse_event(body, headers)
        except ContractError as exc:
            self.metrics.event(headers.get("event_type", "unknown"), "malformed")
            await self._dead_letter(topic, body, headers, key, f"contract: {exc}", record)
            return
        handler = self._handlers.get(event.event_type)
        if handler is None:
            self.metrics.event(event.event_type, "ignored")
            return
        token = set_correlation_id(event.correlation_id or str(event.event_id))
        try:
            await self._handle_with_retries(event, handler, topic, body, headers, key, record)
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
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.db.transaction() as tx:
                    if not await tx.claim(self.service, event):
                        self.metrics.event(event.event_type, "duplicate")
                        return
                    await handler(event, tx)
                self.metrics.event(event.event_type, "processed")
                return
            except asyncio.CancelledError:
                raise
            except PermanentError as exc:
                log.warning("event %s refused: %s", event.event_id, exc)
                self.metrics.event(event.event_type, "dead_lettered")
                await self._dead_letter(topic, body, headers, key, f"refused: {exc}", record)
                return
            except Exception as exc:
                if attempt >= self.max_attempts:
                    log.exception("event %s failed %d times; dead-lettering", event.event_id, attempt)
                    self.metrics.event(event.event_type, "dead_lettered")
                    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                    await self._dead_letter(topic, body, headers, key, f"failed {attempt}x: {detail}", record)
                    return
                self.metrics.event(event.event_type, "retried")
                log.warning("event %s failed (attempt %d): %r", event.event_id, attempt, exc)
                await asyncio.sleep(self.retry_backoff_s * (2 ** (attempt - 1)))

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
