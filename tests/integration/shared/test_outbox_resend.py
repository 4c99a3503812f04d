"""The broker lost its log (a memory broker killed and started again): the relay sends what it kept again.

Real Tansu (killed with SIGKILL, started again on its port), SQLite and PostgreSQL. See
docs/adr/019-broker-restart-and-lost-logs.md.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import aiokafka.client
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_devstack.tansu import TansuBroker
from oms_shared.broker_watch import BrokerWatch, _NoAutoCreateMetadataRequest
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, create_engine, messaging_tables, utcnow
from oms_shared.kafka import ensure_topics, topic_partitions
from oms_shared.outbox import OutboxMetrics, OutboxRelay, make_producer
from oms_shared.retention import purge
from oms_shared.topics import STOCK_UPDATED
from tests.support.kafka import read_topic
from tests.support.services import eventually

TENANT = uuid.uuid4()
WAREHOUSE = uuid.UUID(int=5)
TOPICS = [STOCK_UPDATED]


def stock_event(key: int, sequence: int) -> StockUpdatedV1:
    sku = f"SKU-{key}"
    return make_event(
        StockUpdatedV1,
        tenant_id=TENANT,
        aggregate_id=f"{WAREHOUSE}:{sku}",
        sequence=sequence,
        data={"warehouse_id": WAREHOUSE, "sku": sku, "on_hand": sequence, "reserved": 0, "available": sequence},
    )


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[TansuBroker]:
    """A memory broker of our own (the test kills it); clients never auto-create topics, as in the services."""
    monkeypatch.setattr(aiokafka.client, "MetadataRequest", _NoAutoCreateMetadataRequest)
    tansu = TansuBroker(die_with_parent=True)
    tansu.start()
    try:
        asyncio.run(ensure_topics(tansu.bootstrap, TOPICS))
        yield tansu
    finally:
        tansu.stop()


async def restart(broker: TansuBroker) -> None:
    """SIGKILL, then the same port again: an empty broker with a new cluster id; topics created as the stack does."""
    proc = broker.process
    assert proc is not None
    port = broker.port
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    await asyncio.to_thread(broker.start, "127.0.0.1", port)
    await ensure_topics(broker.bootstrap, TOPICS)


@pytest.fixture
async def relayed(database_url: str, broker: TansuBroker) -> AsyncIterator[tuple[Database, OutboxRelay]]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    db = Database(engine, metadata)
    producer = make_producer(broker.bootstrap, client_id="relay-resend")
    await producer.start()
    relay = OutboxRelay(
        db, producer, OutboxMetrics(CollectorRegistry(), "t"), service="resend", batch_size=7,
        poll_interval_s=0.1, keep_sent_s=900,
    )  # fmt: skip

    async def create(missing: list[str]) -> None:
        await ensure_topics(broker.bootstrap, missing, 3)

    # As the service runtime wires it: the relay asks the broker who it is whenever its connections changed.
    watch = BrokerWatch(producer.client, TOPICS, create, relay.broker_lost, interval_s=0.2)
    await watch.check()
    relay.broker_check = watch.check
    try:
        yield db, relay
    finally:
        await relay.stop()
        await producer.stop()
        await db.dispose()


async def commit(db: Database, first: int, count: int) -> list[str]:
    """``count`` events (keys 0-3, growing sequences), one transaction each; their event ids."""
    ids: list[str] = []
    for sequence in range(first, first + count):
        event = stock_event(sequence % 4, sequence)
        async with db.transaction() as tx:
            await tx.publish(event)
        ids.append(str(event.event_id))
    return ids


async def events_on(bootstrap: str, expect: int) -> list[dict[str, object]]:
    records = await read_topic(bootstrap, STOCK_UPDATED, expect=expect, timeout=30.0)
    return [json.loads(r.value) for r in records]


async def distinct_events_on(bootstrap: str, event_ids: list[str]) -> list[dict[str, object]]:
    """The first record of each of ``event_ids`` on the topic, reading further when some came twice."""
    payloads: list[dict[str, object]] = []
    for expect in (len(event_ids), 2 * len(event_ids), 3 * len(event_ids)):
        payloads = first_of_each(await events_on(bootstrap, expect))
        if {str(p["event_id"]) for p in payloads} >= set(event_ids):
            break
    return payloads


def first_of_each(payloads: list[dict[str, object]]) -> list[dict[str, object]]:
    """What a consumer deduping by event id applies: the first record of each event (a round that failed half-way
    is sent again whole, so a few may come twice)."""
    seen: set[object] = set()
    first = []
    for p in payloads:
        if p["event_id"] not in seen:
            seen.add(p["event_id"])
            first.append(p)
    return first


def in_order_per_key(payloads: list[dict[str, object]]) -> None:
    for sku in {p["data"]["sku"] for p in payloads}:  # type: ignore[index]
        sequences = [p["sequence"] for p in payloads if p["data"]["sku"] == sku]  # type: ignore[index]
        assert sequences == sorted(sequences), f"{sku} out of order: {sequences}"


async def outbox_empty(db: Database) -> None:
    assert await count(db, db.outbox) == 0


async def count(db: Database, table: sa.Table) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_events_published_before_the_broker_lost_its_log_are_sent_again_in_order(
    relayed: tuple[Database, OutboxRelay], broker: TansuBroker
) -> None:
    """The broker restarted: everything published before and not yet consumed would be gone. Its producer
    reconnected, so before the next round the relay asks the broker who it is: a new cluster id. It sends every
    kept row again (in the order they were sent), then what is new: the new broker holds every event, per key in
    order (a consumer deduping by event id applies each once, in order)."""
    db, relay = relayed
    relay.start()
    before = await commit(db, 0, 20)
    await eventually(lambda: outbox_empty(db))  # published ...
    assert await count(db, db.outbox_sent) == 20  # ... and kept
    assert sorted(str(p["event_id"]) for p in await events_on(broker.bootstrap, 20)) == sorted(before)

    await restart(broker)
    after = await commit(db, 20, 10)
    payloads = await eventually(lambda: events_on(broker.bootstrap, 30))
    ids = [str(p["event_id"]) for p in payloads]
    assert set(ids) == set(before + after)
    in_order_per_key(first_of_each(payloads))
    assert relay.metrics.log_lost._value.get() == 1
    assert relay.metrics.resent._value.get() >= 20
    assert relay.metrics.unrecoverable._value.get() == 0


async def test_an_idle_relay_resends_when_the_watch_sees_a_new_cluster(
    relayed: tuple[Database, OutboxRelay], broker: TansuBroker
) -> None:
    """Nothing new is committed after the restart: the broker watch sees the cluster id change and a topic gone,
    creates the topic again (with the configured partitions, not the broker's default) and the relay re-sends."""
    db, relay = relayed
    relay.start()
    before = await commit(db, 0, 12)
    await eventually(lambda: outbox_empty(db))

    async def create(missing: list[str]) -> None:
        await ensure_topics(broker.bootstrap, missing, 3)

    watch = BrokerWatch(relay.producer.client, TOPICS, create, relay.broker_lost, interval_s=0.2)
    assert await watch.check() is None  # the first look: the cluster as it is
    proc = broker.process
    assert proc is not None
    port = broker.port
    proc.send_signal(signal.SIGKILL)
    await asyncio.to_thread(proc.wait)
    await asyncio.to_thread(broker.start, "127.0.0.1", port)  # nobody creates the topics this time
    reason = await eventually(watch.check, timeout=30)
    assert "cluster id changed" in str(reason)
    assert await topic_partitions(broker.bootstrap, TOPICS) == {STOCK_UPDATED: 3}
    # The watch and the relay's own reconnect check may both re-send: a few events may come twice.
    payloads = await distinct_events_on(broker.bootstrap, before)
    assert sorted(str(p["event_id"]) for p in payloads) == sorted(before)
    in_order_per_key(payloads)
    assert await watch.check() is None  # the same broker: nothing lost again


async def test_without_kept_rows_a_lost_log_is_reported(
    database_url: str, broker: TansuBroker, relayed: tuple[Database, OutboxRelay]
) -> None:
    """``outbox_keep_sent_s`` 0 (a durable Kafka): rows are deleted once published, nothing can be re-sent, and
    a lost log is counted as unrecoverable (oms_outbox_unrecoverable_losses_total) for an operator to see."""
    db, kept = relayed
    await kept.stop()
    relay = OutboxRelay(db, kept.producer, OutboxMetrics(CollectorRegistry(), "t0"), service="resend0",
                        poll_interval_s=0.1, keep_sent_s=0)  # fmt: skip
    relay.start()
    try:
        await commit(db, 0, 5)
        await eventually(lambda: outbox_empty(db))
        assert await count(db, db.outbox_sent) == 0
        await restart(broker)
        await commit(db, 5, 5)
        await eventually(lambda: relay.metrics.unrecoverable._value.get() == 1)
        assert relay.metrics.resent._value.get() == 0
        assert len(await events_on(broker.bootstrap, 5)) == 5  # the new ones only
    finally:
        await relay.stop()


async def test_kept_rows_leave_with_the_retention_loop(relayed: tuple[Database, OutboxRelay]) -> None:
    """Kept rows are deleted once older than ``keep_sent_s`` (the retention loop's rule), the newer stay."""
    db, relay = relayed
    relay.start()
    await commit(db, 0, 6)
    await eventually(lambda: outbox_empty(db))
    rule = relay.sent_retention()
    assert rule is not None
    assert await purge(db, rule) == 0
    assert await purge(db, rule, now=utcnow() + timedelta(seconds=901)) == 6
    assert await count(db, db.outbox_sent) == 0
