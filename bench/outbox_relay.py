"""Outbox relay throughput: committed events → Kafka, beside the raw aiokafka produce rate.

Run: ``python bench/outbox_relay.py [N]`` (default 20,000 events). Starts its own Tansu broker;
uses SQLite, and PostgreSQL too when ``OMS_TEST_POSTGRES_URL`` is set. Prints a table: rates, and the relay's
CPU ms per 1,000 events in this process (its own cost, whatever else the shared machine runs).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_devstack.tansu import TansuBroker
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, create_engine, messaging_tables
from oms_shared.kafka import ensure_topics
from oms_shared.outbox import OutboxMetrics, OutboxRelay, make_producer
from oms_shared.topics import STOCK_UPDATED


def events(n: int) -> list[StockUpdatedV1]:
    tenant, warehouse = uuid.uuid4(), uuid.uuid4()
    return [
        make_event(
            StockUpdatedV1,
            tenant_id=tenant,
            aggregate_id=f"{warehouse}:SKU-{i % 500}",
            sequence=i,
            data={"warehouse_id": warehouse, "sku": f"SKU-{i % 500}", "on_hand": i, "reserved": 0, "available": i},
        )
        for i in range(n)
    ]


async def raw_produce(bootstrap: str, payloads: list[tuple[bytes, bytes]]) -> float:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(STOCK_UPDATED, value=v, key=k) for k, v in payloads]
        await asyncio.gather(*futures)
        return len(payloads) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def relay_rate(
    bootstrap: str, url: str, batch: list[StockUpdatedV1], keep_sent_s: float = 0.0
) -> tuple[float, float, float]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    db = Database(engine, metadata)
    started = time.perf_counter()
    for i in range(0, len(batch), 100):  # 100 events per business transaction
        async with db.transaction() as tx:
            for event in batch[i : i + 100]:
                await tx.publish(event)
    write_rate = len(batch) / (time.perf_counter() - started)
    producer = make_producer(bootstrap)
    await producer.start()
    relay = OutboxRelay(
        db, producer, OutboxMetrics(CollectorRegistry(), "bench"), service="bench", batch_size=500,
        keep_sent_s=keep_sent_s,
    )  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    relay.start()
    while True:
        async with db.read() as conn:
            if not await conn.scalar(sa.select(sa.func.count()).select_from(db.outbox)):
                break
        await asyncio.sleep(0.02)
    rate = len(batch) / (time.perf_counter() - started)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(batch) * 1000
    await relay.stop()
    await producer.stop()
    await db.dispose()
    return write_rate, rate, cpu_ms


async def main(n: int) -> None:
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, [STOCK_UPDATED])
        batch = events(n)
        payloads = [(e.partition_key().encode(), e.to_json()) for e in batch]
        raw = await raw_produce(broker.bootstrap, payloads)
        rows = [("raw aiokafka produce, batched (baseline)", "-", f"{raw:,.0f}", "")]
        with tempfile.TemporaryDirectory() as tmp:
            urls = {"SQLite": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"}
            if os.environ.get("OMS_TEST_POSTGRES_URL"):
                urls["PostgreSQL"] = os.environ["OMS_TEST_POSTGRES_URL"]
            for name, url in urls.items():
                write, relay, cpu_ms = await relay_rate(broker.bootstrap, url, batch)
                rows.append((f"outbox write, 100 events/txn ({name})", f"{write:,.0f}", "-", ""))
                rows.append((f"outbox relay to Kafka ({name})", "-", f"{relay:,.0f}", f"{cpu_ms:,.0f}"))
                # Published rows moved to outbox_sent instead of deleted (the services' default, ADR 019).
                _, relay, cpu_ms = await relay_rate(broker.bootstrap, url, batch, keep_sent_s=900)
                rows.append((f"  ... keeping sent rows 900 s ({name})", "-", f"{relay:,.0f}", f"{cpu_ms:,.0f}"))
    finally:
        broker.stop()
    print(f"\n{n:,} stock.updated events, 2 cores, broker and client on one machine\n")
    print(f"{'what':<46} {'writes/s':>10} {'published/s':>12} {'CPU ms/1,000':>13}")
    for what, writes, published, cpu in rows:
        print(f"{what:<46} {writes:>10} {published:>12} {cpu:>13}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000))
