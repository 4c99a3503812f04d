"""Helpers shared by the inventory use cases: metrics, lookups, validation, uploads."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import order_lines, products, warehouses
from oms_inventory.domain import LineTarget, WarehouseIndex, to_units
from oms_inventory.reserves import PRODUCER, insert_ignore
from oms_shared.contracts import OrderLine, OrderStatus, ProductUpdatedData, ProductUpdatedV1, make_event
from oms_shared.db import Tx, utcnow
from oms_shared.errors import Invalid, NotFound, RowError
from oms_shared.spreadsheets import SheetLimits, kind_of, read_upload

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
            "Warehouse items whose reserved projection differs from the ledger or its holders, or with drifting lines",
            registry=registry,
        )
        self.drift_units = Gauge(
            "oms_inventory_reserve_drift_units",
            "Sum of |projection - ledger| over all items (units)",
            registry=registry,
        )
        self.holder_drift_units = Gauge(
            "oms_inventory_reserve_holder_drift_units",
            "Sum of |projection - (active order lines + holds)| over all items (units)",
            registry=registry,
        )
        self.drift_lines = Gauge(
            "oms_inventory_reserve_drift_lines",
            "Order lines whose ledger differs from their reserve (or released lines still showing one)",
            registry=registry,
        )
        self.order_events_skipped = Counter(
            "oms_inventory_order_events_skipped_total",
            "Order events not applied: stale (older than the version applied) or closed (the order is final)",
            ["reason"],
            registry=registry,
        )
        # Every known label at zero from the start: an alert on the first increase needs a series before it.
        for outcome in ("full", "partial", "none"):
            self.reservations.labels(outcome)
        for reason in ("stale", "closed"):
            self.order_events_skipped.labels(reason)
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
            # What the ERP shipped of a line is no longer held (R-ERP-5): only the rest is.
            requested=max(0, to_units(line.quantity) - to_units(line.shipped_quantity)),
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


async def upsert_product(conn: AsyncConnection, tenant: str, sku: str, name: str | None, unit: str | None) -> bool:
    """Create the product, or rename it / change its unit when given; answers whether anything changed (the
    other services then hear of it: ``publish_products``)."""
    name = name[:300] if name else name
    unit = unit[:30] if unit else unit
    where = (products.c.tenant_id == tenant, products.c.sku == sku)
    before = (await conn.execute(sa.select(products.c.name, products.c.unit).where(*where))).first()
    if before is None:
        await insert_ignore(
            conn,
            products,
            {"tenant_id": tenant, "sku": sku, "name": name or sku, "unit": unit or "", "updated_at": utcnow()},
            ["tenant_id", "sku"],
        )
    changes: dict[str, Any] = {}
    if name and (before is None or before.name != name):
        changes["name"] = name
    if unit and (before is None or before.unit != unit):
        changes["unit"] = unit
    if changes:
        await conn.execute(products.update().where(*where).values(updated_at=utcnow(), **changes))
    return before is None or bool(changes)


async def publish_products(tx: Tx, tenant: str, skus: Sequence[str]) -> None:
    """Tell the other services (orders builds price lists from them) the products as they are now."""
    wanted = sorted(set(skus))
    if not wanted:
        return
    rows = await tx.conn.execute(
        sa.select(products.c.sku, products.c.name, products.c.unit).where(
            products.c.tenant_id == tenant, products.c.sku.in_(wanted)
        )
    )
    for row in rows.all():
        data = ProductUpdatedData(sku=row.sku, name=row.name, unit=row.unit or "")
        await tx.publish(
            make_event(
                ProductUpdatedV1, tenant_id=uuid.UUID(tenant), aggregate_id=row.sku, data=data, producer=PRODUCER
            )
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
    known: dict[str, str] = {}
    if skus:
        found = await conn.execute(
            sa.select(products.c.sku, products.c.unit).where(products.c.tenant_id == tenant, products.c.sku.in_(skus))
        )
        known = {row.sku: row.unit for row in found.all()}
    return WarehouseIndex(
        own_ids=frozenset(r.warehouse_id for r in own_rows),
        codes={r.code: r.warehouse_id for r in own_rows},
        foreign_ids=frozenset(foreign),
        skus=frozenset(known),
        units=known,
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


# A stock file: as many rows as one JSON request of stock may carry, and the shared upload limits.
UPLOAD_LIMITS = SheetLimits(max_rows=10_000)


async def parse_upload(filename: str, content: bytes, limits: SheetLimits = UPLOAD_LIMITS) -> list[dict[str, str]]:
    """Rows of an uploaded CSV or .xlsx file as dicts keyed by lower-case header, read off the event loop
    within the limits (zip directory checked first, rows and columns bounded, a deadline)."""
    sheet = await read_upload(content, limits, kind=kind_of(filename, content))
    return sheet.records()
