"""Read topics of the real broker in tests (always from the earliest offset, never from the end)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from oms_shared.contracts import Event
from oms_shared.outbox import make_producer
from tests.support.services import WAIT_SCALE


@dataclass
class Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    partition: int


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 20.0) -> list[Record]:
    """Consume ``topic`` from the beginning until ``expect`` records arrived (or the timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    records: list[Record] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout * WAIT_SCALE
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for tp_records in batch.values():
                for r in tp_records:
                    headers = {k: v.decode() for k, v in (r.headers or ())}
                    records.append(Record(r.topic, r.key, r.value, headers, r.partition))
    finally:
        await consumer.stop()
    return records


async def send_event(producer: AIOKafkaProducer, event: Event) -> None:
    """Put an event on its topic exactly as an outbox relay would."""
    await producer.send_and_wait(
        event.TOPIC,
        event.to_json(),
        key=event.partition_key().encode(),
        headers=event.kafka_header_list(),
    )


async def started_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = make_producer(bootstrap)
    await producer.start()
    return producer
