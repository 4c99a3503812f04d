"""The order list for a UI (R-LS-1): filters in any combination, search, sort by every column, pages."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import domain
from oms_orders.db import accounts, buyers, order_lines, orders
from oms_orders.handlers.common import dec, fold, iso, restricted, user_names
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
NULLABLE_SORTS = {"shipment_date"}  # NULLs last going up, first going down (PostgreSQL's order, also on SQLite)
MAX_OFFSET = 10_000  # deeper pages walk the index entry by entry: use the cursor
EXPORT_MAX_ROWS = 10_000  # one workbook; more is refused with export_too_large
COUNT_CAP = 10_000  # `total` counts at most this many matches (+1 to know there are more); a UI shows "10,000+"


@dataclass
class OrderQuery:
    statuses: list[str] = field(default_factory=list)
    buyer_id: str | None = None
    price_list_id: str | None = None
    supplier_id: str | None = None
    responsible_user_id: str | None = None
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
    cursor: str | None = None


def _day_start(value: date) -> datetime:
    return datetime.combine(value, time.min, tzinfo=UTC)


def _day_after(value: date) -> datetime:
    return _day_start(value + timedelta(days=1))


def summary_json(row: sa.Row[Any], vat: Decimal | None = None, names: dict[str, str] | None = None) -> dict[str, Any]:
    body = {
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
        "responsible_user_name": (names or {}).get(row.responsible_user_id or "", ""),
        "total": dec(row.total),
        "paid_amount": dec(row.paid_amount),
        "overdue": row.overdue,
        "rejected": row.status == domain.Status.REJECTED.value,
        "reserve_status": row.reserve_status,
        "parent_order_id": row.parent_order_id,
        "currency": row.currency,
        "vat_mode": "included" if row.vat_included else "on_top",
        "gross_total": dec(row.total),
    }
    if vat is not None:
        body["vat_amount"] = dec(vat)
        body["net_total"] = dec(row.total - vat)
    return body


async def _vat_of(conn: AsyncConnection, page: Sequence[sa.Row[Any]]) -> dict[str, Decimal]:
    """Each order's VAT (the sum of its lines' VAT, as the order's answer computes it), in one read."""
    included = {r.id: r.vat_included for r in page}
    vat = dict.fromkeys(included, Decimal(0))
    if not page:
        return vat
    lines = await conn.execute(
        sa.select(order_lines.c.order_id, order_lines.c.quantity, order_lines.c.price, order_lines.c.vat_rate).where(
            order_lines.c.order_id.in_(list(included))
        )
    )
    for x in lines:
        amount = domain.line_amount(Decimal(x.quantity), Decimal(x.price))
        vat[x.order_id] += domain.line_vat(amount, Decimal(x.vat_rate), vat_included=included[x.order_id])
    return vat


def _filters(principal: Principal, q: OrderQuery) -> list[sa.ColumnElement[bool]]:
    """The caller's orders (R-ACC-4, restricted managers: their buyers') narrowed by every filter of ``q``."""
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
    if q.supplier_id:
        where.append(orders.c.supplier_id == q.supplier_id)
    if q.responsible_user_id:
        where.append(orders.c.responsible_user_id == q.responsible_user_id)
    if q.number:
        where.append(orders.c.number == q.number)
    if q.search:
        text = fold(q.search)
        where.append(
            sa.or_(
                orders.c.buyer_name_search.contains(text, autoescape=True),
                orders.c.number.startswith(q.search.strip(), autoescape=True),
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
    return where


def _sorting(q: OrderQuery) -> tuple[list[sa.ColumnElement[Any]], list[sa.ColumnElement[Any]], bool, bool]:
    """The sort's key columns, the ORDER BY terms (the id last, so the order is total), descending, nullable."""
    key = q.sort.lstrip("-+")
    if key not in SORTS:
        raise Invalid(f"cannot sort by {key!r}", code="invalid_sort", details={"allowed": sorted(SORTS)})
    desc = q.sort.startswith("-")
    columns = SORTS[key]
    nullable = key in NULLABLE_SORTS
    order_by: list[sa.ColumnElement[Any]] = []
    for c in columns:
        term = c.desc() if desc else c.asc()
        order_by.append((term.nulls_first() if desc else term.nulls_last()) if nullable else term)
    order_by.append(orders.c.id.desc() if desc else orders.c.id.asc())
    return columns, order_by, desc, nullable


async def _sums(conn: AsyncConnection, where: list[sa.ColumnElement[bool]]) -> list[dict[str, str]]:
    """The money columns summed over every matching order (not just the page), per currency."""
    rows = await conn.execute(
        sa.select(orders.c.currency, sa.func.sum(orders.c.total), sa.func.sum(orders.c.paid_amount))
        .where(*where)
        .group_by(orders.c.currency)
        .order_by(orders.c.currency)
    )
    return [{"currency": c, "total": dec(total), "paid_amount": dec(paid)} for c, total, paid in rows]


async def list_orders(
    db: Database, principal: Principal, q: OrderQuery, *, count_cap: int = COUNT_CAP
) -> dict[str, Any]:
    where = _filters(principal, q)
    columns, order_by, desc, nullable = _sorting(q)
    if q.offset > MAX_OFFSET:
        raise Invalid(
            f"offset {q.offset} is past {MAX_OFFSET}: narrow the filters or use the cursor",
            code="offset_too_deep",
            details={"max_offset": MAX_OFFSET},
        )
    page_where = list(where)
    if q.cursor:
        if q.offset:
            raise Invalid("use either offset or cursor, not both", code="invalid_cursor")
        page_where.append(_after_cursor(q.cursor, q.sort, columns, desc, nullable))
    query = (
        sa.select(orders, accounts.c.name.label("supplier_name"))
        .join(accounts, accounts.c.id == orders.c.supplier_id)
        .where(*page_where)
        .order_by(*order_by)
        .limit(q.limit + 1)
        .offset(q.offset)
    )
    matching = sa.select(sa.literal(1)).select_from(orders).where(*where).limit(count_cap + 1).subquery()
    async with db.read() as conn:
        counted = await conn.scalar(sa.select(sa.func.count()).select_from(matching)) or 0
        sums = await _sums(conn, where) if counted <= count_cap else None
        rows = (await conn.execute(query)).all()
        more = len(rows) > q.limit
        rows = rows[: q.limit]
        vat = await _vat_of(conn, rows)
        names = await user_names(conn, [r.responsible_user_id for r in rows])
    return {
        "items": [summary_json(r, vat[r.id], names) for r in rows],
        "total": min(counted, count_cap),
        "total_exact": counted <= count_cap,
        "sums": sums,
        "limit": q.limit,
        "offset": q.offset,
        "next_cursor": encode_cursor(q.sort, [rows[-1]._mapping[c] for c in columns], rows[-1].id) if more else None,
    }


async def export_rows(
    db: Database, principal: Principal, q: OrderQuery, *, max_rows: int | None = None
) -> list[dict[str, Any]]:
    """Every order the list shows with the same filters and sort (R-UI-3), as list rows; more than ``max_rows``
    is refused (narrow the filters), never cut short silently."""
    max_rows = max_rows or EXPORT_MAX_ROWS
    where = _filters(principal, q)
    _, order_by, _, _ = _sorting(q)
    query = (
        sa.select(orders, accounts.c.name.label("supplier_name"))
        .join(accounts, accounts.c.id == orders.c.supplier_id)
        .where(*where)
        .order_by(*order_by)
        .limit(max_rows + 1)
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
        if len(rows) > max_rows:
            raise Invalid(
                f"more than {max_rows} orders match: narrow the filters to export them",
                code="export_too_large",
                details={"max_rows": max_rows},
            )
        vat: dict[str, Decimal] = {}
        for start in range(0, len(rows), 500):
            vat.update(await _vat_of(conn, rows[start : start + 500]))
        names = await user_names(conn, [r.responsible_user_id for r in rows])
    return [summary_json(r, vat[r.id], names) for r in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(sort: str, values: list[Any], order_id: str) -> str:
    """Opaque to clients: the sort it belongs to, the last row's sort key and id."""
    raw = json.dumps({"s": sort, "k": [_plain(v) for v in values], "id": order_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _typed(column: sa.ColumnElement[Any], value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.Date):
        return date.fromisoformat(value)
    if isinstance(kind, sa.Numeric):
        return Decimal(value)
    if isinstance(kind, sa.Integer):
        return int(value)
    if isinstance(kind, sa.String):
        return str(value)
    parsed = datetime.fromisoformat(value)  # UtcDateTime
    if parsed.tzinfo is None:
        raise ValueError("naive datetime")
    return parsed


def _after_cursor(
    cursor: str, sort: str, columns: list[sa.ColumnElement[Any]], desc: bool, nullable: bool
) -> sa.ColumnElement[bool]:
    """Rows after the cursor's row in the list's order (keyset paging: as fast on page 1,000 as on page 1)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if data["s"] != sort:
            raise Invalid("the cursor belongs to another sort; start again without it", code="invalid_cursor")
        keys = [_typed(c, v) for c, v in zip(columns, data["k"], strict=True)]
        last_id = str(data["id"])
    except (ValueError, TypeError, KeyError, binascii.Error) as exc:
        raise Invalid("malformed cursor; start again without it", code="invalid_cursor") from exc
    ids = orders.c.id
    if nullable and keys[0] is None:  # inside the NULLs: the rest of them, then (going down) every non-NULL
        rest = sa.and_(columns[0].is_(None), ids < last_id if desc else ids > last_id)
        return sa.or_(rest, columns[0].is_not(None)) if desc else rest
    row = sa.tuple_(*columns, ids)
    bound = sa.tuple_(*(sa.bindparam(None, v, type_=c.type) for c, v in zip(columns, keys, strict=True)), last_id)
    after = row < bound if desc else row > bound
    return sa.or_(after, columns[0].is_(None)) if nullable and not desc else after
