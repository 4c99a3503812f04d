"""Parts of an order (R-ED-2, R-SPL-1): move or copy lines to a new or existing part; split by reserve."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import domain, schemas
from oms_orders.db import order_history, order_lines, orders
from oms_orders.handlers.changes import Change, publish_changed
from oms_orders.handlers.common import check_if_match, d, dec, order_for
from oms_orders.handlers.orders import bump, lines_of, publish_placed, recompute, reload
from oms_shared.auth import Principal
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Forbidden


def root_id(row: sa.Row[Any]) -> str:
    return str(row.parent_order_id or row.id)


async def new_part(tx: Tx, source: sa.Row[Any], *, by_user_id: str | None, by_side: domain.Side) -> sa.Row[Any]:
    """A new linked order (1024-1, 1024-2, ...) with the source's buyer, price list, status and flags."""
    root = await reload(tx.conn, root_id(source))
    part_no = root.next_part
    await tx.conn.execute(orders.update().where(orders.c.id == root.id).values(next_part=part_no + 1))
    part_id = str(uuid.uuid4())
    now = utcnow()
    await tx.conn.execute(
        orders.insert().values(
            id=part_id,
            supplier_id=source.supplier_id,
            number=domain.format_number(root.root_number, part_no),
            root_number=root.root_number,
            buyer_id=source.buyer_id,
            buyer_account_id=source.buyer_account_id,
            buyer_name=source.buyer_name,
            buyer_name_search=source.buyer_name_search,
            price_list_id=source.price_list_id,
            price_list_name=source.price_list_name,
            status=source.status,
            version=1,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            desired_shipment_date=source.desired_shipment_date,
            comment=source.comment,
            one_shipment=source.one_shipment,
            responsible_user_id=source.responsible_user_id,
            parent_order_id=root.id,
            split_done=True,
            placed_by_side=source.placed_by_side,
            currency=source.currency,
            vat_included=source.vat_included,
        )
    )
    await tx.conn.execute(
        order_history.insert().values(
            order_id=part_id,
            from_status=None,
            to_status=source.status,
            by_user_id=by_user_id,
            by_side=by_side.value,
            at=now,
            comment=f"part of order {root.number}",
        )
    )
    return await reload(tx.conn, part_id)


async def _move(
    conn: AsyncConnection, line_ids: list[str], target: sa.Row[Any], copy: bool
) -> tuple[list[Change], list[Change]]:
    """Move (or copy with quantity 0) lines into ``target``; returns (source changes, target changes)."""
    lines = (await conn.execute(sa.select(order_lines).where(order_lines.c.id.in_(line_ids)))).all()
    position = (
        int(
            await conn.scalar(
                sa.select(sa.func.coalesce(sa.func.max(order_lines.c.position), 0)).where(
                    order_lines.c.order_id == target.id
                )
            )
            or 0
        )
        + 1
    )
    source_changes: list[Change] = []
    target_changes: list[Change] = []
    for n, line in enumerate(sorted(lines, key=lambda x: x.position)):
        if copy:
            new_id = str(uuid.uuid4())
            await conn.execute(
                order_lines.insert().values(
                    id=new_id,
                    order_id=target.id,
                    position=position + n,
                    sku=line.sku,
                    name=line.name,
                    unit=line.unit,
                    warehouse_id=line.warehouse_id,
                    quantity=0,
                    price=line.price,
                    vat_rate=line.vat_rate,
                    additional=line.additional,
                )
            )
            source_changes.append((line.id, line.sku, "copied", None, target.number))
            target_changes.append((new_id, line.sku, "copied", None, dec(0)))
        else:
            await conn.execute(
                order_lines.update()
                .where(order_lines.c.id == line.id)
                .values(order_id=target.id, position=position + n)
            )
            source_changes.append((line.id, line.sku, "moved", None, target.number))
            target_changes.append((line.id, line.sku, "moved", None, target.number))
    return source_changes, target_changes


async def _cut(
    conn: AsyncConnection, line_id: str, target: sa.Row[Any], kept: Decimal, moved: Decimal
) -> tuple[Change, Change]:
    """Keep ``kept`` of a partly reserved line where it is; ``moved`` becomes a new line of ``target``."""
    line = (await conn.execute(sa.select(order_lines).where(order_lines.c.id == line_id))).one()
    position = int(
        await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.max(order_lines.c.position), 0)).where(
                order_lines.c.order_id == target.id
            )
        )
        or 0
    )
    new_id = str(uuid.uuid4())
    await conn.execute(order_lines.update().where(order_lines.c.id == line_id).values(quantity=kept, shortage=0))
    await conn.execute(
        order_lines.insert().values(
            id=new_id,
            order_id=target.id,
            position=position + 1,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            warehouse_id=line.warehouse_id,
            quantity=moved,
            reserved=0,
            shortage=moved,
            price=line.price,
            vat_rate=line.vat_rate,
            additional=line.additional,
        )
    )
    return (line_id, line.sku, "quantity", dec(d(line.quantity)), dec(kept)), (
        new_id,
        line.sku,
        "split",
        None,
        dec(moved),
    )


async def _settle(tx: Tx, row: sa.Row[Any]) -> sa.Row[Any]:
    total, reserve = await recompute(tx.conn, row.id)
    return await bump(tx.conn, row, total=total, reserve_status=reserve)


async def move_lines(
    db: Database, principal: Principal, order_id: uuid.UUID, cmd: schemas.MoveLinesIn, if_match: str | None
) -> str:
    """R-ED-2: move lines to a new part or an existing one, or copy them with quantity 0; returns the target id."""
    principal.require_supplier()
    by = str(principal.user_id)
    side = domain.Side.SUPPLIER
    async with db.transaction() as tx:
        source = await order_for(tx.conn, order_id, principal, write=True, lock=True)
        check_if_match(source.version, if_match, required=True)
        domain.check_editable(domain.Status(source.status))
        own = {line.id: line for line in await lines_of(tx.conn, source.id)}
        wanted = list(dict.fromkeys(str(x) for x in cmd.line_ids))
        unknown = [x for x in wanted if x not in own]
        if unknown:
            raise domain.InvalidLines(
                "some lines are not in this order",
                details=[{"line_id": x, "reasons": ["no such line in this order"]} for x in unknown],
            )
        partial = _partial_quantities(cmd, own, wanted)
        whole = [x for x in wanted if x not in partial]
        if not cmd.copy_lines and len(whole) >= len(own):
            raise domain.DomainError("a part must keep at least one line; move fewer lines", code="empty_part")
        created = False
        if cmd.target_order_id is None:
            target = await new_part(tx, source, by_user_id=by, by_side=side)
            created = True
        else:
            target = await order_for(tx.conn, cmd.target_order_id, principal, write=True, lock=True)
            if target.id == source.id:
                raise domain.DomainError("the target is the same order", code="same_order")
            if root_id(target) != root_id(source):
                raise Forbidden("the target is not a part of the same order", code="not_a_sibling")
            domain.check_editable(domain.Status(target.status))
        source_changes, target_changes = await _move(tx.conn, whole, target, cmd.copy_lines)
        for line_id, quantity in partial.items():
            source_change, target_change = await _move_part(tx.conn, own[line_id], target, quantity)
            source_changes.append(source_change)
            target_changes.append(target_change)
        kind = "lines_copied" if cmd.copy_lines else ("split" if created else "lines_moved")
        source = await _settle(tx, source)
        target = await _settle(tx, target) if not created else await _refresh_new(tx, target)
        if created:
            await publish_placed(tx, target, by, side)
        await publish_changed(
            tx, source, kind, by_user_id=by, by_side=side, changes=source_changes, with_lines=True, related=[target.id]
        )
        await publish_changed(
            tx, target, kind, by_user_id=by, by_side=side, changes=target_changes, with_lines=True, related=[source.id]
        )
        return str(target.id)


def _partial_quantities(cmd: schemas.MoveLinesIn, own: dict[str, Any], wanted: list[str]) -> dict[str, Decimal]:
    """R-ED-2: the lines of which only a part moves (line id → quantity moved), checked: a quantity on the
    line's unit scale, above zero, less than the line (else the whole line moves) and within what is not
    reserved (a reserve stays with the line it was made for)."""
    if not cmd.quantities:
        return {}
    if cmd.copy_lines:
        raise domain.InvalidLines(
            "quantities cannot be given when copying", details=[{"reasons": ["copies start with quantity 0"]}]
        )
    errors: list[dict[str, Any]] = []
    partial: dict[str, Decimal] = {}
    for raw_id, raw_quantity in cmd.quantities.items():
        line_id = str(raw_id)
        line = own.get(line_id)
        if line is None or line_id not in wanted:
            errors.append({"line_id": line_id, "reasons": ["quantities names a line that is not being moved"]})
            continue
        try:
            quantity = domain.parse_quantity(raw_quantity, unit=line.unit)
        except ValueError as exc:
            errors.append({"line_id": line_id, "reasons": [str(exc)]})
            continue
        if quantity >= d(line.quantity):
            continue
        free = d(line.quantity) - d(line.reserved)
        if quantity > free:
            errors.append(
                {"line_id": line_id, "reasons": [f"only {dec(free)} of this line is not reserved and can be moved"]}
            )
            continue
        partial[line_id] = quantity
    if errors:
        raise domain.InvalidLines(f"{len(errors)} quantities are not valid", details=errors)
    return partial


async def _move_part(conn: AsyncConnection, line: Any, target: sa.Row[Any], quantity: Decimal) -> tuple[Change, Change]:
    """Move ``quantity`` of a line's unreserved part into ``target`` as a new line; the rest (and the reserve)
    stays. The shortage goes with the units that move."""
    position = int(
        await conn.scalar(
            sa.select(sa.func.coalesce(sa.func.max(order_lines.c.position), 0)).where(
                order_lines.c.order_id == target.id
            )
        )
        or 0
    )
    kept = d(line.quantity) - quantity
    shortage_moved = min(quantity, d(line.shortage))
    await conn.execute(
        order_lines.update()
        .where(order_lines.c.id == line.id)
        .values(quantity=kept, shortage=d(line.shortage) - shortage_moved)
    )
    new_id = str(uuid.uuid4())
    await conn.execute(
        order_lines.insert().values(
            id=new_id,
            order_id=target.id,
            position=position + 1,
            sku=line.sku,
            name=line.name,
            unit=line.unit,
            warehouse_id=line.warehouse_id,
            quantity=quantity,
            reserved=0,
            shortage=shortage_moved,
            price=line.price,
            vat_rate=line.vat_rate,
            additional=line.additional,
        )
    )
    return (line.id, line.sku, "quantity", dec(d(line.quantity)), dec(kept)), (
        new_id,
        line.sku,
        "split",
        None,
        dec(quantity),
    )


async def _refresh_new(tx: Tx, part: sa.Row[Any]) -> sa.Row[Any]:
    """A fresh part keeps version 1 (its ``order.placed``) with its totals filled in."""
    total, reserve = await recompute(tx.conn, part.id)
    await tx.conn.execute(orders.update().where(orders.c.id == part.id).values(total=total, reserve_status=reserve))
    return await reload(tx.conn, part.id)


async def split_by_reserve(tx: Tx, row: sa.Row[Any]) -> None:
    """R-SPL-1: after the first reserve of a confirmed order, parts per warehouse and a 'coming soon' part."""
    if row.split_done or row.parent_order_id or row.status != domain.Status.CONFIRMED.value:
        return
    lines = await lines_of(tx.conn, row.id)
    plan = domain.plan_parts(
        [domain.ReservedLine(x.id, x.warehouse_id, d(x.quantity), d(x.reserved)) for x in lines], row.one_shipment
    )
    await tx.conn.execute(orders.update().where(orders.c.id == row.id).values(split_done=True))
    row = await reload(tx.conn, row.id)
    if not plan.splits:
        return
    side = domain.Side.SYSTEM
    parts: list[dict[str, Any]] = [
        {"order_id": row.id, "number": row.number, "kind": plan.kinds[0], "line_ids": plan.groups[0]}
    ]
    all_changes: list[Change] = []
    for group, kind in zip(plan.groups[1:], plan.kinds[1:], strict=True):
        part = await new_part(tx, row, by_user_id=None, by_side=side)
        # In-stock groups take their lines whole (a cut line too: its reserved quantity ships there);
        # the coming-soon group takes only the shortage of a cut line, as a new line.
        whole = group if kind != "coming_soon" else [line_id for line_id in group if line_id not in plan.cuts]
        source_changes, target_changes = await _move(tx.conn, whole, part, copy=False) if whole else ([], [])
        for line_id in group:
            if kind == "coming_soon" and line_id in plan.cuts:
                kept, moved = plan.cuts[line_id]
                cut_source, cut_target = await _cut(tx.conn, line_id, part, kept, moved)
                source_changes.append(cut_source)
                target_changes.append(cut_target)
        all_changes += source_changes
        part = await _refresh_new(tx, part)
        await publish_placed(tx, part, None, side)
        await publish_changed(
            tx,
            part,
            "split",
            by_user_id=None,
            by_side=side,
            changes=target_changes,
            with_lines=True,
            related=[row.id],
            attributes={"part_kind": kind},
        )
        parts.append({"order_id": part.id, "number": part.number, "kind": kind, "line_ids": group})
    row = await _settle(tx, row)
    await publish_changed(
        tx,
        row,
        "split",
        by_user_id=None,
        by_side=side,
        changes=all_changes,
        with_lines=True,
        related=[p["order_id"] for p in parts[1:]],
        attributes={"parts": parts},
    )
