"""Event handlers of the inventory service: each runs in the consumer's transaction with the inbox row."""

from __future__ import annotations

import json

import sqlalchemy as sa

from oms_inventory.db import price_list_items, price_lists
from oms_inventory.handlers.erp_stock import apply_erp_stock
from oms_inventory.handlers.support import (
    HOLDING_STATUSES,
    MAX_SKU,
    InventoryMetrics,
    holds_any,
    holds_lines,
    line_targets,
)
from oms_inventory.reserves import (
    Effects,
    apply_order_lines,
    consume_order,
    fill_freed,
    publish_effects,
    release_order,
)
from oms_inventory.shipments import consume_shipped, shipped_now
from oms_shared.contracts import (
    ErpStockImportedV1,
    OrderChangedV1,
    OrderStatus,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
)
from oms_shared.db import Tx


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
        # A part shipped by the ERP leaves the warehouse first; the lines then hold only what is left to ship.
        await consume_shipped(tx.conn, eff, order_id, shipped_now(data.line_changes))
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
        """Stock and Integration reserves from the ERP (the ERP wins); a full snapshot zeroes what it omits,
        one in several parts once every part has arrived (``erp_stock``)."""
        eff = Effects(tenant_id=str(event.tenant_id), cause=str(event.event_id))
        await apply_erp_stock(tx.conn, eff, event.data)
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))
