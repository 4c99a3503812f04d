"""Inventory without a broker: its handlers and consumer over one database, one "node" per process replica.

Two nodes on one PostgreSQL database are two replicas with their own engines (connection pools): what one
writes the other sees only through the database, as in production. Events go through the node's
``EventConsumer`` (inbox claim, parking on ``NotYet``) exactly as messages from Kafka do.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from oms_inventory.app import MIGRATIONS
from oms_inventory.db import holds, metadata, order_lines, reserve_ledger, stock
from oms_inventory.handlers import Inventory, InventoryMetrics
from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import (
    ErpStockImportedV1,
    Event,
    LineChange,
    OrderChangedData,
    OrderChangedV1,
    OrderLine,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)
from oms_shared.db import Database, create_engine
from oms_shared.migrations import upgrade_to_head

USER = str(uuid.uuid4())


@dataclass
class Node:
    db: Database
    inventory: Inventory
    consumer: EventConsumer

    async def deliver(self, event: Event) -> None:
        """Hand an event to the consumer as the broker would (parked when it arrives too early)."""
        await self.consumer.handle_raw(event.TOPIC, event.to_json(), event.kafka_headers())

    async def unpark(self) -> int:
        """Retry every parked event now (as the background loop does when they fall due)."""
        return await self.consumer.retry_parked(now=datetime.now(UTC) + timedelta(hours=1))

    async def parked(self) -> int:
        async with self.db.read() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(self.db.parked)) or 0)


@asynccontextmanager
async def nodes(database_url: str, count: int = 1, *, max_attempts: int = 20) -> AsyncIterator[list[Node]]:
    out = []
    for n in range(count):
        db = Database(create_engine(database_url), metadata)
        if n == 0:
            await upgrade_to_head(db.engine, MIGRATIONS)
        registry = CollectorRegistry()
        inventory = Inventory(db, InventoryMetrics(registry))
        consumer = EventConsumer(
            service="inventory",
            db=db,
            metrics=ConsumerMetrics(registry, "inventory"),
            max_attempts=max_attempts,
            retry_backoff_s=0.01,
        )
        consumer.on(OrderStatusChangedV1, inventory.on_order_status_changed)
        consumer.on(OrderChangedV1, inventory.on_order_changed)
        consumer.on(ErpStockImportedV1, inventory.on_erp_stock_imported)
        out.append(Node(db, inventory, consumer))
    try:
        yield out
    finally:
        for node in out:
            await node.db.dispose()


async def catalogue(node: Node, tenant: str, on_hand: dict[str, str]) -> str:
    """A warehouse with the SKUs and their on-hand stock; returns the warehouse id."""
    wid = (await node.inventory.create_warehouse(tenant, f"W{uuid.uuid4().hex[:6]}", "Main"))["warehouse_id"]
    await node.inventory.upsert_products(tenant, [{"sku": s, "name": s, "unit": "pcs"} for s in on_hand])
    await node.inventory.put_stock(
        tenant, USER, [{"warehouse_id": wid, "sku": s, "on_hand": q} for s, q in on_hand.items()]
    )
    return str(wid)


def line(sku: str, wid: str, quantity: str, line_id: uuid.UUID | None = None) -> OrderLine:
    return OrderLine(line_id=line_id or uuid.uuid4(), sku=sku, warehouse_id=uuid.UUID(wid), quantity=Decimal(quantity))


def status(
    tenant: str,
    order_id: uuid.UUID,
    seq: int,
    to: OrderStatus,
    lines: list[OrderLine],
    *,
    at: datetime | None = None,
    side: Side = Side.SUPPLIER,
) -> OrderStatusChangedV1:
    return make_event(
        OrderStatusChangedV1,
        tenant_id=uuid.UUID(tenant),
        aggregate_id=str(order_id),
        producer="orders",
        sequence=seq,
        data=OrderStatusChangedData(
            order_id=order_id,
            number="1001",
            buyer_id=uuid.uuid4(),
            from_status=None,
            to_status=to,
            by_side=side,
            lines=lines,
            changed_at=at or datetime.now(UTC),
        ),
    )


def changed(
    tenant: str,
    order_id: uuid.UUID,
    seq: int,
    kind: str,
    lines: list[OrderLine] | None,
    *,
    status: OrderStatus = OrderStatus.CONFIRMED,
    changes: Sequence[tuple[uuid.UUID, str]] = (),
    related: Sequence[uuid.UUID] = (),
    at: datetime | None = None,
) -> OrderChangedV1:
    return make_event(
        OrderChangedV1,
        tenant_id=uuid.UUID(tenant),
        aggregate_id=str(order_id),
        producer="orders",
        sequence=seq,
        data=OrderChangedData(
            order_id=order_id,
            number="1001",
            buyer_id=uuid.uuid4(),
            kind=kind,
            status=status,
            line_changes=[LineChange(line_id=lid, field=field) for lid, field in changes],
            lines=lines,
            related_order_ids=list(related),
            changed_at=at or datetime.now(UTC),
        ),
    )


async def item(node: Node, tenant: str, wid: str, sku: str) -> tuple[int, int]:
    """(on hand, reserved) in thousandths."""
    async with node.db.read() as conn:
        row = (
            await conn.execute(
                sa.select(stock.c.on_hand, stock.c.reserved).where(
                    stock.c.tenant_id == tenant, stock.c.warehouse_id == wid, stock.c.sku == sku
                )
            )
        ).one()
    return int(row.on_hand), int(row.reserved)


async def lines_of(node: Node, tenant: str, order_id: uuid.UUID) -> dict[str, tuple[str, int]]:
    """line id → (state, reserved) of the lines inventory tracks under the order."""
    async with node.db.read() as conn:
        rows = await conn.execute(
            sa.select(order_lines.c.line_id, order_lines.c.state, order_lines.c.reserved).where(
                order_lines.c.tenant_id == tenant, order_lines.c.order_id == str(order_id)
            )
        )
        return {r.line_id: (r.state, int(r.reserved)) for r in rows}


async def books(node: Node, tenant: str, wid: str, sku: str) -> dict[str, Any]:
    """Everything an audit compares for one item."""
    async with node.db.read() as conn:
        where = (stock.c.tenant_id == tenant, stock.c.warehouse_id == wid, stock.c.sku == sku)
        on_hand, reserved = (await conn.execute(sa.select(stock.c.on_hand, stock.c.reserved).where(*where))).one()
        lines = (
            await conn.execute(
                sa.select(order_lines).where(
                    order_lines.c.tenant_id == tenant, order_lines.c.warehouse_id == wid, order_lines.c.sku == sku
                )
            )
        ).all()
        held = await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(holds.c.quantity), 0)).where(
                holds.c.tenant_id == tenant, holds.c.warehouse_id == wid, holds.c.sku == sku
            )
        )
        ledger = dict(
            (
                await conn.execute(
                    sa.select(reserve_ledger.c.line_id, sa.func.sum(reserve_ledger.c.quantity))
                    .where(
                        reserve_ledger.c.tenant_id == tenant,
                        reserve_ledger.c.warehouse_id == wid,
                        reserve_ledger.c.sku == sku,
                    )
                    .group_by(reserve_ledger.c.line_id)
                )
            ).all()
        )
    return {
        "on_hand": int(on_hand),
        "reserved": int(reserved),
        "lines": lines,
        "held": int(held or 0),
        "ledger": ledger,
    }
