"""Use cases of the ERP bridge: queue confirmed orders for the next exchange with 1C."""

from __future__ import annotations

import sqlalchemy as sa

from oms_erp_bridge.db import order_queue
from oms_shared.contracts import OrderStatus, OrderStatusChangedV1
from oms_shared.db import Tx, utcnow

EXPORTED_STATUSES = {OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.REJECTED, OrderStatus.CANCELLED}


async def queue_order_for_erp(event: OrderStatusChangedV1, tx: Tx) -> None:
    """Confirmed orders (and later changes of their status) wait for 1C to take them."""
    data = event.data
    if data.to_status not in EXPORTED_STATUSES:
        return
    values = {
        "tenant_id": str(event.tenant_id),
        "number": data.number,
        "status": data.to_status.value,
        "snapshot": data.model_dump_json(),
        "queued_at": utcnow(),
        "exported_at": None,
    }
    updated = await tx.conn.execute(
        order_queue.update().where(order_queue.c.order_id == str(data.order_id)).values(**values)
    )
    if updated.rowcount == 0:
        await tx.conn.execute(order_queue.insert().values(order_id=str(data.order_id), **values))


async def pending_orders(conn: sa.ext.asyncio.AsyncConnection, tenant_id: str) -> list[dict[str, str]]:
    rows = await conn.execute(
        sa.select(order_queue.c.order_id, order_queue.c.number, order_queue.c.status)
        .where(order_queue.c.tenant_id == tenant_id, order_queue.c.exported_at.is_(None))
        .order_by(order_queue.c.queued_at)
    )
    return [dict(r._mapping) for r in rows]
