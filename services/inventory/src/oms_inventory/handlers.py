"""Use cases of the inventory service: event handlers (in the consumer's transaction) and HTTP commands."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory import queries
from oms_inventory.db import (
    incoming_stock,
    order_lines,
    price_list_items,
    price_lists,
    products,
    stock,
    warehouses,
)
from oms_inventory.domain import (
    LineTarget,
    QuantityError,
    RowError,
    WarehouseIndex,
    fmt,
    parse_date,
    parse_quantity,
    read_csv_rows,
    resolve_warehouse,
    to_units,
    validate_stock_rows,
)
from oms_inventory.reserves import (
    PRODUCER,
    Effects,
    apply_order_lines,
    consume_order,
    ensure_stock_row,
    fill_freed,
    hold_quantity,
    insert_ignore,
    publish_effects,
    release_order,
    set_hold,
    shrink_order_reserves,
)
from oms_shared.contracts import (
    ErpStockImportedV1,
    OrderChangedV1,
    OrderLine,
    OrderStatus,
    OrderStatusChangedV1,
    PriceListUpdatedV1,
    WarehouseUpdatedData,
    WarehouseUpdatedV1,
    make_event,
)
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Conflict, Forbidden, Invalid, NotFound

log = logging.getLogger(__name__)

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


def _targets(lines: Sequence[OrderLine]) -> list[LineTarget]:
    return [
        LineTarget(
            line_id=str(line.line_id),
            sku=line.sku,
            warehouse_id=str(line.warehouse_id) if line.warehouse_id else None,
            requested=max(0, to_units(line.quantity)),
        )
        for line in lines
    ]


class Inventory:
    """The service's use cases with their dependencies (database, metrics)."""

    def __init__(self, db: Database, metrics: InventoryMetrics) -> None:
        self.db = db
        self.metrics = metrics

    # --- events -------------------------------------------------------------------------------

    async def on_order_status_changed(self, event: OrderStatusChangedV1, tx: Tx) -> None:
        """Confirmed → reserve (R-RSV-1); rejected/cancelled → release (R-RSV-4); shipped → consume."""
        data = event.data
        eff = Effects(tenant_id=str(event.tenant_id), cause=str(event.event_id))
        order_id = str(data.order_id)
        if data.to_status == OrderStatus.CONFIRMED:
            await apply_order_lines(
                tx.conn, eff, order_id, _targets(data.lines), confirmed_at=data.changed_at, reason="reserved"
            )
            lines = await order_lines_state(tx.conn, eff.tenant_id, order_id)
            if all(r >= q for q, r in lines):
                outcome = "full"
            elif any(r > 0 for _, r in lines):
                outcome = "partial"
            else:
                outcome = "none"
            self.metrics.reservations.labels(outcome).inc()
        elif data.to_status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
            await release_order(tx.conn, eff, order_id)
        elif data.to_status == OrderStatus.SHIPPED:
            await consume_order(tx.conn, eff, order_id)
        elif data.to_status in HOLDING_STATUSES and data.lines and await _holds_any(tx.conn, eff.tenant_id, order_id):
            await apply_order_lines(
                tx.conn, eff, order_id, _targets(data.lines), confirmed_at=data.changed_at, reason="adjusted"
            )
        else:
            return
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    async def on_order_changed(self, event: OrderChangedV1, tx: Tx) -> None:
        """Lines of a reserved order were edited, moved or deleted: adjust its reserves."""
        data = event.data
        if data.lines is None or data.status not in HOLDING_STATUSES:
            return
        tenant = str(event.tenant_id)
        order_id = str(data.order_id)
        targets = _targets(data.lines)
        # A part split off a reserved order carries lines that already hold stock under the parent.
        if not await _holds_any(tx.conn, tenant, order_id) and not await _holds_lines(
            tx.conn, tenant, [t.line_id for t in targets]
        ):
            return
        eff = Effects(tenant_id=tenant, cause=str(event.event_id))
        kept = [str(c.line_id) for c in data.line_changes if c.field in ("moved", "split")]
        await apply_order_lines(
            tx.conn, eff, order_id, targets, confirmed_at=data.changed_at, reason="adjusted", kept_line_ids=kept
        )
        await fill_freed(tx.conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    async def on_price_list_updated(self, event: PriceListUpdatedV1, tx: Tx) -> None:
        """Keep the local replica of a price list (its SKUs and linked warehouses), newest snapshot wins."""
        data = event.data
        pid = str(data.price_list_id)
        row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.price_list_id == pid))).first()
        if row is not None and row.updated_at > event.occurred_at:
            return
        values = {
            "tenant_id": str(event.tenant_id),
            "name": data.name,
            "warehouse_ids": json.dumps([str(w) for w in data.warehouse_ids]),
            "deleted": data.deleted,
            "updated_at": event.occurred_at,
        }
        if row is None:
            await tx.conn.execute(price_lists.insert().values(price_list_id=pid, **values))
        else:
            await tx.conn.execute(price_lists.update().where(price_lists.c.price_list_id == pid).values(**values))
        await tx.conn.execute(price_list_items.delete().where(price_list_items.c.price_list_id == pid))
        seen: set[str] = set()
        rows = []
        for pos, item in enumerate(data.items):
            if item.sku in seen:
                continue
            seen.add(item.sku)
            rows.append({"price_list_id": pid, "sku": item.sku, "position": pos, "name": item.name, "unit": item.unit})
        if rows:
            await tx.conn.execute(price_list_items.insert(), rows)

    async def on_erp_stock_imported(self, event: ErpStockImportedV1, tx: Tx) -> None:
        """Stock and Integration reserves from the ERP (the ERP wins); a full snapshot zeroes what it omits."""
        tenant = str(event.tenant_id)
        conn = tx.conn
        eff = Effects(tenant_id=tenant, cause=str(event.event_id))
        own = set(
            (await conn.execute(sa.select(warehouses.c.warehouse_id).where(warehouses.c.tenant_id == tenant))).scalars()
        )
        wanted: dict[tuple[str, str], tuple[int, int]] = {}
        for item in event.data.items:
            wh = str(item.warehouse_id)
            if wh not in own:
                log.warning("erp stock for unknown warehouse %s (sku %s) skipped", wh, item.sku)
                continue
            try:
                on_hand = to_units(parse_quantity(item.on_hand))
                integ = to_units(parse_quantity(item.integration_reserved))
            except QuantityError as exc:
                log.warning("erp stock row %s/%s skipped: %s", wh, item.sku, exc.message)
                continue
            wanted[(wh, item.sku)] = (on_hand, min(integ, on_hand))
            await _upsert_product(conn, tenant, item.sku, item.name or None, item.unit or None)
        if event.data.mode == "full":
            existing = await conn.execute(
                sa.select(stock.c.warehouse_id, stock.c.sku).where(stock.c.tenant_id == tenant)
            )
            for wh, sku in existing:
                wanted.setdefault((wh, sku), (0, 0))
        for (wh, sku), (on_hand, integ) in sorted(wanted.items()):
            await _apply_erp_item(conn, eff, wh, sku, on_hand, integ)
        await fill_freed(conn, eff)
        await publish_effects(tx, eff, causation_id=str(event.event_id))

    # --- commands -----------------------------------------------------------------------------

    async def create_warehouse(self, tenant: str, code: str, name: str) -> dict[str, Any]:
        async with self.db.transaction() as tx:
            taken = await tx.conn.scalar(
                sa.select(sa.func.count()).where(warehouses.c.tenant_id == tenant, warehouses.c.code == code)
            )
            if taken:
                raise Conflict(f"warehouse code {code!r} is already used", code="duplicate_code")
            wid = str(uuid.uuid4())
            now = utcnow()
            await tx.conn.execute(
                warehouses.insert().values(
                    warehouse_id=wid, tenant_id=tenant, code=code, name=name, created_at=now, updated_at=now
                )
            )
            await tx.publish(
                make_event(
                    WarehouseUpdatedV1,
                    tenant_id=uuid.UUID(tenant),
                    aggregate_id=wid,
                    producer=PRODUCER,
                    data=WarehouseUpdatedData(warehouse_id=uuid.UUID(wid), code=code, name=name),
                )
            )
        return {"warehouse_id": wid, "code": code, "name": name}

    async def upsert_products(self, tenant: str, items: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        async with self.db.transaction() as tx:
            for item in items:
                await _upsert_product(tx.conn, tenant, item["sku"], item["name"], item["unit"])
            rows = await tx.conn.execute(
                sa.select(products.c.sku, products.c.name, products.c.unit).where(
                    products.c.tenant_id == tenant, products.c.sku.in_([i["sku"] for i in items])
                )
            )
            return [dict(r._mapping) for r in rows]

    async def put_stock(self, tenant: str, user_id: str, rows: Sequence[Any], *, first_row: int = 0) -> list[str]:
        """Set on-hand stock for many items at once: every row valid or nothing applied."""
        async with self.db.transaction() as tx:
            conn = tx.conn
            named = [r for r in rows if isinstance(r, Mapping) and str(r.get("name") or "").strip()]
            for r in named:  # uploads may carry product names: create those products with the stock
                sku = str(r.get("sku") or "").strip()
                if sku:
                    await _upsert_product(conn, tenant, sku, str(r["name"]).strip(), str(r.get("unit") or "") or None)
            index = await _warehouse_index(conn, tenant, rows)
            good, errors = validate_stock_rows(rows, index, first_row=first_row)
            if not errors:
                for row in good:
                    current = (
                        await conn.execute(
                            sa.select(stock.c.on_hand, stock.c.reserved).where(
                                stock.c.tenant_id == tenant,
                                stock.c.warehouse_id == row.warehouse_id,
                                stock.c.sku == row.sku,
                            )
                        )
                    ).first()
                    if current is not None and row.on_hand < current.reserved:
                        errors.append(
                            RowError(
                                row.row,
                                "on_hand",
                                "below_reserved",
                                f"{row.sku}: {fmt(current.reserved)} is reserved; release reserves first",
                            )
                        )
            _raise_row_errors(errors)
            eff = Effects(tenant_id=tenant, by_user_id=user_id)
            for row in good:
                await ensure_stock_row(conn, tenant, row.warehouse_id, row.sku)
                result = await conn.execute(
                    stock.update()
                    .where(
                        stock.c.tenant_id == tenant,
                        stock.c.warehouse_id == row.warehouse_id,
                        stock.c.sku == row.sku,
                        stock.c.on_hand != row.on_hand,
                        stock.c.reserved <= row.on_hand,
                    )
                    .values(on_hand=row.on_hand, updated_at=utcnow())
                )
                if result.rowcount:
                    eff.items.add((row.warehouse_id, row.sku))
                    eff.freed.add((row.warehouse_id, row.sku))
            await fill_freed(conn, eff)
            await publish_effects(tx, eff)
        return [f"{r.warehouse_id}:{r.sku}" for r in good]

    async def upload_stock(self, tenant: str, user_id: str, filename: str, content: bytes) -> list[str]:
        """A CSV or .xlsx file with columns warehouse_code (or warehouse_id), sku, on_hand[, name, unit]."""
        rows = parse_upload(filename, content)
        if not rows:
            raise Invalid("the file has no data rows", code="empty_upload")
        return await self.put_stock(tenant, user_id, rows, first_row=2)

    async def set_manual_reserve(
        self, tenant: str, user_id: str, warehouse_id: str, sku: str, quantity: Any, reason: str
    ) -> dict[str, Any]:
        """Set (or clear with 0) the manual reserve of a warehouse item (R-RSV-3)."""
        try:
            units = to_units(parse_quantity(quantity))
        except QuantityError as exc:
            raise Invalid(exc.message, code=exc.code) from None
        async with self.db.transaction() as tx:
            await _check_item(tx.conn, tenant, warehouse_id, sku)
            eff = Effects(tenant_id=tenant, by_user_id=user_id)
            if not await set_hold(tx.conn, eff, warehouse_id, sku, "manual", units, reason):
                current = await hold_quantity(tx.conn, tenant, warehouse_id, sku, "manual")
                avail = await tx.conn.scalar(
                    sa.select(stock.c.on_hand - stock.c.reserved).where(
                        stock.c.tenant_id == tenant, stock.c.warehouse_id == warehouse_id, stock.c.sku == sku
                    )
                )
                raise Invalid(
                    f"only {fmt(int(avail or 0) + current)} can be reserved manually",
                    code="exceeds_available",
                    details={"available": fmt(int(avail or 0)), "manual_reserved": fmt(current)},
                )
            await fill_freed(tx.conn, eff)
            await publish_effects(tx, eff)
            return await queries.item_row(tx.conn, tenant, warehouse_id, sku)

    async def add_incoming(self, tenant: str, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Register expected deliveries ("coming soon" stock) with their dates."""
        async with self.db.transaction() as tx:
            index = await _warehouse_index(tx.conn, tenant, items)
            errors: list[RowError] = []
            parsed: list[tuple[str, str, int, date | None]] = []
            for n, row in enumerate(items):
                if not isinstance(row, Mapping):
                    errors.append(RowError(n, "row", "not_an_object", "each item must be an object"))
                    continue
                wid, err = resolve_warehouse(row, index, n)
                if err:
                    errors.append(err)
                sku = str(row.get("sku") or "").strip()
                if sku not in index.skus:
                    errors.append(RowError(n, "sku", "unknown_sku", f"no product with SKU {sku!r}"))
                try:
                    qty = to_units(parse_quantity(row.get("quantity")))
                    if qty == 0:
                        raise QuantityError("zero_quantity", "quantity must be above zero")
                except QuantityError as exc:
                    errors.append(RowError(n, "quantity", exc.code, exc.message))
                    continue
                try:
                    expected = parse_date(row.get("expected_date"))
                except ValueError:
                    errors.append(RowError(n, "expected_date", "invalid_date", "expected_date must be YYYY-MM-DD"))
                    continue
                if wid and sku in index.skus:
                    parsed.append((wid, sku, qty, expected))
            _raise_row_errors(errors)
            eff = Effects(tenant_id=tenant)
            ids = []
            for wid, sku, qty, expected in parsed:
                iid = str(uuid.uuid4())
                ids.append(iid)
                await tx.conn.execute(
                    incoming_stock.insert().values(
                        incoming_id=iid,
                        tenant_id=tenant,
                        warehouse_id=wid,
                        sku=sku,
                        quantity=qty,
                        expected_date=expected,
                        status="expected",
                        created_at=utcnow(),
                    )
                )
                eff.items.add((wid, sku))
            await publish_effects(tx, eff)
            return [await queries.incoming_row(tx.conn, tenant, i) for i in ids]

    async def receive_incoming(self, tenant: str, user_id: str, incoming_id: str) -> dict[str, Any]:
        """The delivery arrived: on hand goes up and waiting backorders are filled first-come-first-served."""
        async with self.db.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(incoming_stock).where(incoming_stock.c.incoming_id == incoming_id))
            ).first()
            if row is None:
                raise NotFound("no such incoming delivery", code="incoming_not_found")
            if row.tenant_id != tenant:
                raise Forbidden("this belongs to another account", code="foreign_tenant")
            if row.status != "expected":
                raise Conflict(f"the delivery is already {row.status}", code="already_received")
            await tx.conn.execute(
                incoming_stock.update()
                .where(incoming_stock.c.incoming_id == incoming_id)
                .values(status="received", received_at=utcnow())
            )
            await ensure_stock_row(tx.conn, tenant, row.warehouse_id, row.sku)
            await tx.conn.execute(
                stock.update()
                .where(stock.c.tenant_id == tenant, stock.c.warehouse_id == row.warehouse_id, stock.c.sku == row.sku)
                .values(on_hand=stock.c.on_hand + row.quantity, updated_at=utcnow())
            )
            eff = Effects(tenant_id=tenant, by_user_id=user_id)
            eff.items.add((row.warehouse_id, row.sku))
            eff.freed.add((row.warehouse_id, row.sku))
            await fill_freed(tx.conn, eff)
            await publish_effects(tx, eff)
            return await queries.incoming_row(tx.conn, tenant, incoming_id)

    async def reconcile(self) -> list[dict[str, Any]]:
        """Compare the reserved projection with the sum of the ledger; export and log the drift."""
        async with self.db.read() as conn:
            drift = await queries.reserve_drift(conn)
        self.metrics.reconcile_runs.inc()
        self.metrics.drift_items.set(len(drift))
        self.metrics.drift_units.set(sum(abs(d["projection"] - d["ledger"]) for d in drift) / 1000)
        for d in drift:
            log.error(
                "reserve drift on %s:%s (tenant %s): projection %s, ledger %s",
                d["warehouse_id"],
                d["sku"],
                d["tenant_id"],
                fmt(d["projection"]),
                fmt(d["ledger"]),
            )
        return drift


# --- helpers ----------------------------------------------------------------------------------


async def order_lines_state(conn: AsyncConnection, tenant: str, order_id: str) -> list[tuple[int, int]]:
    rows = await conn.execute(
        sa.select(order_lines.c.requested, order_lines.c.reserved).where(
            order_lines.c.tenant_id == tenant, order_lines.c.order_id == order_id, order_lines.c.state == "active"
        )
    )
    return [(r.requested, r.reserved) for r in rows]


async def _holds_any(conn: AsyncConnection, tenant: str, order_id: str) -> bool:
    return bool(await order_lines_state(conn, tenant, order_id))


async def _holds_lines(conn: AsyncConnection, tenant: str, line_ids: list[str]) -> bool:
    if not line_ids:
        return False
    n = await conn.scalar(
        sa.select(sa.func.count()).where(
            order_lines.c.tenant_id == tenant, order_lines.c.line_id.in_(line_ids), order_lines.c.state == "active"
        )
    )
    return bool(n)


async def _upsert_product(conn: AsyncConnection, tenant: str, sku: str, name: str | None, unit: str | None) -> None:
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


async def _warehouse_index(conn: AsyncConnection, tenant: str, rows: Sequence[Any]) -> WarehouseIndex:
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


def _raise_row_errors(errors: list[RowError]) -> None:
    if not errors:
        return
    details = [e.as_dict() for e in errors]
    if any(e.code == "foreign_tenant" for e in errors):
        raise Forbidden("some rows refer to another account's warehouses", code="foreign_tenant", details=details)
    raise Invalid(f"{len(errors)} row(s) are not valid; nothing was applied", code="invalid_rows", details=details)


async def _check_item(conn: AsyncConnection, tenant: str, warehouse_id: str, sku: str) -> None:
    owner = await conn.scalar(sa.select(warehouses.c.tenant_id).where(warehouses.c.warehouse_id == warehouse_id))
    if owner is None:
        raise NotFound(f"no warehouse {warehouse_id}", code="unknown_warehouse")
    if owner != tenant:
        raise Forbidden("this belongs to another account", code="foreign_tenant")
    known = await conn.scalar(sa.select(sa.func.count()).where(products.c.tenant_id == tenant, products.c.sku == sku))
    if not known:
        raise NotFound(f"no product with SKU {sku!r}", code="unknown_sku")


async def _apply_erp_item(conn: AsyncConnection, eff: Effects, wh: str, sku: str, on_hand: int, integ: int) -> None:
    """Set on hand and the Integration reserve of one item; when stock shrank below the reserves,
    the newest order reserves give way, then manual ones (the ERP is the source of truth for stock)."""
    tenant = eff.tenant_id
    await ensure_stock_row(conn, tenant, wh, sku)
    cur = (
        await conn.execute(
            sa.select(stock.c.on_hand, stock.c.reserved).where(
                stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku
            )
        )
    ).one()
    cur_integ = await hold_quantity(conn, tenant, wh, sku, "integration")
    if integ < cur_integ:
        await set_hold(conn, eff, wh, sku, "integration", integ, "erp")
        cur_integ = integ
    reserved_now = await conn.scalar(
        sa.select(stock.c.reserved).where(stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)
    )
    others = int(reserved_now or 0) - cur_integ
    excess = others - (on_hand - integ)
    if excess > 0:
        excess -= await shrink_order_reserves(conn, eff, wh, sku, excess)
    if excess > 0:
        manual = await hold_quantity(conn, tenant, wh, sku, "manual")
        await set_hold(conn, eff, wh, sku, "manual", max(0, manual - excess), "reduced: ERP reported less stock")
    if on_hand != cur.on_hand:
        await conn.execute(
            stock.update()
            .where(stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)
            .values(on_hand=on_hand, updated_at=utcnow())
        )
        eff.items.add((wh, sku))
        if on_hand > cur.on_hand:
            eff.freed.add((wh, sku))
    if integ > cur_integ and not await set_hold(conn, eff, wh, sku, "integration", integ, "erp"):
        raise RuntimeError(f"integration reserve of {wh}:{sku} does not fit after shrinking")


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
