"""The order list for a UI (R-LS-1): filters in any combination, search, sort by every column, pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from oms_orders import domain
from oms_orders.db import accounts, buyers, orders
from oms_orders.handlers.common import dec, iso, restricted
from oms_shared.auth import Principal
from oms_shared.db import Database
from oms_shared.errors import Invalid

SORTS: dict[str, list[sa.ColumnElement[Any]]] = {
    "buyer": [orders.c.buyer_name],
    "price_list": [orders.c.price_list_name],
    "number": [orders.c.root_number, orders.c.number],
    "created_at": [orders.c.created_at],
    "shipment_date": [orders.c.shipment_date],
    "updated_at": [orders.c.updated_at],
    "total": [orders.c.total],
    "paid_amount": [orders.c.paid_amount],
    "status": [orders.c.status],
}


@dataclass
class OrderQuery:
    statuses: list[str] = field(default_factory=list)
    buyer_id: str | None = None
    price_list_id: str | None = None
    number: str | None = None
    search: str = ""
    created_from: date | None = None
    created_to: date | None = None
    shipment_from: date | None = None
    shipment_to: date | None = None
    updated_from: date | None = None
    updated_to: date | None = None
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    paid_min: Decimal | None = None
    paid_max: Decimal | None = None
    overdue: bool | None = None
    sort: str = "-created_at"
    limit: int = 50
    offset: int = 0


def _day_start(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _day_after(value: date) -> datetime:
    return _day_start(value + timedelta(days=1))


def summary_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "order_id": row.id,
        "number": row.number,
        "status": row.status,
        "version": row.version,
        "supplier_id": row.supplier_id,
        "supplier_name": row.supplier_name,
        "buyer_id": row.buyer_id,
        "buyer_name": row.buyer_name,
        "price_list_id": row.price_list_id,
        "price_list_name": row.price_list_name,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "desired_shipment_date": iso(row.desired_shipment_date),
        "shipment_date": iso(row.shipment_date),
        "responsible_user_id": row.responsible_user_id,
        "total": dec(row.total),
        "paid_amount": dec(row.paid_amount),
        "overdue": row.overdue,
        "rejected": row.status == domain.Status.REJECTED.value,
        "reserve_status": row.reserve_status,
        "parent_order_id": row.parent_order_id,
    }


async def list_orders(db: Database, principal: Principal, q: OrderQuery) -> dict[str, Any]:
    where: list[sa.ColumnElement[bool]] = []
    if principal.is_supplier:
        principal.require("orders", "read")
        where += [orders.c.supplier_id == str(principal.account_id), orders.c.deleted_by_supplier.is_(False)]
        if restricted(principal):
            mine = sa.select(buyers.c.id).where(
                buyers.c.supplier_id == str(principal.account_id),
                buyers.c.manager_user_ids.contains(str(principal.user_id)),
            )
            where.append(orders.c.buyer_id.in_(mine))
    else:
        where += [orders.c.buyer_account_id == str(principal.account_id), orders.c.deleted_by_buyer.is_(False)]
    bad = [s for s in q.statuses if s not in {st.value for st in domain.Status}]
    if bad:
        raise Invalid(f"unknown status {bad[0]!r}", code="invalid_filter", details={"status": bad})
    if q.statuses:
        where.append(orders.c.status.in_(q.statuses))
    if q.buyer_id:
        where.append(orders.c.buyer_id == q.buyer_id)
    if q.price_list_id:
        where.append(orders.c.price_list_id == q.price_list_id)
    if q.number:
        where.append(orders.c.number == q.number)
    if q.search:
        text = q.search.strip().lower()
        where.append(
            sa.or_(
                sa.func.lower(orders.c.buyer_name).contains(text, autoescape=True),
                orders.c.number.startswith(text, autoescape=True),
            )
        )
    for column, lo, hi in (
        (orders.c.created_at, q.created_from, q.created_to),
        (orders.c.updated_at, q.updated_from, q.updated_to),
    ):
        if lo:
            where.append(column >= _day_start(lo))
        if hi:
            where.append(column < _day_after(hi))
    if q.shipment_from:
        where.append(orders.c.shipment_date >= q.shipment_from)
    if q.shipment_to:
        where.append(orders.c.shipment_date <= q.shipment_to)
    for column, lo_value, hi_value in (
        (orders.c.total, q.total_min, q.total_max),
        (orders.c.paid_amount, q.paid_min, q.paid_max),
    ):
        if lo_value is not None:
            where.append(column >= lo_value)
        if hi_value is not None:
            where.append(column <= hi_value)
    if q.overdue is not None:
        where.append(orders.c.overdue.is_(q.overdue))
    key = q.sort.lstrip("-+")
    if key not in SORTS:
        raise Invalid(f"cannot sort by {key!r}", code="invalid_sort", details={"allowed": sorted(SORTS)})
    desc = q.sort.startswith("-")
    order_by = [c.desc() if desc else c.asc() for c in SORTS[key]]
    order_by.append(orders.c.id.desc() if desc else orders.c.id.asc())
    query = (
        sa.select(orders, accounts.c.name.label("supplier_name"))
        .join(accounts, accounts.c.id == orders.c.supplier_id)
        .where(*where)
        .order_by(*order_by)
        .limit(q.limit)
        .offset(q.offset)
    )
    async with db.read() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(orders).where(*where))
        rows = (await conn.execute(query)).all()
    return {"items": [summary_json(r) for r in rows], "total": total or 0, "limit": q.limit, "offset": q.offset}
