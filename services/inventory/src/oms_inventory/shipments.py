"""Part of an order shipped by the ERP (R-ERP-5): what left the warehouse stops being held.

Kept apart from the reserve engine on purpose: it only takes what a line shipped out of that line's reserve, the
same way ``reserves.consume_order`` does for a whole order (on hand and reserved go down together, with a ledger
row), and leaves everything else to ``apply_order_lines``, which then holds only what is left to ship
(``quantity - shipped_quantity`` of each line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import order_lines, stock
from oms_inventory.domain import to_units
from oms_inventory.reserves import Effects, append_ledger
from oms_shared.contracts import LineChange
from oms_shared.db import utcnow


def shipped_now(line_changes: Sequence[LineChange]) -> dict[str, int]:
    """Units shipped by this change per line id (the ``shipped`` line changes; a correction downwards ships none)."""
    shipped: dict[str, int] = {}
    for change in line_changes:
        if change.field != "shipped" or change.new is None:
            continue
        try:
            delta = to_units(Decimal(change.new)) - to_units(Decimal(change.old or "0"))
        except ArithmeticError:  # decimal.InvalidOperation: not a number, nothing shipped
            continue
        if delta > 0:
            shipped[str(change.line_id)] = shipped.get(str(change.line_id), 0) + delta
    return shipped


async def consume_shipped(conn: AsyncConnection, eff: Effects, order_id: str, shipped: Mapping[str, int]) -> None:
    """Each shipped line gives up what was shipped of it from its reserve (at most what it holds)."""
    if not shipped:
        return
    rows = await conn.execute(
        sa.select(order_lines).where(
            order_lines.c.tenant_id == eff.tenant_id,
            order_lines.c.order_id == order_id,
            order_lines.c.line_id.in_(list(shipped)),
            order_lines.c.state == "active",
        )
    )
    for row in rows:
        take = min(shipped[row.line_id], row.reserved)
        if take > 0 and row.warehouse_id:
            result = await conn.execute(
                stock.update()
                .where(
                    stock.c.tenant_id == eff.tenant_id,
                    stock.c.warehouse_id == row.warehouse_id,
                    stock.c.sku == row.sku,
                    stock.c.reserved >= take,
                )
                .values(on_hand=stock.c.on_hand - take, reserved=stock.c.reserved - take, updated_at=utcnow())
            )
            if result.rowcount != 1:
                raise RuntimeError(f"shipping {row.line_id}: the item holds less than the line's reserve")
            await append_ledger(
                conn,
                eff,
                wh=row.warehouse_id,
                sku=row.sku,
                kind="order",
                quantity=-take,
                reason="shipped",
                order_id=order_id,
                line_id=row.line_id,
            )
            eff.freed.discard((row.warehouse_id, row.sku))
        await conn.execute(
            order_lines.update()
            .where(order_lines.c.tenant_id == eff.tenant_id, order_lines.c.line_id == row.line_id)
            .values(
                reserved=row.reserved - take,
                requested=max(row.requested - shipped[row.line_id], 0),
                updated_at=utcnow(),
            )
        )
        eff.order(order_id, "consumed")
