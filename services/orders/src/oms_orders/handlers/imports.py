"""Excel import by a manager (R-IN-3): a template, every row validated, all or nothing, the order in Editing."""

from __future__ import annotations

import io
import uuid

import sqlalchemy as sa
from openpyxl import Workbook

from oms_orders import domain
from oms_orders.db import warehouses
from oms_orders.handlers.catalog import buyer_for, price_list_for
from oms_orders.handlers.common import load_ids
from oms_orders.handlers.communication import TooLarge
from oms_orders.handlers.orders import insert_order, price_items
from oms_shared.auth import Principal
from oms_shared.db import Database, declare_outcome
from oms_shared.spreadsheets import SheetLimits, read_upload

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def template_bytes() -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "order"
    ws.append(["SKU", "Warehouse", "Quantity"])
    ws.append(["A-1", "MAIN", 10])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


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
    columns = domain.import_columns(header)
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
