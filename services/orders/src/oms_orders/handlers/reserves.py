"""Reserves from inventory (``reserve.updated``): what each line holds, and parts on confirmation."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from oms_orders.db import order_lines, orders
from oms_orders.handlers.orders import recompute, reload
from oms_orders.handlers.parts import split_by_reserve
from oms_shared.contracts import ReserveUpdatedV1
from oms_shared.db import Tx
from oms_shared.errors import PermanentError

log = logging.getLogger(__name__)


async def apply_reserve(event: ReserveUpdatedV1, tx: Tx) -> None:
    """Store reserved/shortage per line (absolute values, so reapplying is harmless); split once reserved."""
    data = event.data
    row = (await tx.conn.execute(sa.select(orders).where(orders.c.id == str(data.order_id)))).first()
    if row is None:
        raise PermanentError(f"reserve for unknown order {data.order_id}")
    if row.supplier_id != str(event.tenant_id):
        raise PermanentError(f"reserve for order {data.order_id} from another tenant")
    touched = {row.id}
    for line in data.lines:
        # A line keeps its id when it moves to a part, so it is found wherever it lives now.
        owner = await tx.conn.scalar(sa.select(order_lines.c.order_id).where(order_lines.c.id == str(line.line_id)))
        if owner is None:
            log.warning("reserve for unknown line %s of order %s", line.line_id, data.order_id)
            continue
        await tx.conn.execute(
            order_lines.update()
            .where(order_lines.c.id == str(line.line_id))
            .values(reserved=line.reserved, shortage=line.shortage)
        )
        touched.add(owner)
    for order_id in touched:
        _, status = await recompute(tx.conn, order_id)
        await tx.conn.execute(orders.update().where(orders.c.id == order_id).values(reserve_status=status))
    if data.reason == "reserved":
        await split_by_reserve(tx, await reload(tx.conn, row.id))
