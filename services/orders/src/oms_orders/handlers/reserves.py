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
    # A line keeps its id when it moves to a part, so it is found wherever it lives now. The orders are locked
    # first, in id order, and then their lines are written: the order page's writers (ship, edit) lock the order
    # row and then its lines, and taking a line first and the order second deadlocked with them (PostgreSQL).
    line_ids = [str(line.line_id) for line in data.lines]
    locked: set[str] = set()
    while True:
        found = await tx.conn.execute(
            sa.select(order_lines.c.id, order_lines.c.order_id).where(order_lines.c.id.in_(line_ids))
        )
        owners: dict[str, str] = {line_id: owner for line_id, owner in found.tuples()}
        touched = {row.id, *owners.values()}
        if touched <= locked:  # no line moved to another part while we waited for the locks
            break
        await tx.conn.execute(
            sa.select(orders.c.id)
            .where(orders.c.id.in_(sorted(touched - locked)))
            .order_by(orders.c.id)
            .with_for_update()
        )
        locked |= touched
    for line in data.lines:
        if str(line.line_id) not in owners:
            log.warning("reserve for unknown line %s of order %s", line.line_id, data.order_id)
            continue
        await tx.conn.execute(
            order_lines.update()
            .where(order_lines.c.id == str(line.line_id))
            .values(reserved=line.reserved, shortage=line.shortage)
        )
    for order_id in touched:
        _, status = await recompute(tx.conn, order_id)
        await tx.conn.execute(orders.update().where(orders.c.id == order_id).values(reserve_status=status))
    if data.reason == "reserved":
        await split_by_reserve(tx, await reload(tx.conn, row.id))
