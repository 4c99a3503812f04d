"""Event handlers of the inventory service: each runs in the consumer's transaction with the inbox row."""

from __future__ import annotations

import json
import logging

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import price_list_items, price_lists, stock, warehouses
from oms_inventory.domain import QuantityError, parse_quantity, to_units
from oms_inventory.handlers.support import (
    HOLDING_STATUSES,
    MAX_SKU,
    InventoryMetrics,
    holds_any,
    holds_lines,
    line_targets,
    upsert_product,
)
from oms_inventory.reserves import (
    Effects,
    apply_order_lines,
    consume_order,
    ensure_stock_row,
    fill_freed,
    hold_quantity,
    publish_effects,
    release_order,
    set_hold,
    shrink_order_reserves,
)
from oms_shared.contracts import (
    ErpStockImportedV1,
    OrderChangedV1,
    OrderStatus,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
)
from oms_shared.db import Tx, utcnow

log = logging.getLogger(__name__)


class EventHandlers:
    """Reactions to order, price-list and ERP events."""

    metrics: InventoryMetrics

    async def on_order_status_changed(self, event: OrderStatusChangedV1, tx: Tx) -> None:
        """Confirmed → reserve (R-RSV-1); rejected/cancelled → release (R-RSV-4); shipped → consume."""
        data = event.data
        eff = Effects(tenant_id=str(event.tenant_id), cause=str(event.event_id))
        order_id = str(data.order_id)
        if data.to_status == OrderStatus.CONFIRMED:
            lines = await apply_order_lines(
                tx.conn, eff, order_id, line_targets(data.lines), confirmed_at=data.changed_at, reason="reserved"
            )
            if all(r >= q for q, r in lines):
                outcome = "full"
            elif any(r > 0 for _, r in lines):
                outcome = "partial"
            else:
                outcome = "none"
            self.metrics.reservations.labels(outcome).inc()
        elif data.to_status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            await release_order(tx.conn, eff, order_id)
        elif data.to_status == OrderStatus.SHIPPED:
            await consume_order(tx.conn, eff, order_id)
        elif data.to_status in HOLDING_STATUSES and data.lines and await holds_any(tx.conn, eff.tenant_id, order_id):
            await apply_order_lines(
                tx.conn, eff, order_id, line_targets(data.lines), confirmed_at=data.changed_at, reason="adjusted"
            )
        else:
            return
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    async def on_order_changed(self, event: OrderChangedV1, tx: Tx) -> None:
        """Lines of a reserved order were edited, moved or deleted: adjust its reserves."""
        data = event.data
        if data.lines is None or data.status not in HOLDING_STATUSES:
            return
        tenant = str(event.tenant_id)
        order_id = str(data.order_id)
        targets = line_targets(data.lines)
        # A part split off a reserved order carries lines that already hold stock under the parent,
        # or (a coming-soon part) new lines that wait for stock: both are tracked from now on.
        if (
            data.kind != "split"
            and not await holds_any(tx.conn, tenant, order_id)
            and not await holds_lines(tx.conn, tenant, [t.line_id for t in targets])
        ):
            return
        eff = Effects(tenant_id=tenant, cause=str(event.event_id))
        kept = [str(c.line_id) for c in data.line_changes if c.field in ("moved", "split")]
        await apply_order_lines(
            tx.conn, eff, order_id, targets, confirmed_at=data.changed_at, reason="adjusted", kept_line_ids=kept
        )
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    async def on_price_list_updated(self, event: PriceListUpdatedV1, tx: Tx) -> None:
        """Keep the local replica of a price list (its SKUs and linked warehouses), newest snapshot wins."""
        data = event.data
        pid = str(data.price_list_id)
        row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.price_list_id == pid))).first()
        if row is not None and row.updated_at > event.occurred_at:
            return
        values = {
            "tenant_id": str(event.tenant_id),
            "name": data.name,
            "warehouse_ids": json.dumps([str(w) for w in data.warehouse_ids]),
            "deleted": data.deleted,
            "updated_at": event.occurred_at,
            "buyer_account_ids": json.dumps(sorted({str(a) for a in data.buyer_account_ids})),
        }
        if row is None:
            await tx.conn.execute(price_lists.insert().values(price_list_id=pid, **values))
        else:
            await tx.conn.execute(price_lists.update().where(price_lists.c.price_list_id == pid).values(**values))
        await tx.conn.execute(price_list_items.delete().where(price_list_items.c.price_list_id == pid))
        seen: set[str] = set()
        rows = []
        for pos, item in enumerate(data.items):
            if item.sku in seen or not item.sku or len(item.sku) > MAX_SKU:
                continue
            seen.add(item.sku)
            rows.append(
                {
                    "price_list_id": pid,
                    "sku": item.sku,
                    "position": pos,
                    "name": item.name[:300],
                    "unit": item.unit[:30],
                }
            )
        if rows:
            await tx.conn.execute(price_list_items.insert(), rows)

    async def on_erp_stock_imported(self, event: ErpStockImportedV1, tx: Tx) -> None:
        """Stock and Integration reserves from the ERP (the ERP wins); a full snapshot zeroes what it omits."""
        tenant = str(event.tenant_id)
        conn = tx.conn
        eff = Effects(tenant_id=tenant, cause=str(event.event_id))
        own = set(
            (await conn.execute(sa.select(warehouses.c.warehouse_id).where(warehouses.c.tenant_id == tenant))).scalars()
        )
        wanted: dict[tuple[str, str], tuple[int, int]] = {}
        for item in event.data.items:
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
            wanted[(wh, item.sku)] = (on_hand, min(integ, on_hand))
            await upsert_product(conn, tenant, item.sku, item.name or None, item.unit or None)
        covered = sorted({wh for wh, _ in wanted})
        if event.data.mode == "full" and covered:
            # A full snapshot speaks for the warehouses it lists: what it omits there is gone. Warehouses
            # the ERP does not report (kept by hand) are left alone.
            existing = await conn.execute(
                sa.select(stock.c.warehouse_id, stock.c.sku).where(
                    stock.c.tenant_id == tenant, stock.c.warehouse_id.in_(covered)
                )
            )
            for wh, sku in existing:
                wanted.setdefault((wh, sku), (0, 0))
        for (wh, sku), (on_hand, integ) in sorted(wanted.items()):
            await apply_erp_item(conn, eff, wh, sku, on_hand, integ)
        await fill_freed(conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))


async def apply_erp_item(conn: AsyncConnection, eff: Effects, wh: str, sku: str, on_hand: int, integ: int) -> None:
    """Set on hand and the Integration reserve of one item; when stock shrank below the reserves,
    the newest order reserves give way, then manual ones (the ERP is the source of truth for stock)."""
    tenant = eff.tenant_id
    await ensure_stock_row(conn, tenant, wh, sku)
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
