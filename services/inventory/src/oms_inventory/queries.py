"""Read side of the inventory service: lists with filter/sort/paging, availability, drill-down, drift."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from json.encoder import encode_basestring as quote  # the json module's C string quoting
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.access import Scope, may_see_order, order_names, own_orders
from oms_inventory.db import (
    holds,
    incoming_stock,
    order_lines,
    price_list_items,
    price_lists,
    products,
    reserve_ledger,
    stock,
    warehouses,
)
from oms_inventory.domain import fmt
from oms_shared.auth import Principal
from oms_shared.errors import Invalid, NotFound

# Formatting is cached: a 10,000-line availability answer has few distinct quantities.
_fmt_cached = functools.lru_cache(maxsize=65536)(fmt)


def _sort(columns: dict[str, Any], sort: str, default: str) -> list[Any]:
    """``sort`` is a column name, ``-name`` for descending; unknown names are refused, not ignored."""
    key = sort or default
    desc = key.startswith("-")
    name = key.lstrip("-")
    if name not in columns:
        raise Invalid(f"cannot sort by {name!r}", code="invalid_sort", details={"allowed": sorted(columns)})
    col = columns[name]
    return [col.desc() if desc else col.asc()]


async def _page(
    conn: AsyncConnection, stmt: sa.Select[Any], order_by: list[Any], limit: int, offset: int
) -> tuple[list[sa.Row[Any]], int]:
    total = await conn.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    rows = await conn.execute(stmt.order_by(*order_by).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def _page_body(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


async def list_warehouses(
    conn: AsyncConnection, tenant: str, *, q: str, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    stmt = sa.select(warehouses.c.warehouse_id, warehouses.c.code, warehouses.c.name).where(
        warehouses.c.tenant_id == tenant
    )
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            sa.or_(sa.func.lower(warehouses.c.code).like(like), sa.func.lower(warehouses.c.name).like(like))
        )
    order = _sort({"code": warehouses.c.code, "name": warehouses.c.name}, sort, "code")
    rows, total = await _page(conn, stmt, order, limit, offset)
    return _page_body([dict(r._mapping) for r in rows], total, limit, offset)


async def list_products(
    conn: AsyncConnection, tenant: str, *, q: str, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    stmt = sa.select(products.c.sku, products.c.name, products.c.unit).where(products.c.tenant_id == tenant)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(products.c.sku).like(like), sa.func.lower(products.c.name).like(like)))
    order = _sort({"sku": products.c.sku, "name": products.c.name}, sort, "sku")
    rows, total = await _page(conn, stmt, order, limit, offset)
    return _page_body([dict(r._mapping) for r in rows], total, limit, offset)


def _incoming_sum() -> Any:
    return (
        sa.select(
            incoming_stock.c.tenant_id,
            incoming_stock.c.warehouse_id,
            incoming_stock.c.sku,
            sa.func.sum(incoming_stock.c.quantity).label("incoming"),
        )
        .where(incoming_stock.c.status == "expected")
        .group_by(incoming_stock.c.tenant_id, incoming_stock.c.warehouse_id, incoming_stock.c.sku)
        .subquery()
    )


def _stock_item(r: Any) -> dict[str, Any]:
    return {
        "warehouse_id": r.warehouse_id,
        "sku": r.sku,
        "name": r.name,
        "unit": r.unit,
        "on_hand": fmt(r.on_hand),
        "reserved": fmt(r.reserved),
        "available": fmt(r.on_hand - r.reserved),
        "incoming": fmt(int(r.incoming or 0)),
    }


def _stock_select(tenant: str) -> sa.Select[Any]:
    inc = _incoming_sum()
    return (
        sa.select(
            stock.c.warehouse_id,
            stock.c.sku,
            stock.c.on_hand,
            stock.c.reserved,
            sa.func.coalesce(products.c.name, "").label("name"),
            sa.func.coalesce(products.c.unit, "").label("unit"),
            inc.c.incoming,
        )
        .select_from(
            stock.outerjoin(
                products, sa.and_(products.c.tenant_id == stock.c.tenant_id, products.c.sku == stock.c.sku)
            ).outerjoin(
                inc,
                sa.and_(
                    inc.c.tenant_id == stock.c.tenant_id,
                    inc.c.warehouse_id == stock.c.warehouse_id,
                    inc.c.sku == stock.c.sku,
                ),
            )
        )
        .where(stock.c.tenant_id == tenant)
    )


async def list_stock(
    conn: AsyncConnection,
    tenant: str,
    *,
    warehouse_id: str,
    sku: str,
    q: str,
    only_available: bool,
    sort: str,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    stmt = _stock_select(tenant)
    if warehouse_id:
        await check_warehouse(conn, tenant, warehouse_id)
        stmt = stmt.where(stock.c.warehouse_id == warehouse_id)
    if sku:
        stmt = stmt.where(stock.c.sku == sku)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(sa.or_(sa.func.lower(stock.c.sku).like(like), sa.func.lower(products.c.name).like(like)))
    if only_available:
        stmt = stmt.where(stock.c.on_hand > stock.c.reserved)
    columns = {
        "sku": stock.c.sku,
        "warehouse_id": stock.c.warehouse_id,
        "on_hand": stock.c.on_hand,
        "reserved": stock.c.reserved,
        "available": stock.c.on_hand - stock.c.reserved,
    }
    order = [*_sort(columns, sort, "sku"), stock.c.warehouse_id]
    rows, total = await _page(conn, stmt, order, limit, offset)
    return _page_body([_stock_item(r) for r in rows], total, limit, offset)


async def item_row(conn: AsyncConnection, tenant: str, warehouse_id: str, sku: str) -> dict[str, Any]:
    row = (
        await conn.execute(_stock_select(tenant).where(stock.c.warehouse_id == warehouse_id, stock.c.sku == sku))
    ).first()
    if row is None:
        return {
            "warehouse_id": warehouse_id,
            "sku": sku,
            "on_hand": "0",
            "reserved": "0",
            "available": "0",
            "incoming": "0",
        }
    return _stock_item(row)


async def check_warehouse(conn: AsyncConnection, tenant: str, warehouse_id: str) -> None:
    owner = await conn.scalar(sa.select(warehouses.c.tenant_id).where(warehouses.c.warehouse_id == warehouse_id))
    if owner is None or owner != tenant:  # another account's: answered as unknown
        raise NotFound(f"no warehouse {warehouse_id}", code="unknown_warehouse")


async def incoming_row(conn: AsyncConnection, tenant: str, incoming_id: str) -> dict[str, Any]:
    row = (await conn.execute(sa.select(incoming_stock).where(incoming_stock.c.incoming_id == incoming_id))).one()
    return _incoming(row)


def _incoming(row: Any) -> dict[str, Any]:
    return {
        "incoming_id": row.incoming_id,
        "warehouse_id": row.warehouse_id,
        "sku": row.sku,
        "quantity": fmt(row.quantity),
        "expected_date": row.expected_date.isoformat() if row.expected_date else None,
        "status": row.status,
    }


async def list_incoming(
    conn: AsyncConnection, tenant: str, *, status: str, warehouse_id: str, sku: str, sort: str, limit: int, offset: int
) -> dict[str, Any]:
    stmt = sa.select(incoming_stock).where(incoming_stock.c.tenant_id == tenant)
    if status:
        stmt = stmt.where(incoming_stock.c.status == status)
    if warehouse_id:
        stmt = stmt.where(incoming_stock.c.warehouse_id == warehouse_id)
    if sku:
        stmt = stmt.where(incoming_stock.c.sku == sku)
    columns = {
        "expected_date": incoming_stock.c.expected_date,
        "sku": incoming_stock.c.sku,
        "created_at": incoming_stock.c.created_at,
    }
    rows, total = await _page(
        conn, stmt, [*_sort(columns, sort, "expected_date"), incoming_stock.c.created_at], limit, offset
    )
    return _page_body([_incoming(r) for r in rows], total, limit, offset)


async def availability(
    conn: AsyncConnection,
    caller: Principal,
    price_list_id: str,
    *,
    limit: int | None,
    offset: int,
    skus: list[str] | None = None,
) -> str:
    """Per price-list line: availability on each linked warehouse and the totals (R-STK-2), as JSON text.

    ``total_available`` is over all the supplier's warehouses (R-STK-2: "the total over all the supplier's
    warehouses"), ``total_available_in_list`` over the list's own warehouses (what can be ordered from it).
    The supplier's users see on hand, reserved and available per warehouse; a buyer account the list is open
    to (``pricelist.updated`` names them) sees what it can order: available per warehouse and the totals.
    ``skus`` narrows the answer to those lines of the list (a page of a catalogue searched elsewhere).

    Two set-based statements whatever the list's length: its lines in list order (paged in SQL, on the
    list-order index) and the stock of the linked warehouses (a page asks only for its SKUs); they are
    joined here. A single SQL join of the lines with one stock alias per warehouse was tried and refused:
    with statistics not yet gathered (right after a bulk load) PostgreSQL nested-looped it for 15 s.
    """
    pl = (await conn.execute(sa.select(price_lists).where(price_lists.c.price_list_id == price_list_id))).first()
    supplier_view = caller.is_supplier
    # Another supplier's list, or one not open to the buying account, is answered as an unknown one.
    if (
        pl is None
        or pl.deleted
        or (
            pl.tenant_id != str(caller.account_id)
            if supplier_view
            else str(caller.account_id) not in json.loads(pl.buyer_account_ids)
        )
    ):
        raise NotFound(f"no price list {price_list_id}", code="price_list_not_found")
    tenant = pl.tenant_id
    wh_ids: list[str] = json.loads(pl.warehouse_ids)
    items = price_list_items
    # The product's name only for lines without one (CASE evaluates the subquery only then).
    product_name = (
        sa.select(products.c.name)
        .where(products.c.tenant_id == tenant, products.c.sku == items.c.sku)
        .scalar_subquery()
    )
    in_list = [items.c.price_list_id == price_list_id]
    if skus is not None:
        in_list.append(items.c.sku.in_(sorted(set(skus))))
    items_stmt = (
        sa.select(items.c.sku, sa.case((items.c.name == "", product_name), else_=items.c.name))
        .where(*in_list)
        .order_by(items.c.position, items.c.sku)
        .offset(offset)
    )
    if limit is not None:
        items_stmt = items_stmt.limit(limit)
    item_rows = (await conn.execute(items_stmt)).all()
    if limit is None and (item_rows or offset == 0):
        total = offset + len(item_rows)
    else:
        total = int(await conn.scalar(sa.select(sa.func.count()).where(*in_list)) or 0)
    n = len(wh_ids)
    figures: dict[str, list[int]] = {}  # sku -> [on_hand, reserved] per linked warehouse, in link order
    if wh_ids and item_rows:
        column = {wh: 2 * i for i, wh in enumerate(wh_ids)}
        sel = sa.select(stock.c.warehouse_id, stock.c.sku, stock.c.on_hand, stock.c.reserved).where(
            stock.c.tenant_id == tenant, stock.c.warehouse_id.in_(wh_ids)
        )
        if limit is not None or skus is not None:  # a page: its SKUs; the whole list: one range scan
            sel = sel.where(stock.c.sku.in_([r[0] for r in item_rows]))
        for wh, sku, on_hand, reserved in (await conn.execute(sel)).all():
            row = figures.get(sku)
            if row is None:
                row = figures[sku] = [0] * (2 * n)
            i = column[wh]
            row[i] = on_hand
            row[i + 1] = reserved
    everywhere: dict[str, int] = {}  # sku -> available over all the supplier's warehouses
    if item_rows:
        sel_all = (
            sa.select(stock.c.sku, sa.func.sum(stock.c.on_hand - stock.c.reserved))
            .where(stock.c.tenant_id == tenant)
            .group_by(stock.c.sku)
        )
        if limit is not None or skus is not None:
            sel_all = sel_all.where(stock.c.sku.in_([r[0] for r in item_rows]))
        else:  # the list's SKUs only, not every product the supplier stocks
            sel_all = sel_all.where(
                stock.c.sku.in_(sa.select(items.c.sku).where(items.c.price_list_id == price_list_id))
            )
        everywhere = {sku: int(amount or 0) for sku, amount in (await conn.execute(sel_all)).all()}
    # The hot loop of a 10,000-line answer writes JSON text directly. Lines with the same stock figures
    # share the text of their warehouses array and total, so each distinct combination is written once.
    f = _fmt_cached
    wh_q = [quote(w) for w in wh_ids]
    none = (0,) * (2 * n)
    tails: dict[tuple[int, ...], str] = {}  # per warehouse figures, then the all-warehouse total
    parts = []
    for sku, name in item_rows:
        found = figures.get(sku)
        key = (*(found if found is not None else none), everywhere.get(sku, 0))
        tail = tails.get(key)
        if tail is None:
            cells = []
            total_avail = 0
            for i in range(n):
                on_hand, reserved = key[2 * i], key[2 * i + 1]
                total_avail += on_hand - reserved
                if supplier_view:
                    cells.append(
                        f'{{"warehouse_id":{wh_q[i]},"on_hand":"{f(on_hand)}","reserved":"{f(reserved)}",'
                        f'"available":"{f(on_hand - reserved)}"}}'
                    )
                else:
                    cells.append(f'{{"warehouse_id":{wh_q[i]},"available":"{f(on_hand - reserved)}"}}')
            tail = (
                f'"warehouses":[{",".join(cells)}],"total_available":"{f(key[-1])}",'
                f'"total_available_in_list":"{f(total_avail)}"}}'
            )
            tails[key] = tail
        parts.append(f'{{"sku":{quote(sku)},"name":{quote(name or "")},{tail}')
    wh_names = {
        r.warehouse_id: r.name
        for r in await conn.execute(
            sa.select(warehouses.c.warehouse_id, warehouses.c.name).where(
                warehouses.c.tenant_id == tenant, warehouses.c.warehouse_id.in_(wh_ids)
            )
        )
    }
    head = json.dumps(
        {
            "price_list_id": price_list_id,
            "name": pl.name,
            "warehouse_ids": wh_ids,
            "warehouses": [{"warehouse_id": w, "name": wh_names.get(w, "")} for w in wh_ids],
            "total": total,
            "limit": limit,
            "offset": offset,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return head[:-1] + ',"items":[' + ",".join(parts) + "]}"


async def order_reserves(conn: AsyncConnection, scope: Scope, order_id: str) -> dict[str, Any]:
    """An order's reserves per line; another tenant's order, or another buyer's for a restricted manager, is 404."""
    rows = list(
        await conn.execute(
            sa.select(order_lines)
            .where(order_lines.c.tenant_id == scope.tenant_id, order_lines.c.order_id == order_id)
            .order_by(order_lines.c.confirmed_at, order_lines.c.line_id)
        )
    )
    if not rows or not await may_see_order(conn, scope, order_id):
        raise NotFound("inventory holds nothing for this order", code="order_not_found")
    names = (await conn.execute(sa.select(*order_names(order_id, scope.tenant_id)))).one()
    return {
        "order_id": order_id,
        "order_number": names.order_number,
        "buyer_name": names.buyer_name,
        "fully_reserved": all(r.reserved >= r.requested for r in rows if r.state == "active"),
        "lines": [
            {
                "line_id": r.line_id,
                "sku": r.sku,
                "warehouse_id": r.warehouse_id,
                "requested": fmt(r.requested),
                "reserved": fmt(r.reserved),
                "shortage": fmt(max(0, r.requested - r.reserved)) if r.state == "active" else "0",
                "state": r.state,
                "confirmed_at": r.confirmed_at.isoformat(),
            }
            for r in rows
        ],
    }


async def line_reserves(conn: AsyncConnection, scope: Scope, order_id: str, line_id: str) -> dict[str, Any]:
    """Drill-down from an order line: its current reserve and every ledger entry behind it (R-RSV-5)."""
    tenant = scope.tenant_id
    body = await order_reserves(conn, scope, order_id)
    line = next((x for x in body["lines"] if x["line_id"] == line_id), None)
    if line is None:
        raise NotFound("no such line in this order's reserves", code="line_not_found")
    rows = await conn.execute(
        sa.select(reserve_ledger)
        .where(reserve_ledger.c.tenant_id == tenant, reserve_ledger.c.line_id == line_id)
        .order_by(reserve_ledger.c.id)
    )
    return {
        **line,
        "order_id": order_id,
        "order_number": body["order_number"],
        "buyer_name": body["buyer_name"],
        "entries": [_ledger(r) for r in rows],
    }


def _ledger(r: Any) -> dict[str, Any]:
    return {
        "kind": r.kind,
        "order_id": r.order_id,
        "line_id": r.line_id,
        "warehouse_id": r.warehouse_id,
        "sku": r.sku,
        "quantity": fmt(r.quantity),
        "reason": r.reason,
        "by_user_id": r.by_user_id,
        "at": r.created_at.isoformat(),
    }


async def item_reserves(conn: AsyncConnection, scope: Scope, warehouse_id: str, sku: str) -> dict[str, Any]:
    """Drill-down from a warehouse item: the orders, manual and Integration entries holding it (R-RSV-5).

    A restricted manager sees the item's totals, but only their own buyers' orders among the holders (R-ACC-1)."""
    tenant = scope.tenant_id
    await check_warehouse(conn, tenant, warehouse_id)
    item = await item_row(conn, tenant, warehouse_id, sku)
    holders: list[dict[str, Any]] = []
    visible = [
        order_lines.c.tenant_id == tenant,
        order_lines.c.warehouse_id == warehouse_id,
        order_lines.c.sku == sku,
        order_lines.c.state == "active",
    ]
    if scope.restricted:
        visible.append(order_lines.c.order_id.in_(own_orders(scope)))
    orders = await conn.execute(
        sa.select(order_lines, *order_names(order_lines.c.order_id, order_lines.c.tenant_id))
        .where(*visible)
        .order_by(order_lines.c.confirmed_at, order_lines.c.line_id)
    )
    for r in orders:
        holders.append(
            {
                "kind": "order",
                "order_id": r.order_id,
                "order_number": r.order_number,
                "buyer_name": r.buyer_name,
                "line_id": r.line_id,
                "reserved": fmt(r.reserved),
                "requested": fmt(r.requested),
                "shortage": fmt(max(0, r.requested - r.reserved)),
                "since": r.confirmed_at.isoformat(),
            }
        )
    for h in await conn.execute(
        sa.select(holds).where(holds.c.tenant_id == tenant, holds.c.warehouse_id == warehouse_id, holds.c.sku == sku)
    ):
        holders.append(
            {
                "kind": h.kind,
                "reserved": fmt(h.quantity),
                "reason": h.reason,
                "by_user_id": h.by_user_id,
                "since": h.updated_at.isoformat(),
            }
        )
    return {**item, "holders": holders}


async def list_holds(
    conn: AsyncConnection, tenant: str, *, kind: str, warehouse_id: str, sku: str, limit: int, offset: int
) -> dict[str, Any]:
    stmt = sa.select(holds).where(holds.c.tenant_id == tenant)
    if kind:
        stmt = stmt.where(holds.c.kind == kind)
    if warehouse_id:
        stmt = stmt.where(holds.c.warehouse_id == warehouse_id)
    if sku:
        stmt = stmt.where(holds.c.sku == sku)
    rows, total = await _page(conn, stmt, [holds.c.sku, holds.c.warehouse_id, holds.c.kind], limit, offset)
    items = [
        {
            "warehouse_id": h.warehouse_id,
            "sku": h.sku,
            "kind": h.kind,
            "quantity": fmt(h.quantity),
            "reason": h.reason,
            "by_user_id": h.by_user_id,
            "updated_at": h.updated_at.isoformat(),
        }
        for h in rows
    ]
    return _page_body(items, total, limit, offset)


async def reserve_drift(conn: AsyncConnection, tenant: str | None = None) -> list[dict[str, Any]]:
    """Items whose reserved projection differs from the sum of their ledger rows: of one tenant, or of all (the
    reconciler)."""
    ledger = (
        sa.select(
            reserve_ledger.c.tenant_id,
            reserve_ledger.c.warehouse_id,
            reserve_ledger.c.sku,
            sa.func.sum(reserve_ledger.c.quantity).label("total"),
        )
        .where(*([reserve_ledger.c.tenant_id == tenant] if tenant is not None else []))
        .group_by(reserve_ledger.c.tenant_id, reserve_ledger.c.warehouse_id, reserve_ledger.c.sku)
        .subquery()
    )
    stmt = (
        sa.select(
            stock.c.tenant_id,
            stock.c.warehouse_id,
            stock.c.sku,
            stock.c.reserved,
            sa.func.coalesce(ledger.c.total, 0).label("ledger"),
        )
        .select_from(
            stock.outerjoin(
                ledger,
                sa.and_(
                    ledger.c.tenant_id == stock.c.tenant_id,
                    ledger.c.warehouse_id == stock.c.warehouse_id,
                    ledger.c.sku == stock.c.sku,
                ),
            )
        )
        .where(
            stock.c.reserved != sa.func.coalesce(ledger.c.total, 0),
            *([stock.c.tenant_id == tenant] if tenant is not None else []),
        )
    )
    out: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(dict)
    for r in await conn.execute(stmt):
        out[(r.tenant_id, r.warehouse_id, r.sku)] = {
            "tenant_id": r.tenant_id,
            "warehouse_id": r.warehouse_id,
            "sku": r.sku,
            "projection": int(r.reserved),
            "ledger": int(r.ledger),
        }
    return list(out.values())
