"""Part of an order shipped by the ERP (R-ERP-5): what left the warehouse stops being held.

An order event carries, per line, what the ERP has shipped of it so far, in all. Each line remembers what it
shipped (``order_line_reserves.shipped``); only what goes beyond that leaves the line's reserve, so a repeated,
redelivered or older event ships nothing twice, and the order's later shipment or release takes only what is
still held (the ledger of a line always adds up to its reserve, as the reconciler checks).

The reserve engine's rules hold here as everywhere: the lines are read under their items' stock-row locks,
taken once in the global order for every item the event touches (before ``apply_order_lines`` takes the same
ones again), and written with a compare-and-set. In a warehouse whose stock the ERP feeds
(``warehouses.erp_fed``), a shipment only releases the reserve: on hand is the ERP's figure (ADR 013).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import order_lines, stock
from oms_inventory.domain import LineTarget, to_units
from oms_inventory.reserves import Effects, append_ledger, erp_fed_warehouses, locked_rows
from oms_inventory.reserves import _set_line as set_line
from oms_shared.contracts import OrderLine
from oms_shared.db import utcnow


def shipped_units(lines: Sequence[OrderLine]) -> dict[str, int]:
    """What the ERP has shipped so far of each line of the event (thousandths, all shipments together)."""
    return {str(line.line_id): to_units(line.shipped_quantity) for line in lines}


@dataclasses.dataclass
class Shipped:
    """What ``consume_shipped`` leaves for the caller: the targets to apply and lines first seen shipping."""

    targets: list[LineTarget]
    new_lines: dict[str, int]


async def consume_shipped(
    conn: AsyncConnection, eff: Effects, order_id: str, lines: Sequence[OrderLine], targets: Sequence[LineTarget]
) -> Shipped:
    """Each line gives up from its reserve what the ERP shipped of it since the line last heard (at most what it
    holds), under the locks of every item the order and ``targets`` involve.

    Returns the targets to apply: a line that already shipped more than this (older) event says holds only what
    is left after what it shipped, never again the shipped units. Lines not tracked yet come back in
    ``new_lines`` for ``record_shipped`` once ``apply_order_lines`` has created them."""
    tenant = eff.tenant_id
    shipped = shipped_units(lines)
    ids = [t.line_id for t in targets]
    where = order_lines.c.order_id == order_id
    if ids:
        where = sa.or_(where, order_lines.c.line_id.in_(ids))
    # The same rows and items ``apply_order_lines`` reads next: all locked now, in the one global order.
    rows = await locked_rows(conn, tenant, where, [(t.warehouse_id, t.sku) for t in targets])
    by_id = {r.line_id: r for r in rows}
    ahead: dict[str, int] = {}
    moving: list[tuple[Any, int]] = []  # (line, what it has shipped now)
    for row in rows:
        now = shipped.get(row.line_id)
        if now is None or row.state != "active":
            continue
        if now <= row.shipped:
            ahead[row.line_id] = row.shipped - now  # a repeated or older event: nothing more has shipped
        else:
            moving.append((row, now))
    erp_fed = await erp_fed_warehouses(conn, tenant, [r.warehouse_id for r, _ in moving if r.warehouse_id])
    for row, now in moving:
        take = min(now - row.shipped, row.reserved)
        if take > 0 and row.warehouse_id:
            by_erp = row.warehouse_id in erp_fed
            on_hand = stock.c.on_hand if by_erp else stock.c.on_hand - take
            result = await conn.execute(
                stock.update()
                .where(
                    stock.c.tenant_id == tenant,
                    stock.c.warehouse_id == row.warehouse_id,
                    stock.c.sku == row.sku,
                    stock.c.reserved >= take,
                )
                .values(on_hand=on_hand, reserved=stock.c.reserved - take, updated_at=utcnow())
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
                reason="shipped_erp_stock" if by_erp else "shipped",
                order_id=row.order_id,
                line_id=row.line_id,
            )
            # Shipped units left the shelf: what the reserve held is not offered to backorders.
            eff.freed.discard((row.warehouse_id, row.sku))
        left = max(row.requested - (now - row.shipped), 0)
        await set_line(conn, tenant, row, reserved=row.reserved - take, requested=left, shipped=now)
        eff.order(row.order_id, "consumed")
    out = [
        dataclasses.replace(t, requested=max(0, t.requested - ahead[t.line_id])) if t.line_id in ahead else t
        for t in targets
    ]
    new_lines = {lid: q for lid, q in shipped.items() if q > 0 and lid not in by_id}
    return Shipped(out, new_lines)


async def record_shipped(conn: AsyncConnection, tenant: str, shipped: Mapping[str, int]) -> None:
    """Lines created by this event after part of them shipped: they remember it (they never held those units),
    so a later event saying the same ships nothing from their reserve. Runs under the locks already taken."""
    for line_id, units in sorted(shipped.items()):
        await conn.execute(
            order_lines.update()
            .where(order_lines.c.tenant_id == tenant, order_lines.c.line_id == line_id, order_lines.c.shipped < units)
            .values(shipped=units)
        )
