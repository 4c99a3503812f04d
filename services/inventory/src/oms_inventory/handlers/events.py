"""Event handlers of the inventory service: each runs in the consumer's transaction with the inbox row."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import order_lines, order_versions, price_list_items, price_lists
from oms_inventory.handlers.erp_stock import apply_erp_stock
from oms_inventory.handlers.support import (
    HOLDING_STATUSES,
    MAX_SKU,
    InventoryMetrics,
    holds_any,
    holds_lines,
    line_targets,
    publish_products,
)
from oms_inventory.reserves import (
    Effects,
    apply_order_lines,
    consume_order,
    fill_freed,
    insert_ignore,
    publish_effects,
    release_order,
)
from oms_inventory.shipments import consume_shipped, record_shipped
from oms_shared.contracts import (
    ErpStockImportedV1,
    OrderChangedV1,
    OrderLine,
    OrderStatus,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
)
from oms_shared.db import Tx, utcnow
from oms_shared.errors import NotYet

log = logging.getLogger(__name__)

CLOSED_STATUSES = {OrderStatus.SHIPPED, OrderStatus.REJECTED, OrderStatus.CANCELLED}


async def admit_order_event(
    conn: AsyncConnection,
    tenant: str,
    order_id: str,
    sequence: int,
    status: OrderStatus,
    line_ids: Iterable[str],
    *,
    carries_lines: bool = True,
) -> str:
    """Decide whether an order event applies, in the order's version order; returns "apply", "stale" or "closed".

    ``order_versions`` keeps the last version applied per order (the event's ``sequence``) and the status then;
    its row is locked, so two events of one order (they come on two topics) apply one after the other, also
    across processes. Every status change and line-carrying change of an open order is on the two topics this
    service reads, so versions of an open order follow one another:

    - older than the last applied: a replay or a late duplicate; a newer state already applied ("stale");
    - more than one ahead: an earlier event is still on its way; ``NotYet`` parks this one (ADR 009);
    - the first event seen of an order whose lines another order still holds: a part whose split has not
      arrived (its shipment or cancellation would find nothing to consume); parked too;
    - the first event seen of an order that carries no lines (a comment, a document) and is not the order's
      first change after placing (``order.placed``, version 1, is not read here): the change before it, which
      holds the order's state (a confirmation, say), is still on its way on the other topic; applied first, this
      one would make that confirmation look stale and the order would never be reserved. Parked too;
    - a closed order (shipped, rejected, cancelled) takes nothing more: a late confirmation or edit is ignored.

    An event without a sequence (0) is not ordered: only the closed-order rule applies to it.
    """
    await insert_ignore(
        conn,
        order_versions,
        {"tenant_id": tenant, "order_id": order_id, "version": 0, "status": "", "updated_at": utcnow()},
        ["tenant_id", "order_id"],
    )
    row = (
        await conn.execute(
            sa.select(order_versions.c.version, order_versions.c.status)
            .where(order_versions.c.tenant_id == tenant, order_versions.c.order_id == order_id)
            .with_for_update()
        )
    ).one()
    known = bool(row.status)
    if known and OrderStatus(row.status) in CLOSED_STATUSES:
        if sequence > row.version:
            await _record(conn, tenant, order_id, sequence, OrderStatus(row.status))
        return "closed"
    if sequence:
        if known and sequence < row.version:
            return "stale"
        if known and sequence > row.version + 1:
            raise NotYet(f"order {order_id}: version {row.version} applied, this event is version {sequence}")
        if not known and sequence > 2 and not carries_lines:
            raise NotYet(f"order {order_id}: version {sequence} carries no lines; earlier versions are on their way")
        if not known and sequence > 1 and await _held_elsewhere(conn, tenant, order_id, list(line_ids)):
            raise NotYet(f"order {order_id}: its lines are still held by another part (its split has not arrived)")
    await _record(conn, tenant, order_id, max(sequence, row.version), status)
    return "apply"


async def _record(conn: AsyncConnection, tenant: str, order_id: str, version: int, status: str) -> None:
    await conn.execute(
        order_versions.update()
        .where(order_versions.c.tenant_id == tenant, order_versions.c.order_id == order_id)
        .values(version=version, status=status, updated_at=utcnow())
    )


async def _held_elsewhere(conn: AsyncConnection, tenant: str, order_id: str, line_ids: list[str]) -> bool:
    if not line_ids:
        return False
    found = await conn.scalar(
        sa.select(sa.func.count()).where(
            order_lines.c.tenant_id == tenant,
            order_lines.c.line_id.in_(line_ids),
            order_lines.c.order_id != order_id,
            order_lines.c.state == "active",
        )
    )
    return bool(found)


async def queue_place(conn: AsyncConnection, tenant: str, order_ids: Iterable[str], default: datetime) -> datetime:
    """Where new lines of an order join the backorder queue: at the confirmation of the order they come from
    (its own earliest line, or a part's root among the related orders), else at ``default``."""
    ids = sorted(set(order_ids))
    first = await conn.scalar(
        sa.select(sa.func.min(order_lines.c.confirmed_at)).where(
            order_lines.c.tenant_id == tenant, order_lines.c.order_id.in_(ids)
        )
    )
    return min(first, default) if first is not None else default


async def apply_shipped_lines(
    conn: AsyncConnection,
    eff: Effects,
    order_id: str,
    lines: Sequence[OrderLine],
    *,
    confirmed_at: datetime,
    reason: str,
    kept_line_ids: Iterable[str] = (),
) -> list[tuple[int, int]]:
    """The order's lines as an event states them: what the ERP shipped since the lines last heard leaves the
    warehouse first (R-ERP-5), then the reserves follow what is left to ship (``apply_order_lines``)."""
    shipped = await consume_shipped(conn, eff, order_id, lines, line_targets(lines))
    outcome = await apply_order_lines(
        conn, eff, order_id, shipped.targets, confirmed_at=confirmed_at, reason=reason, kept_line_ids=kept_line_ids
    )
    await record_shipped(conn, eff.tenant_id, shipped.new_lines)
    return outcome


class EventHandlers:
    """Reactions to order, price-list and ERP events."""

    metrics: InventoryMetrics

    async def on_order_status_changed(self, event: OrderStatusChangedV1, tx: Tx) -> None:
        """Confirmed → reserve (R-RSV-1); rejected/cancelled → release (R-RSV-4); shipped → consume."""
        data = event.data
        eff = Effects(tenant_id=str(event.tenant_id), cause=str(event.event_id))
        order_id = str(data.order_id)
        verdict = await admit_order_event(
            tx.conn, eff.tenant_id, order_id, event.sequence, data.to_status, [str(x.line_id) for x in data.lines]
        )
        if verdict != "apply":
            self.metrics.order_events_skipped.labels(verdict).inc()
            log.info("order %s: %s event v%d (%s) skipped", order_id, verdict, event.sequence, data.to_status)
            return
        if data.to_status == OrderStatus.CONFIRMED:
            place = await queue_place(tx.conn, eff.tenant_id, [order_id], data.changed_at)
            lines = await apply_shipped_lines(tx.conn, eff, order_id, data.lines, confirmed_at=place, reason="reserved")
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
            place = await queue_place(tx.conn, eff.tenant_id, [order_id], data.changed_at)
            await apply_shipped_lines(tx.conn, eff, order_id, data.lines, confirmed_at=place, reason="adjusted")
        else:
            return
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    async def on_order_changed(self, event: OrderChangedV1, tx: Tx) -> None:
        """Lines of a reserved order were edited, moved or deleted: adjust its reserves."""
        data = event.data
        tenant = str(event.tenant_id)
        order_id = str(data.order_id)
        verdict = await admit_order_event(
            tx.conn,
            tenant,
            order_id,
            event.sequence,
            data.status,
            [str(x.line_id) for x in data.lines or []],
            carries_lines=data.lines is not None,
        )
        if verdict != "apply":
            self.metrics.order_events_skipped.labels(verdict).inc()
            log.info("order %s: %s event v%d (%s) skipped", order_id, verdict, event.sequence, data.kind)
            return
        if data.lines is None or data.status not in HOLDING_STATUSES:
            return
        targets = line_targets(data.lines)
        # A part split off a reserved order carries lines that already hold stock under the parent,
        # or (a coming-soon part) new lines that wait for stock: both are tracked from now on. A confirmed
        # order's lines are its reserves even when this change is the first event of it applied (its
        # confirmation came later than this newer state and was dropped as older).
        if (
            data.kind != "split"
            and data.status != OrderStatus.CONFIRMED
            and not await holds_any(tx.conn, tenant, order_id)
            and not await holds_lines(tx.conn, tenant, [t.line_id for t in targets])
        ):
            return
        eff = Effects(tenant_id=tenant, cause=str(event.event_id))
        kept = [str(c.line_id) for c in data.line_changes if c.field in ("moved", "split")]
        # New lines of a part (a coming-soon part's shortage) keep the place of the order they come from.
        related = [str(r) for r in data.related_order_ids]
        place = await queue_place(tx.conn, tenant, [order_id, *related], data.changed_at)
        await apply_shipped_lines(
            tx.conn, eff, order_id, data.lines, confirmed_at=place, reason="adjusted", kept_line_ids=kept
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
        await publish_products(tx, eff.tenant_id, sorted(eff.products))
