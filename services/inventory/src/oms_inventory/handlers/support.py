"""Helpers shared by the inventory use cases: metrics, lookups, validation, uploads."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import order_lines, products, warehouses
from oms_inventory.domain import LineTarget, WarehouseIndex, read_csv_rows, to_units
from oms_inventory.reserves import insert_ignore
from oms_shared.contracts import OrderLine, OrderStatus
from oms_shared.db import utcnow
from oms_shared.errors import Invalid, NotFound, RowError

log = logging.getLogger(__name__)

MAX_SKU = 100  # the width of the sku columns

# Statuses in which an order keeps its reserves (edits of a confirmed order adjust them).
HOLDING_STATUSES = {
    OrderStatus.CONFIRMED,
    OrderStatus.EDITING,
    OrderStatus.AWAITING_APPROVAL,
    OrderStatus.AGREED,
}


class InventoryMetrics:
    """Reserve outcomes and the reconciler's drift, on the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.reservations = Counter(
            "oms_inventory_reservations_total",
            "Order confirmations reserved, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.drift_items = Gauge(
            "oms_inventory_reserve_drift_items",
            "Warehouse items whose reserved projection differs from the ledger",
            registry=registry,
        )
        self.drift_units = Gauge(
            "oms_inventory_reserve_drift_units",
            "Sum of |projection - ledger| over all items (units)",
            registry=registry,
        )
        self.reconcile_runs = Counter("oms_inventory_reconcile_runs_total", "Reconciler passes", registry=registry)
        self.snapshots_expired = Counter(
            "oms_inventory_erp_snapshots_expired_total",
            "ERP stock snapshots in parts forgotten because not every part arrived in time",
            registry=registry,
        )


def line_targets(lines: Sequence[OrderLine]) -> list[LineTarget]:
    return [
        LineTarget(
            line_id=str(line.line_id),
            sku=line.sku,
            warehouse_id=str(line.warehouse_id) if line.warehouse_id else None,
            requested=max(0, to_units(line.quantity)),
        )
        for line in lines
    ]


async def order_lines_state(conn: AsyncConnection, tenant: str, order_id: str) -> list[tuple[int, int]]:
    rows = await conn.execute(
        sa.select(order_lines.c.requested, order_lines.c.reserved).where(
            order_lines.c.tenant_id == tenant, order_lines.c.order_id == order_id, order_lines.c.state == "active"
        )
    )
    return [(r.requested, r.reserved) for r in rows]


async def holds_any(conn: AsyncConnection, tenant: str, order_id: str) -> bool:
    return bool(await order_lines_state(conn, tenant, order_id))


async def holds_lines(conn: AsyncConnection, tenant: str, line_ids: list[str]) -> bool:
    if not line_ids:
        return False
    n = await conn.scalar(
        sa.select(sa.func.count()).where(
            order_lines.c.tenant_id == tenant, order_lines.c.line_id.in_(line_ids), order_lines.c.state == "active"
        )
    )
    return bool(n)


async def upsert_product(conn: AsyncConnection, tenant: str, sku: str, name: str | None, unit: str | None) -> None:
    name = name[:300] if name else name
    unit = unit[:30] if unit else unit
    await insert_ignore(
        conn,
        products,
        {"tenant_id": tenant, "sku": sku, "name": name or sku, "unit": unit or "", "updated_at": utcnow()},
        ["tenant_id", "sku"],
    )
    changes: dict[str, Any] = {}
    if name:
        changes["name"] = name
    if unit:
        changes["unit"] = unit
    if changes:
        await conn.execute(
            products.update()
            .where(products.c.tenant_id == tenant, products.c.sku == sku)
            .values(updated_at=utcnow(), **changes)
        )


async def warehouse_index(conn: AsyncConnection, tenant: str, rows: Sequence[Any]) -> WarehouseIndex:
    own = await conn.execute(
        sa.select(warehouses.c.warehouse_id, warehouses.c.code).where(warehouses.c.tenant_id == tenant)
    )
    own_rows = list(own)
    asked: set[str] = set()
    skus: set[str] = set()
    for r in rows:
        if isinstance(r, Mapping):
            try:
                asked.add(str(uuid.UUID(str(r.get("warehouse_id")))))
            except ValueError:
                pass
            skus.add(str(r.get("sku") or "").strip())
    foreign: set[str] = set()
    if asked:
        foreign = set(
            (
                await conn.execute(
                    sa.select(warehouses.c.warehouse_id).where(
                        warehouses.c.warehouse_id.in_(asked), warehouses.c.tenant_id != tenant
                    )
                )
            ).scalars()
        )
    known = set()
    if skus:
        known = set(
            (
                await conn.execute(
                    sa.select(products.c.sku).where(products.c.tenant_id == tenant, products.c.sku.in_(skus))
                )
            ).scalars()
        )
    return WarehouseIndex(
        own_ids=frozenset(r.warehouse_id for r in own_rows),
        codes={r.code: r.warehouse_id for r in own_rows},
        foreign_ids=frozenset(foreign),
        skus=frozenset(known),
    )


def raise_row_errors(errors: list[RowError]) -> None:
    if not errors:
        return
    details = [e.as_dict() for e in errors]
    raise Invalid(f"{len(errors)} row(s) are not valid; nothing was applied", code="invalid_rows", details=details)


async def check_item(conn: AsyncConnection, tenant: str, warehouse_id: str, sku: str) -> None:
    owner = await conn.scalar(sa.select(warehouses.c.tenant_id).where(warehouses.c.warehouse_id == warehouse_id))
    if owner is None or owner != tenant:  # another account's: answered as unknown
        raise NotFound(f"no warehouse {warehouse_id}", code="unknown_warehouse")
    known = await conn.scalar(sa.select(sa.func.count()).where(products.c.tenant_id == tenant, products.c.sku == sku))
    if not known:
        raise NotFound(f"no product with SKU {sku!r}", code="unknown_sku")


def parse_upload(filename: str, content: bytes) -> list[dict[str, str]]:
    """Rows of an uploaded CSV or .xlsx file as dicts keyed by lower-case header."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        try:
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:
            raise Invalid(f"not a readable .xlsx file: {exc}", code="unreadable_file") from None
        sheet = wb.worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        if not values:
            return []
        header = [str(h or "").strip().lower() for h in values[0]]
        out = []
        for raw in values[1:]:
            if raw is None or all(v in (None, "") for v in raw):
                continue
            out.append({header[i]: "" if v is None else str(v).strip() for i, v in enumerate(raw) if i < len(header)})
        return out
    if name.endswith(".csv") or name.endswith(".txt"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("cp1251", errors="replace")
        return read_csv_rows(text)
    raise Invalid("upload a .csv or .xlsx file", code="unsupported_file_type")
