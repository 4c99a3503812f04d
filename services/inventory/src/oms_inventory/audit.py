"""The reconciler's audit: the reserve projection, the ledger and the holders of every item must agree.

Three ways a reserve can go wrong without overselling, each seen per item:

- the stock row's ``reserved`` differs from the sum of the item's ledger (a write of one without the other);
- ``reserved`` differs from what holds it: the active order lines plus the manual and Integration holds
  (units reserved by nobody, or a holder whose units the item does not count);
- a line's own ledger differs from the line: an active line must hold the sum of its ledger rows, a released or
  shipped one nothing, and a released line must show no reserve;
- a line is still active while its order is closed (shipped, rejected or cancelled, as ``order_versions`` last
  recorded it): units held for an order that will never take them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import holds, order_lines, order_versions, reserve_ledger, stock

CLOSED = ("shipped", "rejected", "cancelled")

Key = tuple[str, str, str]


async def reserve_audit(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Items with any drift: ``projection`` (stock.reserved), ``ledger``, ``holders`` and the drifting ``lines``."""
    ledger = (
        sa.select(
            reserve_ledger.c.tenant_id,
            reserve_ledger.c.warehouse_id,
            reserve_ledger.c.sku,
            sa.func.sum(reserve_ledger.c.quantity).label("total"),
        )
        .group_by(reserve_ledger.c.tenant_id, reserve_ledger.c.warehouse_id, reserve_ledger.c.sku)
        .subquery()
    )
    lines = (
        sa.select(
            order_lines.c.tenant_id,
            order_lines.c.warehouse_id,
            order_lines.c.sku,
            sa.func.sum(order_lines.c.reserved).label("total"),
        )
        .where(order_lines.c.state == "active")
        .group_by(order_lines.c.tenant_id, order_lines.c.warehouse_id, order_lines.c.sku)
        .subquery()
    )
    held = (
        sa.select(holds.c.tenant_id, holds.c.warehouse_id, holds.c.sku, sa.func.sum(holds.c.quantity).label("total"))
        .group_by(holds.c.tenant_id, holds.c.warehouse_id, holds.c.sku)
        .subquery()
    )

    def joined(sub: Any) -> Any:
        return sa.and_(
            sub.c.tenant_id == stock.c.tenant_id, sub.c.warehouse_id == stock.c.warehouse_id, sub.c.sku == stock.c.sku
        )

    ledger_total = sa.func.coalesce(ledger.c.total, 0)
    holders_total = sa.func.coalesce(lines.c.total, 0) + sa.func.coalesce(held.c.total, 0)
    items = await conn.execute(
        sa.select(
            stock.c.tenant_id,
            stock.c.warehouse_id,
            stock.c.sku,
            stock.c.reserved,
            ledger_total.label("ledger"),
            holders_total.label("holders"),
        )
        .select_from(
            stock.outerjoin(ledger, joined(ledger)).outerjoin(lines, joined(lines)).outerjoin(held, joined(held))
        )
        .where(sa.or_(stock.c.reserved != ledger_total, stock.c.reserved != holders_total))
    )
    out: dict[Key, dict[str, Any]] = {}
    for r in items:
        out[(r.tenant_id, r.warehouse_id, r.sku)] = {
            "tenant_id": r.tenant_id,
            "warehouse_id": r.warehouse_id,
            "sku": r.sku,
            "projection": int(r.reserved),
            "ledger": int(r.ledger),
            "holders": int(r.holders),
            "lines": [],
        }
    for line in await line_drift(conn):
        key = (line.pop("tenant_id"), line.pop("warehouse_id"), line.pop("sku"))
        if key not in out:
            out[key] = await _item_totals(conn, *key)
        out[key]["lines"].append(line)
    return list(out.values())


async def line_drift(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Order lines whose ledger differs from what they hold (nothing once released or shipped), and released
    lines that still show a reserve."""
    by_line = (
        sa.select(
            reserve_ledger.c.tenant_id,
            reserve_ledger.c.line_id,
            sa.func.sum(reserve_ledger.c.quantity).label("total"),
        )
        .where(reserve_ledger.c.kind == "order", reserve_ledger.c.line_id.is_not(None))
        .group_by(reserve_ledger.c.tenant_id, reserve_ledger.c.line_id)
        .subquery()
    )
    ledger_total = sa.func.coalesce(by_line.c.total, 0)
    expected = sa.case((order_lines.c.state == "active", order_lines.c.reserved), else_=0)
    closed = sa.and_(order_lines.c.state == "active", order_versions.c.status.in_(CLOSED))
    rows = await conn.execute(
        sa.select(
            order_lines.c.tenant_id,
            order_lines.c.warehouse_id,
            order_lines.c.sku,
            order_lines.c.order_id,
            order_lines.c.line_id,
            order_lines.c.state,
            order_lines.c.reserved,
            ledger_total.label("ledger"),
            order_versions.c.status.label("order_status"),
        )
        .select_from(
            order_lines.outerjoin(
                by_line,
                sa.and_(by_line.c.tenant_id == order_lines.c.tenant_id, by_line.c.line_id == order_lines.c.line_id),
            ).outerjoin(
                order_versions,
                sa.and_(
                    order_versions.c.tenant_id == order_lines.c.tenant_id,
                    order_versions.c.order_id == order_lines.c.order_id,
                ),
            )
        )
        .where(
            order_lines.c.warehouse_id.is_not(None),
            sa.or_(
                ledger_total != expected,
                sa.and_(order_lines.c.state == "released", order_lines.c.reserved != 0),
                closed,
            ),
        )
    )
    return [
        {
            "tenant_id": r.tenant_id,
            "warehouse_id": r.warehouse_id,
            "sku": r.sku,
            "order_id": r.order_id,
            "line_id": r.line_id,
            "state": r.state,
            "reserved": int(r.reserved),
            "ledger": int(r.ledger),
            "order_status": r.order_status or "",
        }
        for r in rows
    ]


async def _item_totals(conn: AsyncConnection, tenant: str, wh: str, sku: str) -> dict[str, Any]:
    where = (stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)
    reserved = await conn.scalar(sa.select(stock.c.reserved).where(*where))
    ledger = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(reserve_ledger.c.quantity), 0)).where(
            reserve_ledger.c.tenant_id == tenant, reserve_ledger.c.warehouse_id == wh, reserve_ledger.c.sku == sku
        )
    )
    active = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(order_lines.c.reserved), 0)).where(
            order_lines.c.tenant_id == tenant,
            order_lines.c.warehouse_id == wh,
            order_lines.c.sku == sku,
            order_lines.c.state == "active",
        )
    )
    held = await conn.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(holds.c.quantity), 0)).where(
            holds.c.tenant_id == tenant, holds.c.warehouse_id == wh, holds.c.sku == sku
        )
    )
    return {
        "tenant_id": tenant,
        "warehouse_id": wh,
        "sku": sku,
        "projection": int(reserved or 0),
        "ledger": int(ledger or 0),
        "holders": int(active or 0) + int(held or 0),
        "lines": [],
    }
