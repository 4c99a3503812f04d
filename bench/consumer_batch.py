"""Consumer throughput by batch size: events on a topic → applied through the shared consumer (inbox + effect).

Run: ``python bench/consumer_batch.py [N] [--batches 1,20,100]`` (default 5,000 events). Starts its own Tansu
broker, puts N ``stock.updated`` events of 200 keys on the topic, then for each batch size consumes them all with
``EventConsumer`` (the services' consumer: contract parsing, inbox row, a one-row upsert as the effect, offsets
committed after the transaction) in a new consumer group, and reports events/s and CPU ms per 1,000 events of
this process (the consumer's own cost, whatever else the machine runs). SQLite always, PostgreSQL too with
``OMS_TEST_POSTGRES_URL`` (a new database, dropped at the end). Batch size 1 is the one-event path.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_devstack.tansu import TansuBroker
from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, Tx, create_engine, messaging_tables
from oms_shared.kafka import ensure_topics
from oms_shared.outbox import make_producer
from oms_shared.service import make_broker
from oms_shared.settings import ServiceSettings
from oms_shared.topics import STOCK_UPDATED


async def put_events(bootstrap: str, n: int) -> float:
    tenant, warehouse = uuid.uuid4(), uuid.uuid4()
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for i in range(n):
            sku = f"SKU-{i % 200}"
            event = make_event(
                StockUpdatedV1,
                tenant_id=tenant,
                aggregate_id=f"{warehouse}:{sku}",
                sequence=i,
                data={"warehouse_id": warehouse, "sku": sku, "on_hand": i, "reserved": 0, "available": i},
            )
            key, headers = event.partition_key().encode(), event.kafka_header_list()
            futures.append(await producer.send(STOCK_UPDATED, event.to_json(), key=key, headers=headers))
        await asyncio.gather(*futures)
        return n / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def consume(bootstrap: str, url: str, n: int, batch_size: int) -> tuple[float, float]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    stock = sa.Table(
        "bench_stock",
        metadata,
        sa.Column("sku", sa.String(50), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.run_sync(metadata.create_all)
    db = Database(engine, metadata)
    registry = CollectorRegistry()
    consumer = EventConsumer(service="bench", db=db, metrics=ConsumerMetrics(registry, "bench"), batch_size=batch_size)
    done = asyncio.Event()
    applied = 0

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        nonlocal applied
        d = event.data
        updated = await tx.conn.execute(
            stock.update().where(stock.c.sku == d.sku).values(on_hand=int(d.on_hand), sequence=event.sequence)
        )
        if not updated.rowcount:
            await tx.conn.execute(stock.insert().values(sku=d.sku, on_hand=int(d.on_hand), sequence=event.sequence))
        applied += 1
        if applied >= n:
            done.set()

    consumer.on(StockUpdatedV1, apply)
    broker = make_broker(ServiceSettings(service_name="bench", kafka_bootstrap=bootstrap), registry)
    consumer.attach(broker, group_id=f"bench-{uuid.uuid4().hex[:8]}")
    await broker.start()  # joins the group: not timed
    try:
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.wait_for(done.wait(), timeout=600)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await broker.stop()
        await db.dispose()
    # Handlers of a rolled-back batch try would count twice; none fails here, so applied == n.
    return n / wall, cpu * 1000 / n * 1000


async def main(n: int, batch_sizes: list[int]) -> None:
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    rows: list[tuple[str, int, str, str]] = []
    try:
        await ensure_topics(broker.bootstrap, [STOCK_UPDATED])
        produced = await put_events(broker.bootstrap, n)
        with tempfile.TemporaryDirectory() as tmp:
            urls = {"SQLite": f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"}
            pg_name = ""
            if os.environ.get("OMS_TEST_POSTGRES_URL"):
                import asyncpg

                base = os.environ["OMS_TEST_POSTGRES_URL"]
                pg_name = f"oms_bench_{uuid.uuid4().hex[:8]}"
                admin = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
                await admin.execute(f'CREATE DATABASE "{pg_name}"')
                await admin.close()
                urls["PostgreSQL"] = f"{base.rpartition('/')[0]}/{pg_name}"
            try:
                for name, url in urls.items():
                    for size in batch_sizes:
                        rate, cpu_ms = await consume(broker.bootstrap, url, n, size)
                        rows.append((name, size, f"{rate:,.0f}", f"{cpu_ms:,.0f}"))
            finally:
                if pg_name:
                    admin = await asyncpg.connect(
                        os.environ["OMS_TEST_POSTGRES_URL"].replace("postgresql+asyncpg://", "postgresql://")
                    )
                    await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
                    await admin.close()
    finally:
        broker.stop()
    print(f"\n{n:,} stock.updated events of 200 keys on 3 partitions; produced at {produced:,.0f}/s (baseline)\n")
    print(f"{'database':<12} {'batch size':>10} {'events/s':>10} {'CPU ms per 1,000':>17}")
    for name, size, rate, cpu in rows:
        print(f"{name:<12} {size:>10} {rate:>10} {cpu:>17}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", nargs="?", type=int, default=5_000)
    parser.add_argument("--batches", default="1,20,100", help="batch sizes to compare, comma-separated")
    args = parser.parse_args()
    asyncio.run(main(args.n, [int(x) for x in args.batches.split(",")]))
