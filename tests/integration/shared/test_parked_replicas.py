"""Parked events retried by two processes of a service on one SQLite file (no row ids kept apart there)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Database, Tx, create_engine, messaging_tables, utcnow
from oms_shared.errors import NotYet

TENANT = uuid.uuid4()
WAREHOUSE = uuid.UUID(int=4)


def stock_event(sku: str) -> StockUpdatedV1:
    return make_event(
        StockUpdatedV1,
        tenant_id=TENANT,
        aggregate_id=f"{WAREHOUSE}:{sku}",
        sequence=1,
        data={"warehouse_id": WAREHOUSE, "sku": sku, "on_hand": 1, "reserved": 0, "available": 1},
    )


async def test_a_slow_retry_never_takes_the_row_of_an_event_parked_after_it(tmp_path: Path) -> None:
    """Two processes share one SQLite file and both retry its parked events. One reads a due event and is slow to
    take it while the other applies it, and a new event is parked meanwhile: SQLite gives the new row the freed
    id. The slow one must leave the new event parked (not delete it unapplied): it is applied once its fact
    arrives."""
    metadata = sa.MetaData()
    messaging_tables(metadata)
    url = f"sqlite+aiosqlite:///{tmp_path / 'parked.db'}"
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await engine.dispose()
    databases = [Database(create_engine(url), metadata) for _ in range(2)]
    known: set[str] = set()  # the SKUs whose fact has arrived
    applied: list[str] = []

    async def handler(event: StockUpdatedV1, tx: Tx) -> None:
        if event.data.sku not in known:
            raise NotYet(f"{event.data.sku} not known yet")
        applied.append(event.data.sku)

    def process(db: Database) -> EventConsumer:
        consumer = EventConsumer(
            service="parking", db=db, metrics=ConsumerMetrics(CollectorRegistry(), "parking"), park_backoff_s=0.01
        )
        consumer.on(StockUpdatedV1, handler)
        return consumer

    fast, slow = (process(db) for db in databases)
    due = utcnow() + timedelta(hours=1)
    try:
        first, second = stock_event("P"), stock_event("Q")
        await fast.handle_raw(first.TOPIC, first.to_json(), first.kafka_headers())  # parked
        known.add("P")
        reached, gate = asyncio.Event(), asyncio.Event()
        retry_one = slow._retry_one

        async def held(row: Any, now: Any) -> None:
            reached.set()
            await gate.wait()
            await retry_one(row, now)

        slow._retry_one = held  # type: ignore[method-assign]
        slow_retry = asyncio.create_task(slow.retry_parked(now=due))
        await asyncio.wait_for(reached.wait(), timeout=10)  # it read the parked row and is slow to take it
        assert await fast.retry_parked(now=due) == 1
        assert applied == ["P"]
        await fast.handle_raw(second.TOPIC, second.to_json(), second.kafka_headers())  # parked: the same id again
        gate.set()
        await asyncio.wait_for(slow_retry, timeout=20)
        known.add("Q")
        await fast.retry_parked(now=due)
        assert applied == ["P", "Q"]
        async with databases[0].read() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(databases[0].parked)) == 0
    finally:
        for db in databases:
            await db.dispose()
