"""Changes made in the ERP (``erp.order_changed``): the ERP wins, and the same events go out again."""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from oms_orders import domain
from oms_orders.db import order_history, order_lines, orders, price_list_items
from oms_orders.handlers.changes import Change, publish_changed
from oms_orders.handlers.common import d, dec
from oms_orders.handlers.orders import bump, change_status, lines_of, recompute, reload
from oms_shared.contracts import ErpOrderChangedV1, OrderStatus
from oms_shared.db import Tx, utcnow
from oms_shared.errors import PermanentError

log = logging.getLogger(__name__)
ERP = domain.Side.ERP


async def apply_erp_change(event: ErpOrderChangedV1, tx: Tx) -> None:
    """Apply lines, dates, payment and status from the ERP; a move the matrix forbids is reported, not forced."""
    data = event.data
    row = (await tx.conn.execute(sa.select(orders).where(orders.c.id == str(data.order_id)))).first()
    if row is None:
        raise PermanentError(f"ERP change for unknown order {data.order_id}")
    if row.supplier_id != str(event.tenant_id):
        raise PermanentError(f"ERP change for order {data.order_id} of another tenant")
    current = {x.id: x for x in await lines_of(tx.conn, row.id)}
    by_sku = {x.sku: x for x in current.values()}
    changes: list[Change] = []
    position = max((x.position for x in current.values()), default=0) + 1
    for change in data.lines:
        line = current.get(str(change.line_id)) if change.line_id else by_sku.get(change.sku)
        if line is None:
            if change.deleted or change.quantity is None:
                continue
            item = (
                await tx.conn.execute(
                    sa.select(price_list_items).where(
                        price_list_items.c.price_list_id == row.price_list_id, price_list_items.c.sku == change.sku
                    )
                )
            ).first()
            line_id = str(uuid.uuid4())
            await tx.conn.execute(
                order_lines.insert().values(
                    id=line_id,
                    order_id=row.id,
                    position=position,
                    sku=change.sku,
                    name=item.name if item else "",
                    unit=item.unit if item else "",
                    warehouse_id=None,
                    quantity=change.quantity,
                    price=change.price if change.price is not None else (item.price if item else 0),
                    vat_rate=change.vat_rate if change.vat_rate is not None else (item.vat_rate if item else 0),
                    additional=True,
                )
            )
            position += 1
            changes.append((line_id, change.sku, "added", None, dec(change.quantity)))
            continue
        if change.deleted:
            await tx.conn.execute(order_lines.delete().where(order_lines.c.id == line.id))
            changes.append((line.id, line.sku, "deleted", dec(line.quantity), None))
            continue
        values = {}
        quantity: Decimal | None = change.quantity
        if change.cancelled_quantity is not None and change.cancelled_quantity > 0:
            base = d(quantity if quantity is not None else line.quantity)
            quantity = max(base - change.cancelled_quantity, Decimal(0))
            changes.append((line.id, line.sku, "cancelled", None, dec(change.cancelled_quantity)))
        for field, new in (("quantity", quantity), ("price", change.price), ("vat_rate", change.vat_rate)):
            if new is not None and d(new) != d(getattr(line, field)):
                values[field] = new
                changes.append((line.id, line.sku, field, dec(getattr(line, field)), dec(new)))
        if change.shipped_quantity is not None:
            # What the ERP has shipped of the line in all, never more than the line holds (R-ERP-5).
            ordered = d(values.get("quantity", line.quantity))
            shipped = min(max(d(change.shipped_quantity), Decimal(0)), ordered)
            if shipped != d(line.shipped_quantity):
                values["shipped_quantity"] = shipped
                changes.append((line.id, line.sku, "shipped", dec(line.shipped_quantity), dec(shipped)))
        if values:
            await tx.conn.execute(order_lines.update().where(order_lines.c.id == line.id).values(**values))
    profile: dict[str, object] = {}
    if data.shipment_date is not None and data.shipment_date != row.shipment_date:
        profile["shipment_date"] = data.shipment_date
    if data.paid_amount is not None and d(data.paid_amount) != d(row.paid_amount):
        profile["paid_amount"] = data.paid_amount
    wanted = data.status
    if wanted is None and any(change[2] == "shipped" for change in changes):
        wanted = await _shipped_whole(tx, row)
    moves = wanted is not None and wanted.value != row.status
    if changes or profile:
        total, reserve = await recompute(tx.conn, row.id)
        row = await bump(tx.conn, row, total=total, reserve_status=reserve, **profile)
        await publish_changed(
            tx,
            row,
            "erp_applied",
            by_user_id=None,
            by_side=ERP,
            changes=changes,
            with_lines=bool(changes),
            attributes={
                "erp_document_id": data.erp_document_id,
                **({"caller": data.caller} if data.caller else {}),
                **{k: str(v) for k, v in profile.items()},
            },
        )
    if wanted is not None and moves:
        target = domain.Status(wanted.value)
        try:
            await change_status(
                tx,
                await reload(tx.conn, row.id),
                target,
                by_user_id=None,
                by_side=ERP,
                # Who sent it: "ERP (<exchange login>)" or the owner who called the ERP API.
                comment=(f"{data.caller}: " if data.caller else "") + (data.comment or "changed in the ERP"),
            )
        except domain.IllegalTransition as exc:
            row = await bump(tx.conn, await reload(tx.conn, row.id))
            await publish_changed(
                tx,
                row,
                "erp_conflict",
                by_user_id=None,
                by_side=ERP,
                attributes={
                    "wanted_status": target.value,
                    "reason": exc.message,
                    "erp_document_id": data.erp_document_id,
                },
            )
    elif data.comment:
        # What 1C said (once per new text, the bridge sees to that) while the status stays: on the order's history.
        await tx.conn.execute(
            order_history.insert().values(
                order_id=row.id,
                from_status=row.status,
                to_status=row.status,
                by_user_id=None,
                by_side=ERP.value,
                at=utcnow(),
                comment=data.comment,
            )
        )
    if data.conflict:
        # Both sides had changed the order: the ERP's document won (above); say what it overrode (R-ERP-3).
        row = await bump(tx.conn, await reload(tx.conn, row.id))
        await publish_changed(
            tx,
            row,
            "erp_conflict",
            by_user_id=None,
            by_side=ERP,
            attributes={"reason": data.conflict, "erp_document_id": data.erp_document_id},
        )


async def _shipped_whole(tx: Tx, row: Any) -> OrderStatus | None:
    """Shipped once every line with a quantity is shipped whole (R-ERP-5); a part shipped changes no status."""
    lines = [line for line in await lines_of(tx.conn, row.id) if d(line.quantity) > 0]
    if row.status == domain.Status.CONFIRMED.value and lines:
        if all(d(line.shipped_quantity) >= d(line.quantity) for line in lines):
            return OrderStatus.SHIPPED
    return None
