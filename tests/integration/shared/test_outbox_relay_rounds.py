"""The outbox relay's rounds against the real broker: two replicas on one PostgreSQL database, lingering."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, create_engine, messaging_tables
from oms_shared.outbox import KeyPartitioner, OutboxMetrics, OutboxRelay, make_producer
from oms_shared.topics import STOCK_UPDATED
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.kafka import read_topic
from tests.support.services import eventually

TENANT = uuid.uuid4()
WAREHOUSE = uuid.UUID(int=3)


def stock_event(key: int, sequence: int) -> StockUpdatedV1:
    sku = f"SKU-{key}"
    return make_event(
        StockUpdatedV1,
        tenant_id=TENANT,
        aggregate_id=f"{WAREHOUSE}:{sku}",
        sequence=sequence,
        data={"warehouse_id": WAREHOUSE, "sku": sku, "on_hand": sequence, "reserved": 0, "available": sequence},
    )


async def open_database(url: str, *, create: bool = False) -> Database:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    engine = create_engine(url)
    if create:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    return Database(engine, metadata)


@asynccontextmanager
async def replica(url: str, kafka: str, name: str, **options: float) -> AsyncIterator[tuple[Database, OutboxRelay]]:
    """One service process's relay: its own engine, producer and metrics."""
    db = await open_database(url)
    producer = make_producer(kafka, client_id=f"relay-{name}")
    await producer.start()
    relay = OutboxRelay(
        db, producer, OutboxMetrics(CollectorRegistry(), name), service="relayed", batch_size=50, **options
    )
    try:
        yield db, relay
    finally:
        await relay.stop()
        await producer.stop()
        await db.dispose()


def assert_once_in_order(records: list, expected: int) -> None:
    payloads = [json.loads(r.value) for r in records]
    ids = [p["event_id"] for p in payloads]
    assert len(ids) == expected and len(set(ids)) == expected, f"{len(ids)} records, {len(set(ids))} distinct"
    for sku in {p["data"]["sku"] for p in payloads}:
        sequences = [p["sequence"] for p in payloads if p["data"]["sku"] == sku]
        assert sequences == sorted(sequences), f"{sku} out of order: {sequences}"


@needs_postgres
async def test_two_relays_on_one_database_publish_each_row_once_in_order_per_key(kafka: str) -> None:
    """Two replicas of a service run their relays on one PostgreSQL database while transactions commit events:
    every event reaches Kafka once, in order per key; when the relay that leads stops half-way, the other
    takes over and finishes, still once and in order."""
    async with fresh_postgres_databases(1) as (url,):
        writer = await open_database(url, create=True)
        try:
            async with (
                replica(url, kafka, "a", poll_interval_s=0.1) as (_, relay_a),
                replica(url, kafka, "b", poll_interval_s=0.1) as (_, relay_b),
            ):
                relay_a.start()
                relay_b.start()
                sequence = 0

                async def commit_rounds(rounds: int) -> None:
                    nonlocal sequence
                    for _ in range(rounds):
                        sequence += 1
                        async with writer.transaction() as tx:
                            for key in range(8):
                                await tx.publish(stock_event(key, sequence))
                        await asyncio.sleep(0.005)

                await commit_rounds(40)
                first = await read_topic(kafka, STOCK_UPDATED, expect=320)
                assert_once_in_order(first, 320)
                published_a = relay_a.metrics.published._value.get()
                published_b = relay_b.metrics.published._value.get()
                assert sorted([published_a, published_b]) == [0, 320], "one relay leads at a time"
                leader, other = (relay_a, relay_b) if published_a else (relay_b, relay_a)

                await leader.stop()  # the leading replica goes away: the other takes the lead
                await commit_rounds(40)
                records = await read_topic(kafka, STOCK_UPDATED, expect=640)
                assert_once_in_order(records, 640)
                assert other.metrics.published._value.get() == 320
            async with writer.read() as conn:
                assert await conn.scalar(sa.select(sa.func.count()).select_from(writer.outbox)) == 0
        finally:
            await writer.dispose()


async def test_events_committed_close_together_go_out_in_one_round(database_url: str, kafka: str) -> None:
    """After a commit the relay lingers a few milliseconds: events committed by transactions close behind it
    are published in the same round (fewer database round trips and Kafka requests), none is left behind.
    (Here it lingers 1 s, so that a busy machine cannot split ten quick commits.)"""
    db = await open_database(database_url, create=True)
    producer = make_producer(kafka)
    await producer.start()
    relay = OutboxRelay(
        db,
        producer,
        OutboxMetrics(CollectorRegistry(), "t"),
        service="linger",
        batch_size=500,
        linger_s=1.0,
        poll_interval_s=30,  # woken by commits only: no round on a timer in between
    )
    rounds: list[int] = []
    publish_once = relay.publish_once

    async def counting() -> int:
        sent = await publish_once()
        rounds.append(sent)
        return sent

    relay.publish_once = counting  # type: ignore[method-assign]
    relay.start()
    try:

        async def started() -> None:
            assert rounds and not any(rounds), "the relay's first round at start finds nothing"

        await eventually(started)
        for key in range(10):
            async with db.transaction() as tx:
                await tx.publish(stock_event(key, 1))
        records = await read_topic(kafka, STOCK_UPDATED, expect=10)
    finally:
        await relay.stop()
        await producer.stop()
        await db.dispose()
    assert_once_in_order(records, 10)
    assert [sent for sent in rounds if sent] == [10]


class HeldSends:
    """A producer whose sends wait at a gate: a relay round that read its rows and is slow to send them."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        self.reached.set()
        await self.gate.wait()
        return await self.producer.send(*args, **kwargs)


async def test_a_slow_relay_on_one_sqlite_file_never_deletes_a_row_it_did_not_send(tmp_path: Path, kafka: str) -> None:
    """Two processes of a service on one SQLite file both relay (no advisory lock there). One reads a row and is
    slow to send it while the other sends and deletes it, and a new event is committed in between: SQLite
    gives the new row the freed id. The slow relay's delete must not take the new row with it: every event
    reaches Kafka (one twice, which consumers dedupe)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}"
    writer = await open_database(url, create=True)
    try:
        async with replica(url, kafka, "a") as (_, fast), replica(url, kafka, "b") as (_, slow):
            held = HeldSends(slow.producer)
            slow.producer = held  # type: ignore[assignment]
            async with writer.transaction() as tx:
                await tx.publish(first := stock_event(1, 1))
            slow_round = asyncio.create_task(slow.publish_once())
            await asyncio.wait_for(held.reached.wait(), timeout=10)  # it read the row and is sending it
            assert await fast.publish_once() == 1  # sent and deleted by the other relay
            async with writer.transaction() as tx:
                await tx.publish(second := stock_event(2, 1))  # the outbox was empty: the same id again
            held.gate.set()
            assert await asyncio.wait_for(slow_round, timeout=20) == 1
            await fast.publish_once()
            records = await read_topic(kafka, STOCK_UPDATED, expect=3)
        sent = [json.loads(r.value)["event_id"] for r in records]
        assert sorted(sent) == sorted([str(first.event_id)] * 2 + [str(second.event_id)]), sent
        async with writer.read() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(writer.outbox)) == 0
    finally:
        await writer.dispose()


def test_the_relay_partitions_keys_as_the_kafka_default_partitioner_does() -> None:
    """Keys land on the partition every Kafka client picks (murmur2), remembered or not."""
    from aiokafka.partitioner import DefaultPartitioner

    ours, theirs = KeyPartitioner(max_keys=5), DefaultPartitioner()
    partitions = [0, 1, 2]
    for round_ in range(2):
        for i in range(20):
            key = f"{uuid.UUID(int=i)}:SKU-{i}".encode()
            assert ours(key, partitions, partitions) == theirs(key, partitions, partitions), (round_, key)
    assert ours(None, partitions, partitions) in partitions
