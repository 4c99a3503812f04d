"""Excel import by a manager (R-IN-3): a template, every row validated, all or nothing, the order in Editing."""

from __future__ import annotations

import asyncio
import io
import uuid
from decimal import Decimal

import sqlalchemy as sa
from openpyxl import Workbook

from oms_orders import domain
from oms_orders.db import price_list_items, users, warehouses
from oms_orders.handlers.catalog import buyer_for, price_list_for
from oms_orders.handlers.common import load_ids
from oms_orders.handlers.communication import TooLarge
from oms_orders.handlers.orders import insert_order, price_items
from oms_shared.auth import Principal
from oms_shared.db import Database, declare_outcome
from oms_shared.spreadsheets import SheetLimits, read_upload

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# The template's headers in the user's language; the import reads either language (domain.import_columns).
HEADERS = {
    "ru": {
        "sku": "Артикул",
        "name": "Наименование",
        "unit": "Ед. изм.",
        "price": "Цена",
        "warehouse": "Склад",
        "quantity": "Количество",
        "sheet": "Заказ",
    },
    "en": {
        "sku": "SKU",
        "name": "Name",
        "unit": "Unit",
        "price": "Price",
        "warehouse": "Warehouse",
        "quantity": "Quantity",
        "sheet": "Order",
    },
}


def language(asked: str | None, locale: str | None = None, accept_language: str | None = None) -> str:
    """The template's language: the one asked for, else the user's, else the browser's (Accept-Language), else
    Russian."""
    for candidate in (asked, locale, *(accept_language or "").split(",")):
        code = (candidate or "").split(";")[0].strip().lower()[:2]
        if code in HEADERS:
            return code
    return "ru"


def _save(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def template_bytes(lang: str = "ru") -> bytes:
    """The generic template: one row per line (SKU, warehouse code, quantity), headers in ``lang``."""
    h = HEADERS[lang]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = h["sheet"]
    ws.append([h["sku"], h["warehouse"], h["quantity"]])
    ws.append(["A-1", "MAIN", 10])
    return _save(wb)


def warehouse_header(warehouse_id: str, code: str, name: str) -> str:
    """A warehouse column's header: its name with its code in brackets, which the import reads back."""
    key = code or warehouse_id
    return f"{name} [{key}]" if name and name != key else f"[{key}]"


def price_list_template_bytes(
    lang: str, items: list[tuple[str, str, str, Decimal]], warehouse_columns: list[str]
) -> bytes:
    """A price list's template: a row per product (SKU, name, unit, price) and a quantity column per warehouse of
    the list; the manager fills in quantities where they want them."""
    h = HEADERS[lang]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = h["sheet"]
    ws.append([h["sku"], h["name"], h["unit"], h["price"], *warehouse_columns])
    for sku, name, unit, price in items:
        ws.append([sku, name, unit, price, *([None] * len(warehouse_columns))])
    ws.freeze_panes = "B2"
    ws.column_dimensions["B"].width = 40
    return _save(wb)


async def price_list_template(
    db: Database, principal: Principal, price_list_id: uuid.UUID, asked: str | None, accept_language: str | None
) -> tuple[bytes, str]:
    """The template of one price list (R-IN-3): its products, and its warehouses as columns; headers in the
    language asked for, else the user's (their profile's locale), else the browser's. Answers (file, file name)."""
    principal.require("orders", "read")
    async with db.read() as conn:
        locale = await conn.scalar(sa.select(users.c.locale).where(users.c.id == str(principal.user_id)))
        lang = language(asked, locale, accept_language)
        price_list = await price_list_for(conn, principal, price_list_id)
        items = await price_items(conn, price_list.id)
        ordered = (
            await conn.execute(
                sa.select(price_list_items.c.sku)
                .where(price_list_items.c.price_list_id == price_list.id)
                .order_by(price_list_items.c.position)
            )
        ).scalars()
        wh_ids = load_ids(price_list.warehouse_ids)
        known = {
            w.id: w
            for w in await conn.execute(
                sa.select(warehouses.c.id, warehouses.c.code, warehouses.c.name).where(warehouses.c.id.in_(wh_ids))
            )
        }
    columns = [
        warehouse_header(w, known[w].code, known[w].name) if w in known else warehouse_header(w, "", "") for w in wh_ids
    ]
    rows = [(sku, items[sku].name, items[sku].unit, items[sku].price) for sku in ordered]
    content = await asyncio.to_thread(price_list_template_bytes, lang, rows, columns)
    return content, f"{price_list.name} - {HEADERS[lang]['sheet'].lower()}.xlsx"


def limits(max_rows: int) -> SheetLimits:
    """What an imported order sheet may hold: ``max_rows`` rows (empty ones count) and the shared upload limits."""
    return SheetLimits(max_rows=max_rows)


async def import_order(
    db: Database,
    principal: Principal,
    *,
    buyer_id: uuid.UUID,
    price_list_id: uuid.UUID,
    content: bytes,
    max_bytes: int,
    max_rows: int,
) -> str:
    """Create an order in Editing for a buyer from an .xlsx of SKU, warehouse (code or id), quantity."""
    principal.require("orders", "change")
    if len(content) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    sheet = await read_upload(content, limits(max_rows))  # off the loop, bounded, zip checked first
    header, rows = sheet.header, sheet.rows
    async with db.transaction() as tx:
        buyer = await buyer_for(tx.conn, principal, buyer_id)
        price_list = await price_list_for(tx.conn, principal, price_list_id)
        known = (
            await tx.conn.execute(
                sa.select(warehouses.c.id, warehouses.c.code).where(
                    warehouses.c.supplier_id == price_list.supplier_id, warehouses.c.deleted.is_(False)
                )
            )
        ).all()
        by_code: dict[str, str] = {}
        for w in known:
            by_code[w.id.lower()] = w.id
            if w.code:
                by_code[w.code.lower()] = w.id
        # A price list's template has a quantity column per warehouse; the generic one a row per line.
        columns, rows = domain.import_layout(header, rows, by_code)
        lines = domain.validate_import(
            rows, columns, await price_items(tx.conn, price_list.id), set(load_ids(price_list.warehouse_ids)), by_code
        )
        row, _lines = await insert_order(
            tx,
            supplier_id=price_list.supplier_id,
            buyer=buyer,
            price_list=price_list,
            lines=lines,
            status=domain.Status.EDITING,
            by_user_id=str(principal.user_id),
            by_side=domain.Side.SUPPLIER,
        )
        # Should the answer be lost after this commits, a retry with the same Idempotency-Key gets this order.
        declare_outcome(201, f"/api/v1/orders/{row.id}")
        return str(row.id)
