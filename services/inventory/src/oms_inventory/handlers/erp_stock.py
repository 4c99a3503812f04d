"""Stock from the ERP (``erp.stock_imported``, R-ERP-2, R-ERP-4): the ERP wins over on hand and Integration reserves.

A full snapshot speaks for the warehouses it lists: what it omits there is zeroed. One too big for a message
comes in ``parts`` events sharing a ``snapshot_id``: each part's items apply when it arrives, what the parts
listed is kept in ``erp_snapshot_items`` and the parts received in ``erp_snapshot_parts``; when the last part
has arrived (in any order), what no part listed is zeroed like a one-event snapshot does it, and both tables
forget the snapshot. A part received again applies nothing. The bridge puts one warehouse in a snapshot and
keys its events by the warehouse, so the parts share a partition and are handled one after another.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import erp_snapshot_items, erp_snapshot_parts, stock, warehouses
from oms_inventory.domain import QuantityError, parse_quantity, to_units
from oms_inventory.handlers.support import MAX_SKU, upsert_product
from oms_inventory.reserves import (
    Effects,
    ensure_stock_row,
    hold_quantity,
    lock_items,
    set_hold,
    shrink_order_reserves,
)
from oms_shared.contracts import ErpStockImportedData, ErpStockItem
from oms_shared.db import utcnow

log = logging.getLogger(__name__)

# (warehouse id, SKU) → (on hand, Integration reserve), in thousandths of a unit.
Targets = dict[tuple[str, str], tuple[int, int]]


async def apply_erp_stock(conn: AsyncConnection, eff: Effects, data: ErpStockImportedData) -> None:
    """Changes, a full snapshot in one event, or one part of a full snapshot in several."""
    if data.mode == "full" and data.parts > 1:
        await apply_snapshot_part(conn, eff, data)
        return
    targets = await erp_targets(conn, eff.tenant_id, data.items, eff.products)
    covered = sorted({wh for wh, _ in targets})
    await mark_erp_fed(conn, eff.tenant_id, covered)
    if data.mode == "full" and covered:
        # Warehouses the ERP does not report (kept by hand) are left alone.
        existing = await conn.execute(
            sa.select(stock.c.warehouse_id, stock.c.sku).where(
                stock.c.tenant_id == eff.tenant_id, stock.c.warehouse_id.in_(covered)
            )
        )
        for wh, sku in existing:
            targets.setdefault((wh, sku), (0, 0))
    await apply_targets(conn, eff, targets)


async def apply_snapshot_part(conn: AsyncConnection, eff: Effects, data: ErpStockImportedData) -> None:
    """Apply one part of a full snapshot; the last part to arrive zeroes what no part listed."""
    tenant, snapshot_id = eff.tenant_id, data.snapshot_id
    if not await _claim_part(conn, tenant, data):
        log.info("erp snapshot %s part %d/%d received again: ignored", snapshot_id, data.part, data.parts)
        return
    targets = await erp_targets(conn, tenant, data.items, eff.products)
    await mark_erp_fed(conn, tenant, sorted({wh for wh, _ in targets}))
    await apply_targets(conn, eff, targets)
    await _record_listed(conn, tenant, snapshot_id, targets)
    received = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(erp_snapshot_parts)
        .where(erp_snapshot_parts.c.tenant_id == tenant, erp_snapshot_parts.c.snapshot_id == snapshot_id)
    )
    if int(received or 0) < data.parts:
        return
    omitted = await _omitted(conn, tenant, snapshot_id)
    await apply_targets(conn, eff, dict.fromkeys(omitted, (0, 0)))
    for table in (erp_snapshot_items, erp_snapshot_parts):
        await conn.execute(table.delete().where(table.c.tenant_id == tenant, table.c.snapshot_id == snapshot_id))
    log.info("erp snapshot %s complete (%d parts): %d items zeroed", snapshot_id, data.parts, len(omitted))


async def mark_erp_fed(conn: AsyncConnection, tenant: str, warehouse_ids: Sequence[str]) -> None:
    """The ERP reports stock for these warehouses: from now on their on hand is the ERP's figure, and shipping
    in OMS only releases reserves there (ADR 013)."""
    if warehouse_ids:
        await conn.execute(
            warehouses.update()
            .where(
                warehouses.c.tenant_id == tenant,
                warehouses.c.warehouse_id.in_(list(warehouse_ids)),
                warehouses.c.erp_fed.is_(False),
            )
            .values(erp_fed=True, updated_at=utcnow())
        )


async def erp_targets(
    conn: AsyncConnection, tenant: str, items: Sequence[ErpStockItem], changed: set[str] | None = None
) -> Targets:
    """The usable items of the tenant's warehouses; each one's product is created or renamed on the way (their
    SKUs go into ``changed``). An item without ``integration_reserved`` keeps the Integration reserve it has."""
    own = set(
        (await conn.execute(sa.select(warehouses.c.warehouse_id).where(warehouses.c.tenant_id == tenant))).scalars()
    )
    targets: Targets = {}
    for item in items:
        wh = str(item.warehouse_id)
        if not item.sku or len(item.sku) > MAX_SKU:
            log.warning("erp stock row with unusable SKU %r skipped", item.sku[:200])
            continue
        if wh not in own:
            log.warning("erp stock for unknown warehouse %s (sku %s) skipped", wh, item.sku)
            continue
        try:
            on_hand = to_units(parse_quantity(item.on_hand))
            if item.integration_reserved is None:  # not reported: the Integration reserve stays
                integ = await hold_quantity(conn, tenant, wh, item.sku, "integration")
            else:
                integ = to_units(parse_quantity(item.integration_reserved))
        except QuantityError as exc:
            log.warning("erp stock row %s/%s skipped: %s", wh, item.sku, exc.message)
            continue
        targets[(wh, item.sku)] = (on_hand, min(integ, on_hand))
        if await upsert_product(conn, tenant, item.sku, item.name or None, item.unit or None) and changed is not None:
            changed.add(item.sku)
    return targets


async def apply_targets(conn: AsyncConnection, eff: Effects, targets: Targets) -> None:
    for (wh, sku), (on_hand, integ) in sorted(targets.items()):
        await apply_erp_item(conn, eff, wh, sku, on_hand, integ)


async def apply_erp_item(conn: AsyncConnection, eff: Effects, wh: str, sku: str, on_hand: int, integ: int) -> None:
    """Set on hand and the Integration reserve of one item; when stock shrank below the reserves,
    the newest order reserves give way, then manual ones (the ERP is the source of truth for stock)."""
    tenant = eff.tenant_id
    await ensure_stock_row(conn, tenant, wh, sku)
    await lock_items(conn, tenant, [(wh, sku)])
    cur = (
        await conn.execute(
            sa.select(stock.c.on_hand, stock.c.reserved).where(
                stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku
            )
        )
    ).one()
    cur_integ = await hold_quantity(conn, tenant, wh, sku, "integration")
    if integ < cur_integ:
        await set_hold(conn, eff, wh, sku, "integration", integ, "erp")
        cur_integ = integ
    reserved_now = await conn.scalar(
        sa.select(stock.c.reserved).where(stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)
    )
    others = int(reserved_now or 0) - cur_integ
    excess = others - (on_hand - integ)
    if excess > 0:
        excess -= await shrink_order_reserves(conn, eff, wh, sku, excess)
    if excess > 0:
        manual = await hold_quantity(conn, tenant, wh, sku, "manual")
        await set_hold(conn, eff, wh, sku, "manual", max(0, manual - excess), "reduced: ERP reported less stock")
    if on_hand != cur.on_hand:
        await conn.execute(
            stock.update()
            .where(stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)
            .values(on_hand=on_hand, updated_at=utcnow())
        )
        eff.items.add((wh, sku))
        if on_hand > cur.on_hand:
            eff.freed.add((wh, sku))
    if integ > cur_integ and not await set_hold(conn, eff, wh, sku, "integration", integ, "erp"):
        raise RuntimeError(f"integration reserve of {wh}:{sku} does not fit after shrinking")


async def _claim_part(conn: AsyncConnection, tenant: str, data: ErpStockImportedData) -> bool:
    """Record that this part arrived; False when it already had (under another event id)."""
    parts = erp_snapshot_parts
    seen = await conn.scalar(
        sa.select(parts.c.part).where(
            parts.c.tenant_id == tenant, parts.c.snapshot_id == data.snapshot_id, parts.c.part == data.part
        )
    )
    if seen is not None:
        return False
    await conn.execute(
        parts.insert().values(
            tenant_id=tenant, snapshot_id=data.snapshot_id, part=data.part, parts=data.parts, received_at=utcnow()
        )
    )
    return True


async def _record_listed(conn: AsyncConnection, tenant: str, snapshot_id: str, targets: Targets) -> None:
    if not targets:
        return
    rows = [{"tenant_id": tenant, "snapshot_id": snapshot_id, "warehouse_id": wh, "sku": sku} for wh, sku in targets]
    dialect: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
    await conn.execute(dialect.insert(erp_snapshot_items).on_conflict_do_nothing(), rows)  # a SKU in two parts


async def _omitted(conn: AsyncConnection, tenant: str, snapshot_id: str) -> list[tuple[str, str]]:
    """Items with stock in the warehouses the snapshot listed that none of its parts listed. Rows already at
    zero are left out: zeroing them changes nothing (no stock means no reserves)."""
    listed = erp_snapshot_items
    of_snapshot = (listed.c.tenant_id == tenant, listed.c.snapshot_id == snapshot_id)
    covered = sa.select(listed.c.warehouse_id).where(*of_snapshot).distinct()
    is_listed = sa.exists().where(
        *of_snapshot, listed.c.warehouse_id == stock.c.warehouse_id, listed.c.sku == stock.c.sku
    )
    rows = await conn.execute(
        sa.select(stock.c.warehouse_id, stock.c.sku).where(
            stock.c.tenant_id == tenant, stock.c.warehouse_id.in_(covered), stock.c.on_hand > 0, ~is_listed
        )
    )
    return [(wh, sku) for wh, sku in rows]


async def expire_snapshots(conn: AsyncConnection, older_than: datetime) -> list[dict[str, Any]]:
    """Forget snapshots whose parts did not all arrive before ``older_than`` (the ERP gave up or lost them).

    What their parts applied stays; nothing is zeroed for them, so no stock is lost to a snapshot that never
    completed. Returns the snapshots forgotten (tenant, snapshot id, parts received of parts), for the log.
    """
    stale = (
        await conn.execute(
            sa.select(
                erp_snapshot_parts.c.tenant_id,
                erp_snapshot_parts.c.snapshot_id,
                erp_snapshot_parts.c.parts,
                sa.func.count().label("received"),
            )
            .group_by(erp_snapshot_parts.c.tenant_id, erp_snapshot_parts.c.snapshot_id, erp_snapshot_parts.c.parts)
            .having(sa.func.max(erp_snapshot_parts.c.received_at) < older_than)
        )
    ).all()
    for row in stale:
        for table in (erp_snapshot_items, erp_snapshot_parts):
            await conn.execute(
                table.delete().where(table.c.tenant_id == row.tenant_id, table.c.snapshot_id == row.snapshot_id)
            )
        log.warning(
            "erp snapshot %s (tenant %s) forgotten: %d of %d parts arrived; nothing it omitted was zeroed",
            row.snapshot_id,
            row.tenant_id,
            row.received,
            row.parts,
        )
    return [
        {"tenant_id": r.tenant_id, "snapshot_id": r.snapshot_id, "received": r.received, "parts": r.parts}
        for r in stale
    ]
