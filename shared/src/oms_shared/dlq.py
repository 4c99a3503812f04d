"""Dead letters: list what the consumers gave up on, and replay it to its source topic once the cause is fixed.

A consumer dead-letters a message to ``<topic>.dlq`` with headers naming the error, the consuming service and
the source partition/offset (``oms_shared.consumer``). Replaying publishes the original body, key and headers
(without the ``dlq_*`` ones) to the source topic again. Every service consuming that topic sees it again; the
ones that applied it before skip it by their inbox (same event id), so a replay — even a repeated one — applies
each event at most once per service.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from oms_shared.kafka import kafka_client_options
from oms_shared.outbox import make_producer
from oms_shared.topics import ALL_TOPICS, DLQ_SUFFIX, dlq

REPLAYED_FROM = "oms_replayed_from"


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]

    @property
    def source_topic(self) -> str:
        return self.headers.get("dlq_source_topic") or self.dlq_topic.removesuffix(DLQ_SUFFIX)

    @property
    def error(self) -> str:
        return self.headers.get("dlq_error", "")

    @property
    def consumer(self) -> str:
        return self.headers.get("dlq_consumer", "")

    @property
    def malformed(self) -> bool:
        """The message never parsed as an event: replaying it fails the same way unless a contract changed."""
        return self.error.startswith("contract:")

    @property
    def event_id(self) -> str:
        try:
            body = json.loads(self.value)
        except ValueError:
            return ""
        value = body.get("event_id") if isinstance(body, dict) else None
        return value if isinstance(value, str) else ""

    @property
    def event_type(self) -> str:
        return self.headers.get("event_type", "")

    def summary(self) -> dict[str, object]:
        return {
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "source_topic": self.source_topic,
            "consumer": self.consumer,
            "event_type": self.event_type,
            "event_id": self.event_id,
            "error": self.error,
        }


async def read_dead_letters(
    bootstrap: str, topics: Iterable[str] | None = None, *, idle_timeout_s: float = 2.0
) -> list[DeadLetter]:
    """Every message on the dead-letter topics of ``topics`` (default: all), in partition order.

    Partitions are assigned by hand (no group, nothing committed) and read from the start until nothing
    new arrives for ``idle_timeout_s``: the bundled broker's end offsets are not trusted (BROKER.md).
    """
    wanted = [dlq(t) for t in (topics or ALL_TOPICS)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
        **kafka_client_options(),
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        partitions = [
            TopicPartition(topic, p) for topic in wanted for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            await consumer.topics()  # refresh metadata once: topics may not be known to this client yet
            partitions = [
                TopicPartition(topic, p) for topic in wanted for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        quiet_until = loop.time() + idle_timeout_s
        while loop.time() < quiet_until:
            batch = await consumer.getmany(timeout_ms=200, max_records=1000)
            for tp, records in batch.items():
                for r in records:
                    letters.append(
                        DeadLetter(
                            dlq_topic=tp.topic,
                            partition=tp.partition,
                            offset=r.offset,
                            key=r.key,
                            value=r.value or b"",
                            headers={k: v.decode(errors="replace") for k, v in (r.headers or ())},
                        )
                    )
                quiet_until = loop.time() + idle_timeout_s
    finally:
        await consumer.stop()
    letters.sort(key=lambda d: (d.dlq_topic, d.partition, d.offset))
    return letters


def select(
    letters: Iterable[DeadLetter],
    *,
    consumer: str = "",
    event_ids: Iterable[str] = (),
    include_malformed: bool = False,
) -> list[DeadLetter]:
    """The letters to replay: of one consuming service and/or given event ids; malformed ones only if asked."""
    ids = set(event_ids)
    return [
        d
        for d in letters
        if (not consumer or d.consumer == consumer)
        and (not ids or d.event_id in ids)
        and (include_malformed or not d.malformed)
    ]


async def replay(bootstrap: str, letters: Iterable[DeadLetter]) -> int:
    """Publish each letter to its source topic again (same key, body and event headers); returns the count."""
    chosen = list(letters)
    if not chosen:
        return 0
    producer = make_producer(bootstrap, client_id=f"oms-dlq-replay-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        futures = []
        for d in chosen:
            headers = [(k, v.encode()) for k, v in d.headers.items() if not k.startswith("dlq_")]
            headers.append((REPLAYED_FROM, f"{d.dlq_topic}:{d.partition}:{d.offset}".encode()))
            futures.append(await producer.send(d.source_topic, d.value, key=d.key, headers=headers))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return len(chosen)
