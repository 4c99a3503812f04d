"""Does a second replica raise a consumer's throughput? Events applied per second by 1, 2, 3 processes of one group.

Run: ``OMS_TEST_POSTGRES_URL=… python bench/consumer_replicas.py [N] [--replicas 1,2,3] [--partitions 6]
[--batch 20]`` (default 6,000 events). For each replica count it starts a new Tansu broker, creates
``stock.updated`` with ``--partitions`` partitions and a new PostgreSQL database (the production database: replicas
are processes writing to one database), starts that many consumer processes in one group (the services'
``EventConsumer``: contract parsing, inbox row, a one-row upsert as the effect, offsets committed after each batch
transaction), waits until every process holds its partitions, and only then produces N events of 200 keys. Timed
from the first event produced to the last one applied (counted in the inbox); CPU is ``utime + stime`` of the
consumer processes and of the database's backends. Prints a table; the baseline is one replica in the same run.

A group never has more busy members than the topic has partitions, and partitions go to members in whole
numbers: 3 partitions on 2 replicas split 2 + 1 (the busier replica bounds the speed-up at 1.5×). N replicas need
a partition count that N divides (6 serves 1, 2, 3 and 6 evenly; 12 serves 4 as well).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import sqlalchemy as sa
from consumer_batch import put_events
from prometheus_client import CollectorRegistry

from oms_devstack.tansu import TansuBroker
from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import StockUpdatedV1
from oms_shared.db import Database, Tx, create_engine, messaging_tables
from oms_shared.kafka import ensure_topics
from oms_shared.service import make_broker
from oms_shared.settings import ServiceSettings
from oms_shared.topics import STOCK_UPDATED

CLK_TCK = os.sysconf("SC_CLK_TCK")
JOINED = "joined"


def tables() -> tuple[sa.MetaData, sa.Table]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    stock = sa.Table(
        "bench_stock",
        metadata,
        sa.Column("sku", sa.String(50), primary_key=True),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
    )
    return metadata, stock


async def worker(bootstrap: str, url: str, group: str, batch_size: int) -> None:
    """One replica: consume until SIGTERM."""
    metadata, stock = tables()
    db = Database(create_engine(url), metadata)
    registry = CollectorRegistry()
    consumer = EventConsumer(service="bench", db=db, metrics=ConsumerMetrics(registry, "bench"), batch_size=batch_size)

    async def apply(event: StockUpdatedV1, tx: Tx) -> None:
        d = event.data
        updated = await tx.conn.execute(
            stock.update().where(stock.c.sku == d.sku).values(on_hand=int(d.on_hand), sequence=event.sequence)
        )
        if not updated.rowcount:
            await tx.conn.execute(stock.insert().values(sku=d.sku, on_hand=int(d.on_hand), sequence=event.sequence))

    consumer.on(StockUpdatedV1, apply)
    broker = make_broker(ServiceSettings(service_name="bench", kafka_bootstrap=bootstrap), registry)
    consumer.attach(broker, group_id=group)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await broker.start()  # returns once this member holds its partitions
    print(JOINED, flush=True)
    try:
        await stop.wait()
    finally:
        await broker.stop()
        await db.dispose()


def start_worker(bootstrap: str, url: str, group: str, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--worker", bootstrap, url, group, str(batch)], stdout=subprocess.PIPE, text=True
    )


def cpu_s(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


async def backends(admin: asyncpg.Connection, db_name: str) -> list[int]:
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", db_name)
    return [int(r["pid"]) for r in rows]


async def one_run(base_url: str, n: int, replicas: int, partitions: int, batch: int) -> dict[str, float]:
    plain = base_url.replace("postgresql+asyncpg://", "postgresql://")
    db_name = f"oms_bench_replicas_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(plain)
    await admin.execute(f'CREATE DATABASE "{db_name}"')
    url = f"{base_url.rpartition('/')[0]}/{db_name}"
    engine = create_engine(url)
    metadata, _ = tables()
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    procs: list[subprocess.Popen[str]] = []
    try:
        await ensure_topics(broker.bootstrap, [STOCK_UPDATED], partitions=partitions)
        group = f"bench-{uuid.uuid4().hex[:8]}"
        for _ in range(replicas):
            procs.append(start_worker(broker.bootstrap, url, group, batch))
        for p in procs:  # every member holds its partitions (the last join rebalanced the others)
            assert p.stdout is not None
            line = await asyncio.to_thread(p.stdout.readline)
            if line.strip() != JOINED:
                raise RuntimeError(f"a replica did not join: {line!r}")
        await asyncio.sleep(1)  # a rebalance the last join started has settled
        pids = [p.pid for p in procs]
        pg_pids = await backends(admin, db_name)
        cpu_before, pg_before = cpu_s(pids), cpu_s(pg_pids)
        started = time.perf_counter()
        await put_events(broker.bootstrap, n)
        produced_s = time.perf_counter() - started
        inbox = sa.table("inbox")
        deadline = time.monotonic() + 900
        while True:
            async with engine.connect() as conn:
                applied = (await conn.execute(sa.select(sa.func.count()).select_from(inbox))).scalar_one()
            if applied >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{applied} of {n} events applied in 900 s")
            await asyncio.sleep(0.05)
        wall = time.perf_counter() - started
        pg_pids = sorted(set(pg_pids) | set(await backends(admin, db_name)))
        return {
            "events_s": n / wall,
            "produced_s": n / produced_s,
            "cpu_ms_per_1000": (cpu_s(pids) - cpu_before) * 1_000_000 / n,
            "pg_cpu_ms_per_1000": (cpu_s(pg_pids) - pg_before) * 1_000_000 / n,
        }
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        broker.stop()
        await engine.dispose()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await admin.close()


async def main(n: int, counts: list[int], partitions: int, batch: int) -> None:
    base = os.environ.get("OMS_TEST_POSTGRES_URL")
    if not base:
        raise SystemExit("set OMS_TEST_POSTGRES_URL: replicas share one PostgreSQL database")
    rows = [(k, await one_run(base, n, k, partitions, batch)) for k in counts]
    one = rows[0][1]["events_s"]
    print(
        f"\n{n:,} stock.updated events of 200 keys on {partitions} partitions, batches of {batch}; "
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n"
    )
    head = (
        f"{'replicas':>8} {'events/s':>9} {'vs ' + str(counts[0]):>6} {'consumer CPU ms/1,000':>22} {'PostgreSQL':>11}"
    )
    print(head)
    print("-" * len(head))
    for k, r in rows:
        print(
            f"{k:>8} {r['events_s']:>9,.0f} {r['events_s'] / one:>5.2f}× {r['cpu_ms_per_1000']:>22,.0f} "
            f"{r['pg_cpu_ms_per_1000']:>11,.0f}"
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        bootstrap, url, group, batch = sys.argv[2:6]
        asyncio.run(worker(bootstrap, url, group, int(batch)))
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", nargs="?", type=int, default=6_000)
    parser.add_argument("--replicas", default="1,2,3", help="replica counts to compare, comma-separated")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=20, help="events per consumer transaction")
    args = parser.parse_args()
    asyncio.run(main(args.n, [int(x) for x in args.replicas.split(",")], args.partitions, args.batch))
