"""Split preview (R-SPL-1): how an order would split if confirmed now, from the availability replica."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from oms_orders import domain
from oms_orders.db import stock_levels
from oms_orders.handlers.common import d, dec, order_for
from oms_orders.handlers.orders import lines_of
from oms_shared.auth import Principal
from oms_shared.contracts import StockUpdatedV1
from oms_shared.db import Database, Tx, utcnow


async def apply_stock(event: StockUpdatedV1, tx: Tx) -> None:
    """Keep the latest availability per warehouse item (absolute values: reapplying is harmless)."""
    data = event.data
    values = {
        "supplier_id": str(event.tenant_id),
        "available": data.available,
        "incoming": data.incoming,
        "updated_at": utcnow(),
    }
    where = sa.and_(stock_levels.c.warehouse_id == str(data.warehouse_id), stock_levels.c.sku == data.sku)
    updated = await tx.conn.execute(stock_levels.update().where(where).values(**values))
    if updated.rowcount == 0:
        await tx.conn.execute(stock_levels.insert().values(warehouse_id=str(data.warehouse_id), sku=data.sku, **values))


async def split_preview(db: Database, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    """The parts the order would get on confirmation with today's availability (nothing is reserved)."""
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        lines = await lines_of(conn, row.id)
        keys = {(x.warehouse_id, x.sku) for x in lines}
        stock = {
            (s.warehouse_id, s.sku): d(s.available)
            for s in await conn.execute(
                sa.select(stock_levels).where(
                    stock_levels.c.supplier_id == row.supplier_id,
                    stock_levels.c.warehouse_id.in_([k[0] for k in keys if k[0]]),
                )
            )
        }
    left = dict(stock)
    planned: list[domain.ReservedLine] = []
    would: dict[str, Decimal] = {}
    for line in lines:
        key = (line.warehouse_id, line.sku)
        take = max(Decimal(0), min(d(line.quantity), left.get(key, Decimal(0))))
        left[key] = left.get(key, Decimal(0)) - take
        would[line.id] = take
        planned.append(domain.ReservedLine(line.id, line.warehouse_id, d(line.quantity), take))
    plan = domain.plan_parts(planned, row.one_shipment)
    by_id = {x.id: x for x in lines}
    return {
        "order_id": row.id,
        "one_shipment": row.one_shipment,
        "splits": plan.splits,
        "parts": [
            {
                "kind": kind,
                "lines": [
                    {
                        "line_id": i,
                        "sku": by_id[i].sku,
                        "warehouse_id": by_id[i].warehouse_id,
                        "quantity": dec(_part_quantity(plan, i, kind, d(by_id[i].quantity))),
                        "available": dec(would[i]),
                    }
                    for i in group
                ],
            }
            for group, kind in zip(plan.groups, plan.kinds, strict=True)
        ],
    }


def _part_quantity(plan: domain.PartPlan, line_id: str, kind: str, quantity: Decimal) -> Decimal:
    """A line cut between parts shows, in each part, the quantity that part would carry."""
    if line_id not in plan.cuts:
        return quantity
    kept, moved = plan.cuts[line_id]
    return moved if kind == "coming_soon" else kept
