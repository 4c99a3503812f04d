"""Non-status changes: lines (R-ED-1/3), profile (R-PF-2/3), delete (R-LS-2), overdue (R-ST-4)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from oms_orders import domain, schemas
from oms_orders.db import accounts, line_changes, order_lines, orders, price_lists, users
from oms_orders.handlers.common import (
    check_if_match,
    d,
    dec,
    iso,
    load_ids,
    order_for,
    refuse_past_date,
    side_of,
    user_names,
)
from oms_orders.handlers.orders import (
    PRODUCER,
    _uuid,
    bump,
    change_status,
    contract_lines,
    lines_of,
    money_fields,
    price_items,
    recompute,
)
from oms_shared.auth import Principal
from oms_shared.contracts import (
    LineChange,
    OrderChangedData,
    OrderChangedV1,
    OrderDeletedData,
    OrderDeletedV1,
    OrderStatus,
    make_event,
)
from oms_shared.contracts import Side as ContractSide
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Invalid, NotFound

Change = tuple[str, str, str, str | None, str | None]  # line_id, sku, field, old, new


async def publish_changed(
    tx: Tx,
    row: sa.Row[Any],
    kind: str,
    *,
    by_user_id: str | None,
    by_side: domain.Side,
    changes: list[Change] | None = None,
    with_lines: bool = False,
    related: list[str] | None = None,
    attributes: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Record per-line changes (R-ED-3) and publish ``order.changed`` at the order's current version."""
    at = at or utcnow()
    changes = changes or []
    if changes:
        await tx.conn.execute(
            line_changes.insert(),
            [
                {
                    "order_id": row.id,
                    "line_id": line_id,
                    "sku": sku,
                    "field": field,
                    "old": old,
                    "new": new,
                    "by_user_id": by_user_id,
                    "by_side": by_side.value,
                    "at": at,
                }
                for line_id, sku, field, old, new in changes
            ],
        )
    rows = await lines_of(tx.conn, row.id)
    lines = contract_lines(rows) if with_lines else None
    data = OrderChangedData(
        order_id=uuid.UUID(row.id),
        number=row.number,
        buyer_id=uuid.UUID(row.buyer_id),
        buyer_account_id=_uuid(row.buyer_account_id),
        kind=kind,
        status=OrderStatus(row.status),
        by_user_id=_uuid(by_user_id),
        by_side=ContractSide(by_side.value),
        line_changes=[
            LineChange(line_id=uuid.UUID(line_id), sku=sku, field=field, old=old, new=new)
            for line_id, sku, field, old, new in changes
        ],
        lines=lines,
        related_order_ids=[uuid.UUID(r) for r in related or []],
        attributes=attributes or {},
        changed_at=at,
        **money_fields(row, rows),
    )
    await tx.publish(
        make_event(
            OrderChangedV1,
            tenant_id=uuid.UUID(row.supplier_id),
            aggregate_id=row.id,
            data=data,
            sequence=row.version,
            producer=PRODUCER,
        )
    )


# ---------------------------------------------------------------- R-ED-1: lines


async def edit_lines(
    db: Database, principal: Principal, order_id: uuid.UUID, cmd: schemas.LinesEditIn, if_match: str | None
) -> None:
    """Change quantity, price, VAT; delete; add "additional items". The order moves to Editing."""
    principal.require_supplier()
    by = str(principal.user_id)
    side = domain.Side.SUPPLIER
    async with db.transaction() as tx:
        row = await order_for(tx.conn, order_id, principal, write=True, lock=True)
        check_if_match(row.version, if_match, required=True)
        domain.check_editable(domain.Status(row.status))
        current = {line.id: line for line in await lines_of(tx.conn, row.id)}
        errors: list[dict[str, Any]] = []
        changes: list[Change] = []
        updates: dict[str, dict[str, Any]] = {}
        deletes: list[str] = []
        for n, edit in enumerate(cmd.edit):
            line = current.get(str(edit.line_id))
            if line is None:
                errors.append({"edit": n, "line_id": str(edit.line_id), "reasons": ["no such line in this order"]})
                continue
            if edit.delete:
                deletes.append(line.id)
                changes.append((line.id, line.sku, "deleted", dec(line.quantity), None))
                continue
            values: dict[str, Any] = {}
            if edit.quantity is not None:
                try:
                    quantity = domain.parse_quantity(edit.quantity, allow_zero=True, unit=line.unit)
                except ValueError as exc:
                    errors.append({"edit": n, "line_id": line.id, "reasons": [str(exc)]})
                    continue
                if quantity != d(line.quantity):
                    values["quantity"] = quantity
                    changes.append((line.id, line.sku, "quantity", dec(line.quantity), dec(quantity)))
            for field in ("price", "vat_rate"):
                new_value: Decimal | None = getattr(edit, field)
                if new_value is not None and new_value != d(getattr(line, field)):
                    values[field] = new_value
                    changes.append((line.id, line.sku, field, dec(getattr(line, field)), dec(new_value)))
            if values:
                updates[line.id] = values
        added: list[domain.ValidLine] = []
        if cmd.add:
            items = await price_items(tx.conn, row.price_list_id or "")
            wh_raw = await tx.conn.scalar(
                sa.select(price_lists.c.warehouse_ids).where(price_lists.c.id == row.price_list_id)
            )
            try:
                added = domain.validate_lines(
                    [domain.RequestedLine(a.sku, str(a.warehouse_id), a.quantity) for a in cmd.add],
                    items,
                    set(load_ids(wh_raw)),
                )
            except domain.InvalidLines as exc:
                errors += [{"add": e["line"], **{k: v for k, v in e.items() if k != "line"}} for e in exc.details]
        if errors:
            raise domain.InvalidLines(f"{len(errors)} changes are not valid", details=errors)
        if len(current) - len(deletes) + len(added) <= 0:
            raise domain.InvalidLines(
                "an order needs at least one line; cancel or reject it instead", details=[{"reason": "no lines left"}]
            )
        if not changes and not added:
            raise Invalid("nothing to change", code="no_changes")
        for line_id in deletes:
            await tx.conn.execute(order_lines.delete().where(order_lines.c.id == line_id))
        for line_id, values in updates.items():
            await tx.conn.execute(order_lines.update().where(order_lines.c.id == line_id).values(**values))
        position = max((line.position for line in current.values()), default=0) + 1
        for n, new_line in enumerate(added):
            line_id = str(uuid.uuid4())
            await tx.conn.execute(
                order_lines.insert().values(
                    id=line_id,
                    order_id=row.id,
                    position=position + n,
                    sku=new_line.sku,
                    name=new_line.name,
                    unit=new_line.unit,
                    warehouse_id=new_line.warehouse_id,
                    quantity=new_line.quantity,
                    price=new_line.price,
                    vat_rate=new_line.vat_rate,
                    additional=True,
                )
            )
            changes.append((line_id, new_line.sku, "added", None, dec(new_line.quantity)))
        if row.status != domain.Status.EDITING.value:
            row = await change_status(tx, row, domain.Status.EDITING, by_user_id=by, by_side=side, comment=cmd.comment)
        total, reserve = await recompute(tx.conn, row.id)
        row = await bump(tx.conn, row, total=total, reserve_status=reserve)
        await publish_changed(
            tx,
            row,
            "lines_edited",
            by_user_id=by,
            by_side=side,
            changes=changes,
            with_lines=True,
            attributes={"comment": cmd.comment} if cmd.comment else None,
        )


async def list_changes(db: Database, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    """R-ED-3: what changed on which line, by whom and when."""
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        rows = (
            await conn.execute(
                sa.select(line_changes).where(line_changes.c.order_id == row.id).order_by(line_changes.c.id)
            )
        ).all()
        names = await user_names(conn, [c.by_user_id for c in rows])
    items = [
        {
            "line_id": c.line_id,
            "sku": c.sku,
            "field": c.field,
            "old": c.old,
            "new": c.new,
            "by_user_id": c.by_user_id,
            "by_user_name": names.get(c.by_user_id or "", ""),
            "by_side": c.by_side,
            "at": iso(c.at),
        }
        for c in rows
    ]
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


# ---------------------------------------------------------------- R-PF-2/3: profile


async def update_profile(
    db: Database, principal: Principal, order_id: uuid.UUID, cmd: schemas.ProfileIn, if_match: str | None
) -> None:
    principal.require_supplier()
    fields = cmd.model_fields_set
    if not fields:
        raise Invalid("nothing to change", code="no_changes")
    by = str(principal.user_id)
    side = domain.Side.SUPPLIER
    async with db.transaction() as tx:
        row = await order_for(tx.conn, order_id, principal, write=True, lock=True)
        check_if_match(row.version, if_match, required=True)
        if row.status in (domain.Status.REJECTED.value, domain.Status.CANCELLED.value):
            raise domain.NotEditable(f"a {row.status} order cannot be changed")
        events: list[tuple[str, dict[str, Any]]] = []
        values: dict[str, Any] = {}
        if "shipment_date" in fields and cmd.shipment_date != row.shipment_date:
            refuse_past_date(cmd.shipment_date, "shipment_date")
            values["shipment_date"] = cmd.shipment_date
            events.append(("shipment_date", {"old": iso(row.shipment_date), "new": iso(cmd.shipment_date)}))
        if "paid_amount" in fields:
            if cmd.paid_amount is None:
                raise Invalid("paid_amount cannot be null; send 0 to clear it", code="invalid_payment")
            if cmd.paid_amount != d(row.paid_amount):
                values["paid_amount"] = cmd.paid_amount
                events.append(("payment", {"old": dec(row.paid_amount), "new": dec(cmd.paid_amount)}))
        if "responsible_user_id" in fields:
            new = str(cmd.responsible_user_id) if cmd.responsible_user_id else None
            if new is not None:
                account = await tx.conn.scalar(sa.select(users.c.account_id).where(users.c.id == new))
                if account is None or account != row.supplier_id:
                    raise NotFound(f"user {new} does not exist", code="user_not_found")
            if new != row.responsible_user_id:
                values["responsible_user_id"] = new
                events.append(("responsible", {"old": row.responsible_user_id, "new": new}))
        for n, (kind, attributes) in enumerate(events):
            row = await bump(tx.conn, row, **(values if n == 0 else {}))
            await publish_changed(tx, row, kind, by_user_id=by, by_side=side, attributes=attributes)


# ---------------------------------------------------------------- R-LS-2: delete per side


async def delete_order(db: Database, principal: Principal, order_id: uuid.UUID, if_match: str | None) -> None:
    side = side_of(principal)
    async with db.transaction() as tx:
        row = await order_for(tx.conn, order_id, principal, write=True, lock=True)
        check_if_match(row.version, if_match, required=side == domain.Side.SUPPLIER)
        domain.check_deletable(domain.Status(row.status))
        column = "deleted_by_supplier" if side == domain.Side.SUPPLIER else "deleted_by_buyer"
        if getattr(row, column):
            return
        row = await bump(tx.conn, row, **{column: True})
        await tx.publish(
            make_event(
                OrderDeletedV1,
                tenant_id=uuid.UUID(row.supplier_id),
                aggregate_id=row.id,
                data=OrderDeletedData(
                    order_id=uuid.UUID(row.id), side=ContractSide(side.value), by_user_id=principal.user_id
                ),
                sequence=row.version,
                producer=PRODUCER,
            )
        )


# ---------------------------------------------------------------- R-ST-4: time limits and overdue


def limits_of(raw: str | None) -> dict[domain.Status, int]:
    stored = json.loads(raw or "{}")
    if not stored:
        return dict(domain.DEFAULT_TIME_LIMITS_HOURS)
    return {domain.Status(k): int(v) for k, v in stored.items()}


async def get_time_limits(db: Database, principal: Principal) -> dict[str, Any]:
    principal.require("orders", "read")
    async with db.read() as conn:
        raw = await conn.scalar(sa.select(accounts.c.time_limits).where(accounts.c.id == str(principal.account_id)))
    return {"limits": {k.value: v for k, v in limits_of(raw).items()}}


async def set_time_limits(db: Database, principal: Principal, cmd: schemas.TimeLimitsIn) -> dict[str, Any]:
    principal.require("orders", "full")
    limits = domain.parse_time_limits(dict(cmd.limits))
    async with db.transaction() as tx:
        await tx.conn.execute(
            accounts.update()
            .where(accounts.c.id == str(principal.account_id))
            .values(time_limits=json.dumps({k.value: v for k, v in limits.items()}))
        )
    return {"limits": {k.value: v for k, v in limits.items()}}


async def scan_overdue(db: Database, now: datetime | None = None, batch: int = 500) -> int:
    """Flag orders past their status's time limit and publish ``order.changed`` kind ``overdue``."""
    now = now or utcnow()
    flagged = 0
    async with db.read() as conn:
        suppliers = (
            await conn.execute(sa.select(accounts.c.id, accounts.c.time_limits).where(accounts.c.kind == "supplier"))
        ).all()
    for supplier in suppliers:
        for status, hours in limits_of(supplier.time_limits).items():
            if hours <= 0:
                continue
            cutoff = now - timedelta(hours=hours)
            async with db.transaction() as tx:
                rows = (
                    await tx.conn.execute(
                        sa.select(orders)
                        .where(
                            orders.c.supplier_id == supplier.id,
                            orders.c.status == status.value,
                            orders.c.overdue.is_(False),
                            orders.c.status_changed_at <= cutoff,
                        )
                        .limit(batch)
                    )
                ).all()
                for row in rows:
                    since = domain.overdue_since(status, row.status_changed_at, {status: hours}, now)
                    if since is None:
                        continue
                    row = await bump(tx.conn, row, overdue=True, overdue_since=since, updated_at=row.updated_at)
                    await publish_changed(
                        tx,
                        row,
                        "overdue",
                        by_user_id=None,
                        by_side=domain.Side.SYSTEM,
                        attributes={
                            "status": status.value,
                            "limit_hours": hours,
                            "since": since.isoformat(),
                            "responsible_user_id": row.responsible_user_id,
                        },
                    )
                    flagged += 1
    return flagged
