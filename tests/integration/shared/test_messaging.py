"""The outbox relay, the inbox and the dead-letter topics against the real broker and databases."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, Tx, create_engine, messaging_tables
from oms_shared.errors import NotYet, PermanentError
from oms_shared.outbox import OutboxMetrics, OutboxRelay, make_producer
from oms_shared.service import make_broker
from oms_shared.settings import ServiceSettings
from oms_shared.topics import STOCK_UPDATED, dlq
from tests.support.kafka import read_topic, send_event, started_producer
from tests.support.services import eventually

TENANT = uuid.uuid4()


def stock_event(sku: str, on_hand: int, sequence: int = 0, *, key_of: str | None = None) -> StockUpdatedV1:
    """``key_of``: the SKU whose aggregate (Kafka key, so partition) the event takes; its own by default."""
    warehouse = uuid.UUID(int=1)
    return make_event(
        StockUpdatedV1,
        tenant_id=TENANT,
        aggregate_id=f"{warehouse}:{key_of or sku}",
        sequence=sequence,
        data={"warehouse_id": warehouse, "sku": sku, "on_hand": on_hand, "reserved": 0, "available": on_hand},
    )


@dataclass
class Harness:
    db: Database
    counters: sa.Table
    consumer: EventConsumer
    registry: CollectorRegistry


@pytest.fixture
async def harness(database_url: str) -> AsyncIterator[Harness]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    counters = sa.Table(
        "counters",
        metadata,
        sa.Column("sku", sa.String(50), primary_key=True),
        sa.Column("applied", sa.Integer, nullable=False),
        sa.Column("on_hand", sa.Numeric(18, 3), nullable=False),
    )
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine, metadata)
    registry = CollectorRegistry()
    consumer = EventConsumer(
        service="test", db=db, metrics=ConsumerMetrics(registry, "test"), max_attempts=3, retry_backoff_s=0.01
    )
    yield Harness(db, counters, consumer, registry)
    await db.dispose()


async def count_applied(h: Harness, sku: str) -> int:
    async with h.db.read() as conn:
        return int(await conn.scalar(sa.select(h.counters.c.applied).where(h.counters.c.sku == sku)) or 0)


async def test_outbox_relay_publishes_every_committed_event_once_in_order_per_key(harness: Harness, kafka: str) -> None:
    """A committed change's events reach Kafka once each, in order per aggregate; a rolled-back one never."""
    h = harness
    for seq in range(1, 41):
        async with h.db.transaction() as tx:
            await tx.publish(stock_event(f"SKU-{seq % 4}", seq, sequence=seq))
    with pytest.raises(RuntimeError):
        async with h.db.transaction() as tx:
            await tx.publish(stock_event("ROLLED-BACK", 1))
            raise RuntimeError("the change fails after the event was written")

    producer = make_producer(kafka)
    await producer.start()
    relay = OutboxRelay(h.db, producer, OutboxMetrics(h.registry, "test"), service="test", batch_size=15)
    relay.start()
    try:
        records = await read_topic(kafka, STOCK_UPDATED, expect=40)
    finally:
        await relay.stop()
        await producer.stop()

    payloads = [json.loads(r.value) for r in records]
    assert len(payloads) == 40
    assert len({p["event_id"] for p in payloads}) == 40
    assert all(p["data"]["sku"] != "ROLLED-BACK" for p in payloads)
    for sku in {p["data"]["sku"] for p in payloads}:
        seqs = [p["sequence"] for p in payloads if p["data"]["sku"] == sku]
        assert seqs == sorted(seqs), f"events of {sku} arrived out of order: {seqs}"
        keyed_partitions = {r.partition for r, p in zip(records, payloads, strict=True) if p["data"]["sku"] == sku}
        assert len(keyed_partitions) == 1
    assert records[0].headers["event_type"] == "stock.updated"
    async with h.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(h.db.outbox)) == 0


async def _apply_stock(h: Harness, event: StockUpdatedV1, tx: Tx) -> None:
    row = (await tx.conn.execute(sa.select(h.counters).where(h.counters.c.sku == event.data.sku))).first()
    if row is None:
        await tx.conn.execute(h.counters.insert().values(sku=event.data.sku, applied=1, on_hand=event.data.on_hand))
    else:
        await tx.conn.execute(
            h.counters.update()
            .where(h.counters.c.sku == event.data.sku)
            .values(applied=row.applied + 1, on_hand=row.on_hand + event.data.on_hand)
        )


async def _start_broker(h: Harness, kafka: str) -> object:
    settings = ServiceSettings(service_name="test", kafka_bootstrap=kafka)
    broker = make_broker(settings, h.registry)
    h.consumer.attach(broker, group_id=f"test-{uuid.uuid4().hex[:6]}")
    await broker.start()
    return broker


async def test_the_same_event_delivered_twice_changes_state_once(harness: Harness, kafka: str) -> None:
    """Inbox dedupe: a redelivered event (same event id) is applied exactly once."""
    h = harness

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        await _apply_stock(h, event, tx)

    h.consumer.on(StockUpdatedV1, apply)
    broker = await _start_broker(h, kafka)
    producer = await started_producer(kafka)
    try:
        event = stock_event("TWICE", 5)
        await send_event(producer, event)
        await send_event(producer, event)
        await send_event(producer, stock_event("OTHER", 1))
        # Behind both copies on their partition: once it is applied, the consumer has handled both.
        await send_event(producer, stock_event("AFTER-TWICE", 1, key_of="TWICE"))

        async def applied() -> None:
            assert await count_applied(h, "OTHER") == 1
            assert await count_applied(h, "AFTER-TWICE") == 1

        await eventually(applied)
        assert await count_applied(h, "TWICE") == 1
        async with h.db.read() as conn:
            on_hand = await conn.scalar(sa.select(h.counters.c.on_hand).where(h.counters.c.sku == "TWICE"))
        assert Decimal(on_hand) == 5
    finally:
        await producer.stop()
        await broker.stop()  # type: ignore[attr-defined]


async def test_malformed_unknown_and_failing_messages_go_to_the_dead_letter_topic(harness: Harness, kafka: str) -> None:
    """Bad input on a topic is dead-lettered with its error and the consumer keeps going."""
    h = harness
    attempts: dict[str, int] = {}

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        attempts[event.data.sku] = attempts.get(event.data.sku, 0) + 1
        if event.data.sku == "BROKEN":
            raise RuntimeError("handler bug")
        if event.data.sku == "REFUSED":
            raise PermanentError("unknown warehouse")
        await _apply_stock(h, event, tx)

    h.consumer.on(StockUpdatedV1, apply)
    broker = await _start_broker(h, kafka)
    producer = await started_producer(kafka)
    try:
        await producer.send_and_wait(STOCK_UPDATED, b"{not json", key=b"k")
        unknown = {"event_type": "stock.exploded", "schema_version": 1, "event_id": str(uuid.uuid4())}
        await producer.send_and_wait(STOCK_UPDATED, json.dumps(unknown).encode(), key=b"k")
        invalid = json.loads(stock_event("X", 1).to_json())
        invalid["data"]["on_hand"] = "lots"
        await producer.send_and_wait(STOCK_UPDATED, json.dumps(invalid).encode(), key=b"k")
        await send_event(producer, stock_event("BROKEN", 1))
        await send_event(producer, stock_event("REFUSED", 1))
        await send_event(producer, stock_event("GOOD", 7))

        async def good_applied() -> None:
            assert await count_applied(h, "GOOD") == 1

        await eventually(good_applied)
        dead = await read_topic(kafka, dlq(STOCK_UPDATED), expect=5)
    finally:
        await producer.stop()
        await broker.stop()  # type: ignore[attr-defined]

    errors = sorted(r.headers["dlq_error"] for r in dead)
    assert len(dead) == 5, errors
    assert any(e.startswith("contract: not JSON") for e in errors)
    assert any("unknown event stock.exploded v1" in e for e in errors)
    assert any("invalid stock.updated v1" in e for e in errors)
    assert any(e.startswith("failed 3x") and "handler bug" in e for e in errors)
    assert any(e == "refused: unknown warehouse" for e in errors)
    assert attempts["BROKEN"] == 3 and attempts["REFUSED"] == 1
    assert all(r.headers["dlq_source_topic"] == STOCK_UPDATED for r in dead)
    assert await count_applied(h, "BROKEN") == 0


async def test_an_event_that_arrives_before_what_it_needs_waits_for_it_and_is_applied_once(
    harness: Harness, kafka: str
) -> None:
    """Kafka orders a partition, not topics: a handler that says ``NotYet`` (a fact it needs has not arrived)
    has its event parked, not dead-lettered, and the consumer goes on; once the fact is there the event is
    applied exactly once, even if it is redelivered meanwhile. One that never becomes applicable is
    dead-lettered after the deadline, with its reason."""
    h = harness
    h.consumer.park_backoff_s = 0.05
    # No event gives up while the test is on its way to sending what LATE-1 needs (however slow the runner);
    # the deadline is shortened once LATE-1 is applied, for NEVER to be dead-lettered.
    h.consumer.park_deadline_s = 3600
    known: set[str] = set()

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        if event.data.sku.startswith("LATE") and "LATE" not in known:
            raise NotYet(f"{event.data.sku}: its product is not known yet")
        if event.data.sku == "PRODUCT":
            known.add("LATE")
        if event.data.sku == "NEVER":
            raise NotYet("NEVER: its product will never come")
        await _apply_stock(h, event, tx)

    h.consumer.on(StockUpdatedV1, apply)
    broker = await _start_broker(h, kafka)
    run = asyncio.create_task(h.consumer.run_parked(poll_interval_s=0.05))
    producer = await started_producer(kafka)
    try:
        late = stock_event("LATE-1", 4)
        await send_event(producer, late)
        await send_event(producer, late)  # redelivered while parked
        await send_event(producer, stock_event("NEVER", 1))
        await send_event(producer, stock_event("OTHER", 2))
        # Behind both copies of LATE-1 on their partition: once it is applied, the consumer has handled both.
        await send_event(producer, stock_event("AFTER-LATE", 1, key_of="LATE-1"))

        async def others_go_on() -> None:
            assert await count_applied(h, "OTHER") == 1
            assert await count_applied(h, "AFTER-LATE") == 1

        await eventually(others_go_on)
        assert await count_applied(h, "LATE-1") == 0
        async with h.db.read() as conn:
            waiting = {r.event_id for r in await conn.execute(sa.select(h.db.parked))}
        assert str(late.event_id) in waiting
        await send_event(producer, stock_event("PRODUCT", 1))

        async def late_applied() -> None:
            assert await count_applied(h, "LATE-1") == 1

        await eventually(late_applied)
        h.consumer.park_deadline_s = 0.5
        dead = await read_topic(kafka, dlq(STOCK_UPDATED), expect=1, timeout=30)

        async def nothing_parked() -> None:
            async with h.db.read() as conn:
                assert (await conn.execute(sa.select(h.db.parked))).all() == []

        await eventually(nothing_parked)  # nothing is left that could apply LATE-1 a second time
        assert await count_applied(h, "LATE-1") == 1
    finally:
        run.cancel()
        await producer.stop()
        await broker.stop()  # type: ignore[attr-defined]
    assert len(dead) == 1 and json.loads(dead[0].value)["data"]["sku"] == "NEVER"
    assert "gave up: NEVER: its product will never come" in dead[0].headers["dlq_error"]
    assert dead[0].headers["dlq_source_topic"] == STOCK_UPDATED and dead[0].headers["dlq_source_offset"] != ""
    metrics = generate_latest(h.registry).decode()
    assert 'outcome="parked"' in metrics and 'outcome="unparked"' in metrics


async def test_dead_letters_are_listed_and_replayed_once_the_cause_is_fixed(
    harness: Harness, kafka: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing lost: ``oms dlq list`` shows what a consumer gave up on and why; after the fix, ``oms dlq replay``
    sends it to its source topic again and it is applied — once, however often it is replayed (inbox)."""
    from oms_devstack import cli
    from oms_shared import dlq

    h = harness
    fixed = False

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        if event.data.sku == "BUGGY" and not fixed:
            raise RuntimeError("handler bug")
        await _apply_stock(h, event, tx)

    h.consumer.on(StockUpdatedV1, apply)
    broker = await _start_broker(h, kafka)
    producer = await started_producer(kafka)
    try:
        await send_event(producer, stock_event("BUGGY", 3))
        await producer.send_and_wait(STOCK_UPDATED, b"{not json", key=b"k")
        await read_topic(kafka, dlq.dlq(STOCK_UPDATED), expect=2)
        assert await cli_main(cli, ["dlq", "list", "--bootstrap", kafka, "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(d["consumer"], d["event_type"], d["source_topic"]) for d in listed] == [
            ("test", "stock.updated", STOCK_UPDATED)
        ]  # the malformed one is listed only on request
        assert "handler bug" in listed[0]["error"]
        assert await cli_main(cli, ["dlq", "list", "--bootstrap", kafka, "--json", "--include-malformed"]) == 0
        assert len(json.loads(capsys.readouterr().out)) == 2

        fixed = True
        for _ in range(2):  # replayed twice: applied once
            assert await cli_main(cli, ["dlq", "replay", "--bootstrap", kafka, "--consumer", "test"]) == 0
        assert "replayed 1 of 2 dead letters" in capsys.readouterr().out

        async def applied() -> None:
            assert await count_applied(h, "BUGGY") == 1

        await eventually(applied)
        await send_event(producer, stock_event("LAST", 1))  # everything before it has been consumed when it is

        async def last() -> None:
            assert await count_applied(h, "LAST") == 1

        await eventually(last)
        assert await count_applied(h, "BUGGY") == 1
    finally:
        await producer.stop()
        await broker.stop()  # type: ignore[attr-defined]


async def cli_main(cli: Any, argv: list[str]) -> int:
    """The ``oms`` command runs its own event loop: call it from a thread."""
    return int(await asyncio.to_thread(cli.main, argv))
