"""Batched consumption against the real broker and databases: one transaction and one offset commit per poll,
with every guarantee of the one-event path (a failing event alone is retried, parked or dead-lettered, none is
applied twice, per-key order holds)."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, Tx, create_engine, messaging_tables
from oms_shared.errors import NotYet, PermanentError
from oms_shared.service import make_broker
from oms_shared.settings import ServiceSettings
from oms_shared.topics import STOCK_UPDATED, dlq
from tests.support.kafka import read_topic, send_event, started_producer
from tests.support.services import WAIT_SCALE, eventually

TENANT = uuid.uuid4()
_serials = itertools.count(1)
WAREHOUSE = uuid.UUID(int=2)


def stock_event(sku: str, sequence: int, *, key: str | None = None) -> StockUpdatedV1:
    """``key``: the aggregate (and Kafka key); events of one key land on one partition, in order."""
    return make_event(
        StockUpdatedV1,
        tenant_id=TENANT,
        aggregate_id=key or f"{WAREHOUSE}:{sku}",
        sequence=sequence,
        data={"warehouse_id": WAREHOUSE, "sku": sku, "on_hand": sequence, "reserved": 0, "available": sequence},
    )


@dataclass
class Bench:
    db: Database
    applied: sa.Table
    consumer: EventConsumer
    registry: CollectorRegistry
    tries: dict[str, int] = field(default_factory=dict)
    # The transaction each application went through (several in one: a batch).
    transactions: list[int] = field(default_factory=list)


@pytest.fixture
async def bench(database_url: str) -> AsyncIterator[Bench]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    applied = sa.Table(
        "applied",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("sku", sa.String(50), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine, metadata)
    registry = CollectorRegistry()
    consumer = EventConsumer(
        service="batched",
        db=db,
        metrics=ConsumerMetrics(registry, "batched"),
        max_attempts=3,
        retry_backoff_s=0.01,
        park_backoff_s=0.05,
        batch_size=100,
    )
    yield Bench(db, applied, consumer, registry)
    await db.dispose()


async def record(b: Bench, event: StockUpdatedV1, tx: Tx) -> None:
    """The effect: one row per application, in the order applied."""
    b.transactions.append(tx.__dict__.setdefault("test_serial", next(_serials)))
    await tx.conn.execute(
        b.applied.insert().values(key=event.aggregate_id, sku=event.data.sku, sequence=event.sequence)
    )


async def applied_rows(b: Bench) -> list[Any]:
    async with b.db.read() as conn:
        return list(await conn.execute(sa.select(b.applied).order_by(b.applied.c.id)))


async def start(b: Bench, kafka: str) -> Any:
    broker = make_broker(ServiceSettings(service_name="batched", kafka_bootstrap=kafka), b.registry)
    b.consumer.attach(broker, group_id=f"batched-{uuid.uuid4().hex[:6]}")
    await broker.start()
    return broker


def outcome_count(b: Bench, outcome: str) -> float:
    value = b.registry.get_sample_value(
        "oms_consumer_events_total", {"service": "batched", "event_type": "stock.updated", "outcome": outcome}
    )
    return value or 0.0


async def test_a_poison_event_in_a_batch_goes_alone_to_the_dead_letter_topic_and_the_rest_apply_once(
    bench: Bench, kafka: str
) -> None:
    """One poll's events are applied in one transaction; a handler bug, a refusal and a
    ``NotYet`` in the middle of it roll that transaction back, and each failing event takes the one-event path
    alone (tried 3 times then dead-lettered, dead-lettered at once, parked) while all the others, before and
    after it, are applied exactly once, in order, and the partition keeps flowing."""
    b = bench
    key = f"{WAREHOUSE}:ONE-PARTITION"

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        sku = event.data.sku
        b.tries[sku] = b.tries.get(sku, 0) + 1
        if sku == "BROKEN":
            raise RuntimeError("handler bug")
        if sku == "REFUSED":
            raise PermanentError("unknown warehouse")
        if sku == "LATE":
            raise NotYet("its product is not known yet")
        await record(b, event, tx)

    b.consumer.on(StockUpdatedV1, apply)
    producer = await started_producer(kafka)
    names = [f"GOOD-{i}" for i in range(5)] + ["BROKEN"] + [f"GOOD-{i}" for i in range(5, 10)]
    names += ["REFUSED", "GOOD-10", "LATE"] + [f"GOOD-{i}" for i in range(11, 20)]
    for sequence, sku in enumerate(names, start=1):  # all on the topic before the consumer polls: one batch
        await send_event(producer, stock_event(sku, sequence, key=key))
    broker = await start(b, kafka)
    try:

        async def all_good_applied() -> None:
            assert len(await applied_rows(b)) == 20

        await eventually(all_good_applied)
        await send_event(producer, stock_event("AFTER", len(names) + 1, key=key))

        async def flowing() -> None:
            assert [r.sku for r in await applied_rows(b)][-1] == "AFTER"

        await eventually(flowing)
        dead = await read_topic(kafka, dlq(STOCK_UPDATED), expect=2)
    finally:
        await producer.stop()
        await broker.stop()

    rows = await applied_rows(b)
    goods = [r.sku for r in rows if r.sku.startswith("GOOD")]
    assert goods == [f"GOOD-{i}" for i in range(20)], "each applied once, in the order they arrived"
    assert [r.sequence for r in rows] == sorted(r.sequence for r in rows)
    assert sorted(json.loads(r.value)["data"]["sku"] for r in dead) == ["BROKEN", "REFUSED"]
    errors = {json.loads(r.value)["data"]["sku"]: r.headers["dlq_error"] for r in dead}
    assert errors["BROKEN"].startswith("failed 3x") and "handler bug" in errors["BROKEN"]
    assert errors["REFUSED"] == "refused: unknown warehouse"
    # The try inside the batch counts as the first: tried max_attempts times in all, refused and parked once.
    assert b.tries["BROKEN"] == 3 and b.tries["REFUSED"] == 1 and b.tries["LATE"] == 1
    async with b.db.read() as conn:
        parked = [json.loads(r.body)["data"]["sku"] for r in await conn.execute(sa.select(b.db.parked))]
    assert parked == ["LATE"]
    assert len(set(b.transactions)) < len(b.transactions), "events were applied several to a transaction"
    assert outcome_count(b, "processed") == 21 and outcome_count(b, "duplicate") == 0


async def test_a_crash_between_the_database_commit_and_the_offset_commit_redelivers_and_the_inbox_dedupes(
    bench: Bench, kafka: str
) -> None:
    """The batch's transaction commits, then the consumer fails before the offsets are
    committed: the whole batch is delivered again, and every event of it is recognised by the inbox and not
    applied a second time."""
    b = bench

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        b.tries[event.data.sku] = b.tries.get(event.data.sku, 0) + 1
        await record(b, event, tx)

    b.consumer.on(StockUpdatedV1, apply)
    applied_then_crashed = asyncio.Event()
    handle_records = b.consumer.handle_records

    async def crash_after_the_first_commit(records: Any) -> None:
        await handle_records(records)
        if not applied_then_crashed.is_set():
            applied_then_crashed.set()
            raise RuntimeError("the process died before committing the offsets")

    b.consumer.handle_records = crash_after_the_first_commit  # type: ignore[method-assign]
    producer = await started_producer(kafka)
    key = f"{WAREHOUSE}:CRASH"
    for sequence in range(1, 31):
        await send_event(producer, stock_event(f"C-{sequence}", sequence, key=key))
    broker = await start(b, kafka)
    try:
        await asyncio.wait_for(applied_then_crashed.wait(), timeout=60 * WAIT_SCALE)
        first_batch = len(await applied_rows(b))
        assert first_batch > 0

        async def all_applied_and_the_batch_seen_again() -> None:
            assert len(await applied_rows(b)) == 30
            assert outcome_count(b, "duplicate") == first_batch

        await eventually(all_applied_and_the_batch_seen_again)
    finally:
        await producer.stop()
        await broker.stop()
    rows = await applied_rows(b)
    assert [r.sequence for r in rows] == list(range(1, 31))
    assert all(n == 1 for n in b.tries.values()), "a redelivered event never reaches its handler again"


async def test_per_key_order_holds_across_batches_and_partitions(bench: Bench, kafka: str) -> None:
    """240 events of 6 keys over the topic's partitions, consumed in batches of up to 100:
    every key's events are applied once each, in the order they were published, around a failing one."""
    b = bench
    b.consumer.batch_max_s = 0.01  # also cut batches by time: several transactions per poll

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        if event.data.sku == "K3" and event.sequence == 17:
            raise PermanentError("refused")
        await record(b, event, tx)

    b.consumer.on(StockUpdatedV1, apply)
    producer = await started_producer(kafka)
    broker = await start(b, kafka)
    try:
        sends = []
        for sequence in range(1, 41):
            for k in range(6):
                event = stock_event(f"K{k}", sequence, key=f"{WAREHOUSE}:K{k}")
                sends.append(
                    await producer.send(
                        STOCK_UPDATED,
                        event.to_json(),
                        key=event.partition_key().encode(),
                        headers=event.kafka_header_list(),
                    )
                )
        await asyncio.gather(*sends)

        async def all_applied() -> None:
            assert len(await applied_rows(b)) == 239

        await eventually(all_applied)
    finally:
        await producer.stop()
        await broker.stop()
    rows = await applied_rows(b)
    for k in range(6):
        expected = [s for s in range(1, 41) if not (k == 3 and s == 17)]
        assert [r.sequence for r in rows if r.sku == f"K{k}"] == expected
    assert 1 < len(set(b.transactions)) < len(rows), "several batches, of several events"
