"""Analytics speed: summary p95 over 1,000,000 orders of one year on PostgreSQL, and rebuild events/s.

Run: ``python bench/analytics_summary.py [--orders N] [--events M] [--runs R]`` (defaults 1,000,000 /
1,000,000 / 30). PostgreSQL from ``OMS_BENCH_POSTGRES_URL`` or ``OMS_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``); a scratch database is created and dropped.
The rebuild part starts its own Tansu broker, puts M order events on the topics (half placed, half
status changes) and replays them into empty read models. Prints a table. Target: summary p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from oms_analytics.app import MIGRATIONS
from oms_analytics.db import metadata
from oms_analytics.domain import OrderFacts, RollupDelta, parse_report_query
from oms_analytics.handlers import HANDLERS, order_row
from oms_analytics.queries import Scope, load_summary
from oms_analytics.rebuild import Rebuilder
from oms_devstack.tansu import TansuBroker
from oms_shared.contracts import (
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)
from oms_shared.db import Database, create_engine
from oms_shared.kafka import ensure_topics
from oms_shared.migrations import upgrade_to_head
from oms_shared.outbox import make_producer
from oms_shared.topics import all_topics_with_dlq

YEAR_START = date(2025, 1, 1)
BUYERS = 2_000
MANAGERS = 50
STATUS_WEIGHTS = {
    "new": 5,
    "editing": 1,
    "awaiting_approval": 1,
    "agreed": 1,
    "confirmed": 15,
    "shipped": 65,
    "rejected": 5,
    "cancelled": 7,
}
STATUSES = list(STATUS_WEIGHTS)
STATUS_WEIGHTS_LIST = list(STATUS_WEIGHTS.values())
COLUMNS = [
    "order_id",
    "tenant_id",
    "number",
    "buyer_id",
    "buyer_name",
    "responsible_user_id",
    "price_list_id",
    "parent_order_id",
    "status",
    "total_minor",
    "paid_minor",
    "placed_at",
    "placed_day",
    "confirmed_at",
    "shipped_at",
    "rejected_at",
    "cancelled_at",
    "hours_to_confirm",
    "hours_to_ship",
    "overdue",
    "deleted_by_supplier",
    "versions",
    "updated_at",
]


def pg_url() -> str:
    return (
        os.environ.get("OMS_BENCH_POSTGRES_URL")
        or os.environ.get("OMS_TEST_POSTGRES_URL")
        or "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for the run, dropped afterwards."""
    base = pg_url().replace("postgresql+asyncpg://", "postgresql://")
    name = f"oms_bench_an_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    head, _, _ = pg_url().rpartition("/")
    try:
        yield f"{head}/{name}"
    finally:
        admin = await asyncpg.connect(base)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def an_order(tenant: str, number: int, buyers: list[str], managers: list[str], rng: random.Random) -> OrderFacts:
    """An order as the consumer would leave it: placed some time in the year, in one of the statuses."""
    status = rng.choices(STATUSES, STATUS_WEIGHTS_LIST)[0]
    placed = datetime.combine(YEAR_START, datetime.min.time(), UTC) + timedelta(seconds=rng.randrange(365 * 86400))
    confirmed = placed + timedelta(hours=rng.uniform(0.2, 72)) if status in ("confirmed", "shipped") else None
    total = rng.randrange(1_000, 50_000_000)
    return OrderFacts(
        order_id=str(uuid.uuid4()),
        tenant_id=tenant,
        number=str(number),
        buyer_id=rng.choice(buyers),
        buyer_name=f"Buyer {number % 2000}",
        responsible_user_id=rng.choice(managers) if rng.random() < 0.9 else None,
        status=status,
        total_minor=total,
        paid_minor=total if status == "shipped" and rng.random() < 0.8 else 0,
        placed_at=placed,
        confirmed_at=confirmed,
        shipped_at=confirmed + timedelta(hours=rng.uniform(2, 120)) if status == "shipped" and confirmed else None,
        rejected_at=placed + timedelta(hours=rng.uniform(1, 48)) if status == "rejected" else None,
        cancelled_at=placed + timedelta(hours=rng.uniform(1, 48)) if status == "cancelled" else None,
        overdue=status == "confirmed" and rng.random() < 0.1,
    )


async def load_orders(url: str, n: int, tenant: str, buyers: list[str], managers: list[str]) -> None:
    """COPY the orders and their daily, per-buyer and per-manager rollups (computed by the service's own code)."""
    rng = random.Random(42)
    raw = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(raw)
    try:
        delta = RollupDelta()
        chunk = 100_000
        for offset in range(0, n, chunk):
            facts = [an_order(tenant, offset + i + 1, buyers, managers, rng) for i in range(min(chunk, n - offset))]
            for f in facts:
                delta.add(f, +1)
            rows = [(f.order_id, *(order_row(f)[c] for c in COLUMNS[1:])) for f in facts]
            await conn.copy_records_to_table("an_orders", records=rows, columns=COLUMNS)
        daily_rows, hours_rows = delta.nonzero()
        await conn.copy_records_to_table(
            "an_daily",
            records=[(tenant, *k, *v) for k, v in daily_rows.items()],
            columns=[
                "tenant_id",
                "day",
                "status",
                "confirmed",
                "shipped",
                "overdue",
                "orders",
                "total_minor",
                "paid_minor",
            ],
        )
        await conn.copy_records_to_table(
            "an_daily_hours",
            records=[(tenant, *k, v) for k, v in hours_rows.items()],
            columns=["tenant_id", "day", "metric", "bin", "n"],
        )
        buyer_rows, manager_rows = delta.nonzero_groups()
        for table, rows in (("an_daily_buyers", buyer_rows), ("an_daily_managers", manager_rows)):
            await conn.copy_records_to_table(table, records=[(tenant, *k, *v) for k, v in rows.items()])
        # The restricted manager of the bench has 40 buyers.
        mine = rng.sample(buyers, 40)
        await conn.copy_records_to_table("an_buyer_managers", records=[(tenant, b, managers[0]) for b in mine])
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def measure(fn: Callable[[], Coroutine[Any, Any, Any]], runs: int) -> tuple[float, float, float]:
    for _ in range(2):
        await fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
    return statistics.median(times), p95, times[-1]


async def summary_bench(n: int, runs: int) -> list[tuple[str, float, float, float]]:
    tenant = str(uuid.uuid4())
    buyers = [str(uuid.uuid4()) for _ in range(BUYERS)]
    managers = [str(uuid.uuid4()) for _ in range(MANAGERS)]
    async with scratch_database() as url:
        db = Database(create_engine(url), metadata)
        try:
            await upgrade_to_head(db.engine, MIGRATIONS)
            started = time.perf_counter()
            await load_orders(url, n, tenant, buyers, managers)
            print(f"loaded {n:,} orders in {time.perf_counter() - started:.1f} s", flush=True)
            year = parse_report_query(YEAR_START.isoformat(), date(2025, 12, 31).isoformat())
            cases = [
                ("summary, year by day", Scope(tenant), year),
                (
                    "summary, year by month",
                    Scope(tenant),
                    parse_report_query("2025-01-01", "2025-12-31", None, "month"),
                ),
                ("by buyer, year", Scope(tenant), parse_report_query("2025-01-01", "2025-12-31", "buyer")),
                ("by manager, year", Scope(tenant), parse_report_query("2025-01-01", "2025-12-31", "manager")),
                ("restricted manager, year", Scope(tenant, managers[0]), year),
                ("summary, one month", Scope(tenant), parse_report_query("2025-06-01", "2025-06-30")),
            ]
            results = []
            for label, scope, query in cases:

                async def run(scope: Scope = scope, query: Any = query) -> None:
                    async with db.read() as c:
                        body = await load_summary(c, scope, query)
                    json.dumps(body)

                results.append((label, *(await measure(run, runs))))
                print(f"  {label}: p95 {results[-1][2]:.0f} ms", flush=True)
            return results
        finally:
            await db.dispose()


def order_events(n_events: int) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]:
    """Half order.placed, half order.status_changed (confirmed), as the orders service publishes them."""
    rng = random.Random(7)
    tenant = uuid.uuid4()
    buyers = [uuid.uuid4() for _ in range(200)]
    out = []
    for i in range(n_events // 2):
        order_id = uuid.uuid4()
        buyer = rng.choice(buyers)
        created = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
        line = OrderLine(line_id=uuid.uuid4(), sku="SKU-1", quantity=Decimal(2), price=Decimal("150.00"))
        placed = make_event(
            OrderPlacedV1,
            tenant_id=tenant,
            aggregate_id=str(order_id),
            sequence=1,
            data=OrderPlacedData(
                order_id=order_id,
                number=str(i),
                buyer_id=buyer,
                status=OrderStatus.NEW,
                lines=[line],
                total=Decimal("300.00"),
                created_at=created,
            ),
        )
        confirmed = make_event(
            OrderStatusChangedV1,
            tenant_id=tenant,
            aggregate_id=str(order_id),
            sequence=2,
            data=OrderStatusChangedData(
                order_id=order_id,
                number=str(i),
                buyer_id=buyer,
                from_status=OrderStatus.NEW,
                to_status=OrderStatus.CONFIRMED,
                by_side=Side.SUPPLIER,
                changed_at=created + timedelta(hours=2),
            ),
        )
        for e in (placed, confirmed):
            headers = e.kafka_header_list()
            out.append((e.TOPIC, e.partition_key().encode(), e.to_json(), headers))
    return out


async def rebuild_bench(n_events: int) -> tuple[int, float, float, int]:
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, all_topics_with_dlq())
        started = time.perf_counter()
        messages = order_events(n_events)
        producer = make_producer(broker.bootstrap)
        await producer.start()
        try:
            for offset in range(0, len(messages), 20_000):
                futures = [
                    await producer.send(topic, value=value, key=key, headers=headers)
                    for topic, key, value, headers in messages[offset : offset + 20_000]
                ]
                await asyncio.gather(*futures)
        finally:
            await producer.stop()
        produce_s = time.perf_counter() - started
        print(f"put {len(messages):,} events on the broker in {produce_s:.1f} s", flush=True)
        async with scratch_database() as url:
            db = Database(create_engine(url), metadata)
            try:
                await upgrade_to_head(db.engine, MIGRATIONS)
                report = await Rebuilder(db, broker.bootstrap, HANDLERS).run()
                async with db.read() as conn:
                    rows = int((await conn.exec_driver_sql("SELECT count(*) FROM an_orders")).scalar_one())
            finally:
                await db.dispose()
        if report.status != "done":
            raise RuntimeError(f"rebuild failed: {report.error}")
        return report.events_read, report.seconds, report.events_per_second, rows
    finally:
        broker.stop()


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-rebuild", action="store_true")
    args = parser.parse_args()
    results = await summary_bench(args.orders, args.runs)
    rows = [["summary over " + f"{args.orders:,} orders (PostgreSQL)", "p50 ms", "p95 ms", "max ms"]]
    rows += [[label, f"{p50:.0f}", f"{p95:.0f}", f"{mx:.0f}"] for label, p50, p95, mx in results]
    print()
    print(table(rows))
    # The target is the summary itself; grouped summaries read the per-day per-buyer and
    # per-manager rollups (as many rows as buyer-days: with many small buyers, nearly one per order).
    worst = max(p95 for label, _, p95, _ in results if not label.startswith("by "))
    print(f"\nsummary worst p95 {worst:.0f} ms (target < 300 ms): {'OK' if worst < 300 else 'OVER'}")
    grouped = max(p95 for label, _, p95, _ in results if label.startswith("by "))
    print(f"grouped (by buyer / by manager) worst p95 {grouped:.0f} ms: from the per-day group rollups")
    if not args.skip_rebuild:
        read, seconds, rate, orders_rows = await rebuild_bench(args.events)
        print()
        print(
            table(
                [
                    ["rebuild from the topics (PostgreSQL)", "events", "seconds", "events/s", "orders"],
                    [
                        "replay into empty read models",
                        f"{read:,}",
                        f"{seconds:.1f}",
                        f"{rate:,.0f}",
                        f"{orders_rows:,}",
                    ],
                ]
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
