"""Orders: placing (R-IN-1/4), reading, the status matrix at work (R-ST-1..3) and reserves."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import domain, numbering, schemas
from oms_orders.db import (
    accounts,
    buyers,
    order_history,
    order_lines,
    orders,
    price_list_items,
    warehouses,
)
from oms_orders.handlers.catalog import price_list_for
from oms_orders.handlers.common import (
    check_if_match,
    d,
    dec,
    fold,
    iso,
    load_ids,
    order_for,
    refuse_past_date,
    side_of,
    user_names,
)
from oms_shared.auth import Principal
from oms_shared.contracts import (
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    make_event,
)
from oms_shared.contracts import Side as ContractSide
from oms_shared.db import Database, Tx, declare_outcome, utcnow
from oms_shared.errors import NotFound, PreconditionFailed

PRODUCER = "orders"


# ---------------------------------------------------------------- reading


async def lines_of(conn: AsyncConnection, order_id: str) -> list[sa.Row[Any]]:
    return list(
        (
            await conn.execute(
                sa.select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.position)
            )
        ).all()
    )


@dataclass(frozen=True)
class WrittenLine:
    """An order line as just inserted; reads like a row of ``order_lines`` (saves reading it back)."""

    id: str
    order_id: str
    position: int
    sku: str
    name: str
    unit: str
    warehouse_id: str | None
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal
    additional: bool = False
    reserved: Decimal = Decimal(0)
    shortage: Decimal = Decimal(0)
    shipped_quantity: Decimal = Decimal(0)


def line_json(line: Any, vat_included: bool = True, warehouse_names: dict[str, str] | None = None) -> dict[str, Any]:
    amount = domain.line_amount(d(line.quantity), d(line.price))
    vat = domain.line_vat(amount, d(line.vat_rate), vat_included=vat_included)
    return {
        "line_id": line.id,
        "sku": line.sku,
        "name": line.name,
        "unit": line.unit,
        "warehouse_id": line.warehouse_id,
        "warehouse_name": (warehouse_names or {}).get(line.warehouse_id or "", ""),
        "quantity": dec(line.quantity),
        "price": dec(line.price),
        "vat_rate": dec(line.vat_rate),
        "amount": dec(amount),
        "vat_amount": dec(vat),
        # As Russian documents show a line: without VAT, the VAT, and with VAT.
        "net_amount": dec(amount - vat if vat_included else amount),
        "gross_amount": dec(amount if vat_included else amount + vat),
        "additional": line.additional,
        "reserved": dec(line.reserved),
        "shortage": dec(line.shortage),
        "shipped": dec(line.shipped_quantity),  # what the ERP has shipped of the line so far (R-ERP-5)
    }


def vat_mode(vat_included: bool) -> str:
    """How the order's prices treat VAT: "included" ("в т.ч. НДС") or "on_top" ("НДС сверху")."""
    return "included" if vat_included else "on_top"


def money_fields(row: sa.Row[Any], lines: Sequence[Any]) -> dict[str, Any]:
    """The money an event tells besides ``total`` (what the buyer pays): currency, VAT mode, VAT and net."""
    vat = sum(
        (
            domain.line_vat(domain.line_amount(d(x.quantity), d(x.price)), d(x.vat_rate), vat_included=row.vat_included)
            for x in lines
        ),
        Decimal(0),
    )
    return {
        "currency": row.currency,
        "vat_included": row.vat_included,
        "vat_amount": vat,
        "net_total": d(row.total) - vat,
    }


def history_json(h: Any, names: dict[str, str]) -> dict[str, Any]:
    return {
        "from": h.from_status,
        "to": h.to_status,
        "by_user_id": h.by_user_id,
        "by_user_name": names.get(h.by_user_id or "", ""),
        "by_side": h.by_side,
        "at": iso(h.at),
        "comment": h.comment,
    }


def order_body(
    row: sa.Row[Any],
    *,
    supplier_name: str | None,
    lines: Sequence[Any],
    history: list[dict[str, Any]],
    part_ids: list[str],
    principal: Principal | None = None,
    responsible_name: str = "",
    warehouse_names: dict[str, str] | None = None,
    parts: list[dict[str, Any]] | None = None,
    parent_order_number: str | None = None,
) -> dict[str, Any]:
    """The order as the API shows it, from rows already at hand (no I/O)."""
    status = domain.Status(row.status)
    line_items = [line_json(line, row.vat_included, warehouse_names) for line in lines]
    vat_total = sum((Decimal(x["vat_amount"]) for x in line_items), Decimal(0))
    body: dict[str, Any] = {
        "order_id": row.id,
        "number": row.number,
        "status": row.status,
        "version": row.version,
        "supplier_id": row.supplier_id,
        "supplier_name": supplier_name,
        "buyer_id": row.buyer_id,
        "buyer_account_id": row.buyer_account_id,
        "buyer_name": row.buyer_name,
        "price_list_id": row.price_list_id,
        "price_list_name": row.price_list_name,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "status_changed_at": iso(row.status_changed_at),
        "desired_shipment_date": iso(row.desired_shipment_date),
        "shipment_date": iso(row.shipment_date),
        "comment": row.comment,
        "one_shipment": row.one_shipment,
        "responsible_user_id": row.responsible_user_id,
        "responsible_user_name": responsible_name,
        "paid_amount": dec(row.paid_amount),
        "total": dec(row.total),
        "overdue": row.overdue,
        "rejected": status == domain.Status.REJECTED,
        "lines": line_items,
        "vat_amount": dec(vat_total),
        "currency": row.currency,
        "vat_mode": vat_mode(row.vat_included),
        "net_total": dec(d(row.total) - vat_total),
        "gross_total": dec(row.total),
        "reserve_status": row.reserve_status,
        "parent_order_id": row.parent_order_id,
        "parent_order_number": parent_order_number,
        "part_ids": part_ids,
        "parts": parts or [],
        "history": history,
    }
    if principal is not None:
        side = side_of(principal)
        may_change = principal.is_buyer or principal.has("orders", "change")
        moves = domain.allowed_transitions(status, side, may_change=may_change)
        body["next_statuses"] = [m["to"] for m in moves]
        body["allowed_transitions"] = moves
        may_comment = principal.is_buyer or (principal.has("orders", "change") and principal.has("buyers", "change"))
        body["allowed_actions"] = domain.allowed_actions(status, side, may_change=may_change, may_comment=may_comment)
    return body


async def warehouse_names_of(conn: AsyncConnection, warehouse_ids: Any) -> dict[str, str]:
    """The names of warehouses (inventory's, replicated here) by id; unknown ones are left out."""
    wanted = sorted({str(w) for w in warehouse_ids if w})
    if not wanted:
        return {}
    rows = await conn.execute(sa.select(warehouses.c.id, warehouses.c.name).where(warehouses.c.id.in_(wanted)))
    return {r.id: r.name for r in rows}


async def order_json(conn: AsyncConnection, row: sa.Row[Any], principal: Principal | None = None) -> dict[str, Any]:
    lines = await lines_of(conn, row.id)
    history = (
        await conn.execute(
            sa.select(order_history).where(order_history.c.order_id == row.id).order_by(order_history.c.id)
        )
    ).all()
    part_rows = (
        await conn.execute(
            sa.select(orders.c.id, orders.c.number, orders.c.status, orders.c.total, orders.c.currency)
            .where(orders.c.parent_order_id == row.id)
            .order_by(orders.c.number)
        )
    ).all()
    part_ids = [r.id for r in part_rows]
    parts = [
        {"order_id": r.id, "number": r.number, "status": r.status, "total": dec(r.total), "currency": r.currency}
        for r in part_rows
    ]
    parent_number = (
        await conn.scalar(sa.select(orders.c.number).where(orders.c.id == row.parent_order_id))
        if row.parent_order_id
        else None
    )
    supplier_name = await conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == row.supplier_id))
    names = await user_names(conn, [*(h.by_user_id for h in history), row.responsible_user_id])
    return order_body(
        row,
        supplier_name=supplier_name,
        lines=lines,
        history=[history_json(h, names) for h in history],
        part_ids=part_ids,
        principal=principal,
        responsible_name=names.get(row.responsible_user_id or "", ""),
        warehouse_names=await warehouse_names_of(conn, [line.warehouse_id for line in lines]),
        parts=parts,
        parent_order_number=parent_number,
    )


async def get_order(db: Database, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        return await order_json(conn, row, principal)


# ---------------------------------------------------------------- events


def contract_lines(lines: Sequence[Any]) -> list[OrderLine]:
    return [
        OrderLine(
            line_id=uuid.UUID(line.id),
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            warehouse_id=uuid.UUID(line.warehouse_id) if line.warehouse_id else None,
            quantity=d(line.quantity),
            price=d(line.price),
            vat_rate=d(line.vat_rate),
            additional=line.additional,
            shipped_quantity=d(line.shipped_quantity),
        )
        for line in lines
    ]


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


async def publish_placed(
    tx: Tx, row: sa.Row[Any], by_user_id: str | None, by_side: domain.Side, lines: Sequence[Any] | None = None
) -> None:
    if lines is None:
        lines = await lines_of(tx.conn, row.id)
    data = OrderPlacedData(
        order_id=uuid.UUID(row.id),
        number=row.number,
        parent_order_id=_uuid(row.parent_order_id),
        buyer_id=uuid.UUID(row.buyer_id),
        buyer_account_id=_uuid(row.buyer_account_id),
        buyer_name=row.buyer_name,
        price_list_id=_uuid(row.price_list_id),
        status=OrderStatus(row.status),
        lines=contract_lines(lines),
        total=d(row.total),
        desired_shipment_date=row.desired_shipment_date,
        comment=row.comment,
        one_shipment=row.one_shipment,
        responsible_user_id=_uuid(row.responsible_user_id),
        placed_by_user_id=_uuid(by_user_id),
        placed_by_side=ContractSide(by_side.value),
        created_at=row.created_at,
        **money_fields(row, lines),
    )
    await tx.publish(
        make_event(
            OrderPlacedV1,
            tenant_id=uuid.UUID(row.supplier_id),
            aggregate_id=row.id,
            data=data,
            sequence=row.version,
            producer=PRODUCER,
        )
    )


async def publish_status_changed(
    tx: Tx,
    row: sa.Row[Any],
    from_status: domain.Status | None,
    by_user_id: str | None,
    by_side: domain.Side,
    comment: str,
    at: datetime,
) -> None:
    lines = await lines_of(tx.conn, row.id)
    data = OrderStatusChangedData(
        order_id=uuid.UUID(row.id),
        number=row.number,
        buyer_id=uuid.UUID(row.buyer_id),
        buyer_account_id=_uuid(row.buyer_account_id),
        from_status=OrderStatus(from_status.value) if from_status else None,
        to_status=OrderStatus(row.status),
        by_user_id=_uuid(by_user_id),
        by_side=ContractSide(by_side.value),
        comment=comment,
        one_shipment=row.one_shipment,
        responsible_user_id=_uuid(row.responsible_user_id),
        total=d(row.total),
        lines=contract_lines(lines),
        changed_at=at,
        **money_fields(row, lines),
    )
    await tx.publish(
        make_event(
            OrderStatusChangedV1,
            tenant_id=uuid.UUID(row.supplier_id),
            aggregate_id=row.id,
            data=data,
            sequence=row.version,
            producer=PRODUCER,
        )
    )


async def reload(conn: AsyncConnection, order_id: str) -> sa.Row[Any]:
    return (await conn.execute(sa.select(orders).where(orders.c.id == order_id))).one()


async def bump(conn: AsyncConnection, row: sa.Row[Any], **values: Any) -> sa.Row[Any]:
    """Write ``values`` with the next version, guarded by the version read (R-ED-4), and reload."""
    result = await conn.execute(
        orders.update()
        .where(orders.c.id == row.id, orders.c.version == row.version)
        .values(version=row.version + 1, updated_at=values.pop("updated_at", utcnow()), **values)
    )
    if result.rowcount != 1:
        raise PreconditionFailed("the order changed at the same time; reload and retry", code="stale_version")
    return await reload(conn, row.id)


async def change_status(
    tx: Tx,
    row: sa.Row[Any],
    target: domain.Status,
    *,
    by_user_id: str | None,
    by_side: domain.Side,
    comment: str = "",
) -> sa.Row[Any]:
    """Apply one legal transition: new version, history row (R-ST-2) and ``order.status_changed``."""
    current = domain.Status(row.status)
    domain.check_transition(current, target, by_side)
    now = utcnow()
    row = await bump(
        tx.conn, row, status=target.value, status_changed_at=now, updated_at=now, overdue=False, overdue_since=None
    )
    if target is domain.Status.SHIPPED:  # a shipped order has shipped every line whole, however it got there
        await tx.conn.execute(
            order_lines.update().where(order_lines.c.order_id == row.id).values(shipped_quantity=order_lines.c.quantity)
        )
    await tx.conn.execute(
        order_history.insert().values(
            order_id=row.id,
            from_status=current.value,
            to_status=target.value,
            by_user_id=by_user_id,
            by_side=by_side.value,
            at=now,
            comment=comment,
        )
    )
    await publish_status_changed(tx, row, current, by_user_id, by_side, comment, now)
    return row


# ---------------------------------------------------------------- placing


async def price_items(conn: AsyncConnection, price_list_id: str) -> dict[str, domain.PriceItem]:
    rows = await conn.execute(sa.select(price_list_items).where(price_list_items.c.price_list_id == price_list_id))
    return {r.sku: domain.PriceItem(r.sku, r.name, r.unit, d(r.price), d(r.vat_rate)) for r in rows}


async def insert_order(
    tx: Tx,
    *,
    supplier_id: str,
    buyer: sa.Row[Any],
    price_list: sa.Row[Any],
    lines: list[domain.ValidLine],
    status: domain.Status,
    by_user_id: str,
    by_side: domain.Side,
    desired_shipment_date: Any = None,
    comment: str = "",
    one_shipment: bool = False,
) -> tuple[sa.Row[Any], list[WrittenLine]]:
    """Create an order with its lines, its first history row and ``order.placed``."""
    counter = await numbering.next_number(tx.conn, supplier_id)  # R-IN-4, ADR 015
    order_id = str(uuid.uuid4())
    now = utcnow()
    managers = load_ids(buyer.manager_user_ids)
    total = domain.order_total(
        [(line.quantity, line.price) for line in lines],
        [line.vat_rate for line in lines],
        vat_included=price_list.vat_included,
    )
    await tx.conn.execute(
        orders.insert().values(
            id=order_id,
            supplier_id=supplier_id,
            number=domain.format_number(counter),
            root_number=counter,
            buyer_id=buyer.id,
            buyer_account_id=buyer.buyer_account_id,
            buyer_name=buyer.name,
            buyer_name_search=fold(buyer.name),
            price_list_id=price_list.id,
            price_list_name=price_list.name,
            status=status.value,
            version=1,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            desired_shipment_date=desired_shipment_date,
            comment=comment,
            one_shipment=one_shipment,
            responsible_user_id=managers[0] if managers else None,
            total=total,
            currency=price_list.currency,
            vat_included=price_list.vat_included,
            placed_by_side=by_side.value,
        )
    )
    written = [
        WrittenLine(
            id=str(uuid.uuid4()),
            order_id=order_id,
            position=n,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            warehouse_id=line.warehouse_id,
            quantity=line.quantity,
            price=line.price,
            vat_rate=line.vat_rate,
        )
        for n, line in enumerate(lines)
    ]
    await tx.conn.execute(order_lines.insert(), [asdict(line) for line in written])
    await tx.conn.execute(
        order_history.insert().values(
            order_id=order_id,
            from_status=None,
            to_status=status.value,
            by_user_id=by_user_id,
            by_side=by_side.value,
            at=now,
            comment="",
        )
    )
    row = await reload(tx.conn, order_id)
    await publish_placed(tx, row, by_user_id, by_side, written)
    return row, written


async def place_order(db: Database, principal: Principal, cmd: schemas.OrderIn) -> dict[str, Any]:
    """R-IN-1: a buyer orders from a price list open to it; R-ST-3 auto-confirms when the list says so.

    Answers the order as written, from what this transaction wrote (no second read).
    """
    principal.require_buyer()
    refuse_past_date(cmd.desired_shipment_date, "desired_shipment_date")
    async with db.transaction() as tx:
        price_list = await price_list_for(tx.conn, principal, cmd.price_list_id)
        buyer = (
            await tx.conn.execute(
                sa.select(buyers, accounts.c.name.label("supplier_name"))
                .join(accounts, accounts.c.id == buyers.c.supplier_id)
                .where(
                    buyers.c.supplier_id == price_list.supplier_id,
                    buyers.c.buyer_account_id == str(principal.account_id),
                    buyers.c.deleted.is_(False),
                )
            )
        ).first()
        if buyer is None:  # the list is not open to this account after all: answered as an unknown list
            raise NotFound(f"price list {cmd.price_list_id} does not exist", code="price_list_not_found")
        items = await price_items(tx.conn, price_list.id)
        lines = domain.validate_lines(
            [domain.RequestedLine(line.sku, str(line.warehouse_id), line.quantity) for line in cmd.lines],
            items,
            set(load_ids(price_list.warehouse_ids)),
        )
        by_user_id = str(principal.user_id)
        row, written = await insert_order(
            tx,
            supplier_id=price_list.supplier_id,
            buyer=buyer,
            price_list=price_list,
            lines=lines,
            status=domain.Status.NEW,
            by_user_id=by_user_id,
            by_side=domain.Side.BUYER,
            desired_shipment_date=cmd.desired_shipment_date,
            comment=cmd.comment,
            one_shipment=cmd.one_shipment,
        )
        # Should the answer be lost after this commits, a retry with the same Idempotency-Key gets this order.
        declare_outcome(201, f"/api/v1/orders/{row.id}")
        history = [
            {
                "from": None,
                "to": row.status,
                "by_user_id": by_user_id,
                "by_user_name": principal.name,
                "by_side": domain.Side.BUYER.value,
                "at": iso(row.status_changed_at),
                "comment": "",
            }
        ]
        if price_list.auto_confirm:
            comment = "confirmed automatically by the price list"
            placed_status = row.status
            row = await change_status(
                tx, row, domain.Status.CONFIRMED, by_user_id=None, by_side=domain.Side.SYSTEM, comment=comment
            )
            history.append(
                {
                    "from": placed_status,
                    "to": row.status,
                    "by_user_id": None,
                    "by_user_name": "",
                    "by_side": domain.Side.SYSTEM.value,
                    "at": iso(row.status_changed_at),
                    "comment": comment,
                }
            )
        names = await user_names(tx.conn, [row.responsible_user_id])
        return order_body(
            row,
            supplier_name=buyer.supplier_name,
            lines=written,
            history=history,
            part_ids=[],
            principal=principal,
            responsible_name=names.get(row.responsible_user_id or "", ""),
            warehouse_names=await warehouse_names_of(tx.conn, [line.warehouse_id for line in written]),
        )


# ---------------------------------------------------------------- transitions


async def transition(
    db: Database, principal: Principal, order_id: uuid.UUID, cmd: schemas.TransitionIn, if_match: str | None
) -> str:
    """R-ST-1: move the order if the matrix allows it for the caller's side; otherwise nothing changes."""
    side = side_of(principal)
    async with db.transaction() as tx:
        row = await order_for(tx.conn, order_id, principal, write=True, lock=True)
        check_if_match(row.version, if_match, required=side == domain.Side.SUPPLIER)
        await change_status(
            tx, row, domain.Status(cmd.to), by_user_id=str(principal.user_id), by_side=side, comment=cmd.comment
        )
    return str(order_id)


# ---------------------------------------------------------------- helpers for other modules


async def recompute(conn: AsyncConnection, order_id: str) -> tuple[Decimal, str]:
    """Total and reserve status of an order from its lines."""
    lines = await lines_of(conn, order_id)
    vat_included = bool(await conn.scalar(sa.select(orders.c.vat_included).where(orders.c.id == order_id)))
    total = domain.order_total(
        [(d(x.quantity), d(x.price)) for x in lines], [d(x.vat_rate) for x in lines], vat_included=vat_included
    )
    status = domain.reserve_status([(d(x.quantity), d(x.reserved)) for x in lines])
    return total, status
