"""HTTP commands of the inventory service: every change and its events in one transaction."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from oms_inventory import queries
from oms_inventory.audit import reserve_audit
from oms_inventory.db import incoming_stock, products, stock, warehouses
from oms_inventory.domain import (
    QuantityError,
    fmt,
    parse_date,
    parse_quantity,
    resolve_warehouse,
    to_units,
    validate_stock_rows,
)
from oms_inventory.handlers.erp_stock import expire_snapshots
from oms_inventory.handlers.support import (
    MAX_SKU,
    InventoryMetrics,
    check_item,
    parse_upload,
    publish_products,
    raise_row_errors,
    upsert_product,
    warehouse_index,
)
from oms_inventory.reserves import (
    PRODUCER,
    Effects,
    ensure_stock_row,
    fill_freed,
    hold_quantity,
    lock_items,
    publish_effects,
    set_hold,
)
from oms_shared.contracts import WarehouseUpdatedData, WarehouseUpdatedV1, make_event
from oms_shared.db import Database, utcnow
from oms_shared.errors import Conflict, Invalid, NotFound, RowError

log = logging.getLogger(__name__)


class Commands:
    """Catalogue, stock, manual reserves, incoming stock and the reconciler."""

    db: Database
    metrics: InventoryMetrics

    async def create_warehouse(self, tenant: str, code: str, name: str) -> dict[str, Any]:
        async with self.db.transaction() as tx:
            taken = await tx.conn.scalar(
                sa.select(sa.func.count()).where(warehouses.c.tenant_id == tenant, warehouses.c.code == code)
            )
            if taken:
                raise Conflict(f"warehouse code {code!r} is already used", code="duplicate_code")
            wid = str(uuid.uuid4())
            now = utcnow()
            try:
                async with tx.conn.begin_nested():
                    await tx.conn.execute(
                        warehouses.insert().values(
                            warehouse_id=wid, tenant_id=tenant, code=code, name=name, created_at=now, updated_at=now
                        )
                    )
            except sa.exc.IntegrityError:  # a concurrent request took the code between the check and the insert
                raise Conflict(f"warehouse code {code!r} is already used", code="duplicate_code") from None
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

    async def set_stock_source(self, tenant: str, warehouse_id: str, erp_fed: bool) -> dict[str, Any]:
        """Say whether the ERP feeds the warehouse's on-hand stock (also set when ERP stock arrives for it):
        where it does, shipping releases the reserve and on hand is the ERP's figure (ADR 013)."""
        async with self.db.transaction() as tx:
            result = await tx.conn.execute(
                warehouses.update()
                .where(warehouses.c.tenant_id == tenant, warehouses.c.warehouse_id == warehouse_id)
                .values(erp_fed=erp_fed, updated_at=utcnow())
            )
            if result.rowcount != 1:
                raise NotFound("no such warehouse", code="warehouse_not_found")
        return {"warehouse_id": warehouse_id, "erp_fed": erp_fed}

    async def upsert_products(self, tenant: str, items: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
        async with self.db.transaction() as tx:
            for item in items:
                await upsert_product(tx.conn, tenant, item["sku"], item["name"], item["unit"])
            await publish_products(tx, tenant, [i["sku"] for i in items])
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
            named_skus = []
            for r in named:  # uploads may carry product names: create those products with the stock
                sku = str(r.get("sku") or "").strip()
                if sku and len(sku) <= MAX_SKU:
                    await upsert_product(conn, tenant, sku, str(r["name"]).strip(), str(r.get("unit") or "") or None)
                    named_skus.append(sku)
            await publish_products(tx, tenant, named_skus)
            index = await warehouse_index(conn, tenant, rows)
            good, errors = validate_stock_rows(rows, index, first_row=first_row)
            if not errors:
                # Lock the items (in one global order) before reading their reserves: a reserve taken between the
                # check and the write would otherwise make the write skip the item silently.
                good = sorted(good, key=lambda r: (r.warehouse_id, r.sku))
                for row in good:
                    await ensure_stock_row(conn, tenant, row.warehouse_id, row.sku)
                await lock_items(conn, tenant, [(r.warehouse_id, r.sku) for r in good])
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
            raise_row_errors(errors)
            eff = Effects(tenant_id=tenant, by_user_id=user_id)
            for row in good:
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
        rows = await parse_upload(filename, content)
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
            await check_item(tx.conn, tenant, warehouse_id, sku)
            unit = await tx.conn.scalar(
                sa.select(products.c.unit).where(products.c.tenant_id == tenant, products.c.sku == sku)
            )
            try:  # a hold of a product counted in pieces is whole
                parse_quantity(quantity, unit=unit)
            except QuantityError as exc:
                raise Invalid(exc.message, code=exc.code) from None
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
            index = await warehouse_index(tx.conn, tenant, items)
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
                    qty = to_units(parse_quantity(row.get("quantity"), unit=index.units.get(sku)))
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
            raise_row_errors(errors)
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

    async def receive_incoming(
        self, tenant: str, user_id: str, incoming_id: str, quantity: Any = None
    ) -> dict[str, Any]:
        """The delivery arrived: on hand goes up and waiting backorders are filled first-come-first-served.

        ``quantity`` (optional): what arrived, when less than expected; the rest stays expected as a delivery of
        its own (same warehouse, item and date)."""
        arrived: int | None = None
        if quantity is not None:
            try:
                arrived = to_units(parse_quantity(quantity))
            except QuantityError as exc:
                raise Invalid(exc.message, code=exc.code, details={"quantity": exc.message}) from None
            if arrived == 0:
                raise Invalid("the quantity must be above zero", code="zero_quantity", details={"quantity": "above 0"})
        async with self.db.transaction() as tx:
            row = (
                await tx.conn.execute(sa.select(incoming_stock).where(incoming_stock.c.incoming_id == incoming_id))
            ).first()
            if row is None or row.tenant_id != tenant:  # another account's: answered as unknown
                raise NotFound("no such incoming delivery", code="incoming_not_found")
            if row.status != "expected":
                raise Conflict(f"the delivery is already {row.status}", code="already_received")
            received = row.quantity if arrived is None else arrived
            if received > row.quantity:
                raise Invalid(
                    f"more than the {fmt(row.quantity)} expected",
                    code="exceeds_expected",
                    details={"quantity": f"at most {fmt(row.quantity)}"},
                )
            if arrived is not None:
                unit = await tx.conn.scalar(
                    sa.select(products.c.unit).where(products.c.tenant_id == tenant, products.c.sku == row.sku)
                )
                try:  # a product counted in pieces arrives whole
                    parse_quantity(quantity, unit=unit)
                except QuantityError as exc:
                    raise Invalid(exc.message, code=exc.code, details={"quantity": exc.message}) from None
            # Only the request that moves the delivery out of "expected" adds it to on hand: two receives of one
            # delivery at once cannot both count it.
            taken = await tx.conn.execute(
                incoming_stock.update()
                .where(incoming_stock.c.incoming_id == incoming_id, incoming_stock.c.status == "expected")
                .values(status="received", received_at=utcnow(), quantity=received)
            )
            if taken.rowcount != 1:
                raise Conflict("the delivery is already received", code="already_received")
            if received < row.quantity:  # the rest is still on its way
                await tx.conn.execute(
                    incoming_stock.insert().values(
                        incoming_id=str(uuid.uuid4()),
                        tenant_id=tenant,
                        warehouse_id=row.warehouse_id,
                        sku=row.sku,
                        quantity=row.quantity - received,
                        expected_date=row.expected_date,
                        status="expected",
                        created_at=utcnow(),
                    )
                )
            await ensure_stock_row(tx.conn, tenant, row.warehouse_id, row.sku)
            await tx.conn.execute(
                stock.update()
                .where(stock.c.tenant_id == tenant, stock.c.warehouse_id == row.warehouse_id, stock.c.sku == row.sku)
                .values(on_hand=stock.c.on_hand + received, updated_at=utcnow())
            )
            eff = Effects(tenant_id=tenant, by_user_id=user_id)
            eff.items.add((row.warehouse_id, row.sku))
            eff.freed.add((row.warehouse_id, row.sku))
            await fill_freed(tx.conn, eff)
            await publish_effects(tx, eff)
            return await queries.incoming_row(tx.conn, tenant, incoming_id)

    async def expire_erp_snapshots(self, older_than: datetime) -> list[dict[str, Any]]:
        """Forget ERP snapshots in parts that never completed (their bookkeeping only; stock stays)."""
        async with self.db.transaction() as tx:
            expired = await expire_snapshots(tx.conn, older_than)
        self.metrics.snapshots_expired.inc(len(expired))
        return expired

    async def reconcile(self) -> list[dict[str, Any]]:
        """Audit every item: reserved projection vs ledger, vs its holders (active lines and holds), and each
        line's ledger vs the line; export and log the drift per item."""
        async with self.db.read() as conn:
            drift = await reserve_audit(conn)
        self.metrics.reconcile_runs.inc()
        self.metrics.drift_items.set(len(drift))
        self.metrics.drift_units.set(sum(abs(d["projection"] - d["ledger"]) for d in drift) / 1000)
        self.metrics.holder_drift_units.set(sum(abs(d["projection"] - d["holders"]) for d in drift) / 1000)
        self.metrics.drift_lines.set(sum(len(d["lines"]) for d in drift))
        for d in drift:
            log.error(
                "reserve drift on %s:%s (tenant %s): projection %s, ledger %s, holders %s, lines off %s",
                d["warehouse_id"],
                d["sku"],
                d["tenant_id"],
                fmt(d["projection"]),
                fmt(d["ledger"]),
                fmt(d["holders"]),
                [_line_drift(x) for x in d["lines"]],
            )
        return drift


def _line_drift(x: Mapping[str, Any]) -> str:
    status = x["order_status"] or "?"
    return f"{x['line_id']} ({x['state']}, order {status}: reserved {fmt(x['reserved'])}, ledger {fmt(x['ledger'])})"
