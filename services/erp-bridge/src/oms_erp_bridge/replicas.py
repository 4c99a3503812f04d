"""Replicas the exchange needs, fed by events: orders (what the ERP must learn), buyers, warehouses.

An order becomes *exportable* when it is confirmed; from then on every change raises its ``version`` and the
order waits for the next exchange until the ERP takes that version (``exported_version``). Changes the ERP
made itself (``by_side == erp``) are recorded but do not send the order back. Events of one order carry its
sequence; an older snapshot than the one applied changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from oms_erp_bridge.db import buyers, orders, warehouses
from oms_shared import money
from oms_shared.contracts import (
    BuyerUpdatedV1,
    OrderChangedV1,
    OrderLine,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedV1,
    Side,
    WarehouseUpdatedV1,
)
from oms_shared.db import Tx
from oms_shared.errors import NotYet

EXPORTABLE_FROM = {OrderStatus.CONFIRMED, OrderStatus.SHIPPED}


def total_of(lines: list[OrderLine]) -> str:
    """The order's total from its lines, by the shared money rules (the events of a change carry no total)."""
    return str(money.order_total((line.quantity, line.price) for line in lines))


def lines_json(lines: list[OrderLine]) -> list[dict[str, Any]]:
    return [
        {
            "line_id": str(x.line_id),
            "sku": x.sku,
            "name": x.name,
            "unit": x.unit,
            "warehouse_id": str(x.warehouse_id) if x.warehouse_id else None,
            "quantity": str(x.quantity),
            "price": str(x.price),
            "vat_rate": str(x.vat_rate),
        }
        for x in lines
    ]


async def on_order_placed(event: OrderPlacedV1, tx: Tx) -> None:
    d = event.data
    exists = await tx.conn.scalar(sa.select(orders.c.order_id).where(orders.c.order_id == str(d.order_id)))
    if exists:
        return
    snapshot: dict[str, Any] = {
        "buyer_name": d.buyer_name,
        "lines": lines_json(d.lines),
        "total": total_of(d.lines),
        "comment": d.comment,
        "desired_shipment_date": d.desired_shipment_date.isoformat() if d.desired_shipment_date else None,
        "parent_order_id": str(d.parent_order_id) if d.parent_order_id else None,
        "attributes": {},
    }
    await tx.conn.execute(
        orders.insert().values(
            order_id=str(d.order_id),
            tenant_id=str(event.tenant_id),
            number=d.number,
            buyer_id=str(d.buyer_id),
            status=d.status.value,
            snapshot=json.dumps(snapshot, ensure_ascii=False),
            created_at=d.created_at,
            changed_at=d.created_at,
            exportable=d.status in EXPORTABLE_FROM,
            version=1,
            exported_version=0,
            exported_at=None,
            erp_number="",
            erp_version="",
            sequence=event.sequence,
        )
    )


async def _order(tx: Tx, order_id: str) -> Any:
    row = (await tx.conn.execute(sa.select(orders).where(orders.c.order_id == order_id))).first()
    if row is None:  # its order.placed travels on another topic and may come later
        raise NotYet(f"order {order_id}: no order.placed seen yet")
    return row


async def _save(
    tx: Tx, row: Any, event: OrderStatusChangedV1 | OrderChangedV1, snapshot: dict[str, Any], **values: Any
) -> None:
    by_erp = event.data.by_side == Side.ERP
    await tx.conn.execute(
        orders.update()
        .where(orders.c.order_id == row.order_id)
        .values(
            snapshot=json.dumps(snapshot, ensure_ascii=False),
            changed_at=event.data.changed_at,
            sequence=max(row.sequence, event.sequence),
            # A change made in the ERP is not sent back to it; the ERP's own version is the one taken.
            version=row.version if by_erp else row.version + 1,
            **values,
        )
    )


async def on_order_status_changed(event: OrderStatusChangedV1, tx: Tx) -> None:
    d = event.data
    row = await _order(tx, str(d.order_id))
    if event.sequence and event.sequence <= row.sequence:
        if d.to_status in EXPORTABLE_FROM and not row.exportable:
            # Confirmed once is a fact however late it comes (a parked confirmation retried after the rejection
            # that followed it): the order goes to the ERP as it is now, as when the events came in order.
            await tx.conn.execute(orders.update().where(orders.c.order_id == row.order_id).values(exportable=True))
        return
    snapshot = json.loads(row.snapshot)
    if d.lines:
        snapshot["lines"] = lines_json(d.lines)
        snapshot["total"] = total_of(d.lines)
    await _save(
        tx,
        row,
        event,
        snapshot,
        status=d.to_status.value,
        exportable=row.exportable or d.to_status in EXPORTABLE_FROM,
    )


async def on_order_changed(event: OrderChangedV1, tx: Tx) -> None:
    """Lines when they changed; per kind (payment, shipment date, ...) its newest attributes, even when a later
    event of the order was applied first (those carry lines and status, not these attributes)."""
    d = event.data
    row = await _order(tx, str(d.order_id))
    snapshot = json.loads(row.snapshot)
    kinds = snapshot.setdefault("attributes", {})
    newer_kind = d.attributes and int(kinds.get(d.kind, {}).get("_sequence", -1)) < event.sequence
    if newer_kind:
        kinds[d.kind] = {**{k: str(v) for k, v in d.attributes.items()}, "_sequence": event.sequence}
    if event.sequence and event.sequence <= row.sequence:
        if newer_kind:
            await tx.conn.execute(
                orders.update()
                .where(orders.c.order_id == row.order_id)
                .values(snapshot=json.dumps(snapshot, ensure_ascii=False))
            )
        return
    if d.lines is not None:  # a split, a move, an edit or an ERP cut: the total follows the lines
        snapshot["lines"] = lines_json(d.lines)
        snapshot["total"] = total_of(d.lines)
    # A split on confirmation may arrive before the order's status change (another topic) and carries the status:
    # it makes the order exportable too, or the older status change it overtook would leave it unsent for good.
    exportable = row.exportable or d.status in EXPORTABLE_FROM
    await _save(tx, row, event, snapshot, status=d.status.value, exportable=exportable)


async def on_buyer_updated(event: BuyerUpdatedV1, tx: Tx) -> None:
    d = event.data
    values = {"tenant_id": str(event.tenant_id), "name": d.name, "inn": d.inn, "kpp": d.kpp, "deleted": d.deleted}
    done = await tx.conn.execute(buyers.update().where(buyers.c.buyer_id == str(d.buyer_id)).values(**values))
    if not done.rowcount:
        await tx.conn.execute(buyers.insert().values(buyer_id=str(d.buyer_id), **values))


async def on_warehouse_updated(event: WarehouseUpdatedV1, tx: Tx) -> None:
    d = event.data
    values = {"tenant_id": str(event.tenant_id), "code": d.code, "name": d.name, "deleted": d.deleted}
    done = await tx.conn.execute(
        warehouses.update().where(warehouses.c.warehouse_id == str(d.warehouse_id)).values(**values)
    )
    if not done.rowcount:
        await tx.conn.execute(warehouses.insert().values(warehouse_id=str(d.warehouse_id), erp_id=None, **values))
