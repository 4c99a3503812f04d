"""JSON API of the catalog side of the ERP exchange (``/api/v1/erp``): warehouse mapping, product map, stock.

``GET/PUT /warehouses`` show and set which 1C warehouse (``Ид``) feeds which OMS warehouse; ``GET /products``
is the 1C product ↔ SKU map the catalog exchange keeps; ``POST /stock`` is stock for ERPs other than 1C
(R-ERP-7), with the reserves made in the ERP (R-ERP-4). Every row of a stock request is checked and one bad row
refuses the whole request with a reason per row; a full snapshot of a warehouse is one event or several parts
sharing a snapshot id, as from 1C.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.exc import IntegrityError

from oms_erp_bridge.catalog_exchange import (
    MAX_EVENT_BYTES,
    MAX_NAME,
    MAX_SKU,
    MAX_UNIT,
    EventTooLarge,
    stock_events,
    summary_of,
)
from oms_erp_bridge.db import products, warehouses
from oms_erp_bridge.erp_auth import ErpAuth, ErpCaller, ErpOrPerson
from oms_erp_bridge.protocol import log_call
from oms_erp_bridge.settings import Settings
from oms_shared.auth import CurrentPrincipal, Principal
from oms_shared.contracts import ErpStockItem
from oms_shared.db import Database
from oms_shared.errors import Conflict, Invalid, NotFound, RowError
from oms_shared.openapi import ERP_OR_BEARER, THROTTLED

ErpId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
MAX_ROWS = 10_000
CHANGES_BATCH = 2000  # items per event of a changes request
MAX_QUANTITY = Decimal(10) ** 12  # inventory keeps thousandths in a 64-bit integer
ROW_FIELDS = frozenset(
    {"warehouse_id", "warehouse_code", "sku", "on_hand", "integration_reserved", "price", "name", "unit"}
)


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    erp_id: ErpId | None = Field(
        description="The 1C warehouse `Ид` (from offers.xml `Склады/Склад/Ид`) whose stock goes to this warehouse; "
        "null removes the mapping."
    )


class StockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["full", "changes"] = Field(
        description="full: for every warehouse in the request, what it does not list has no stock; "
        "changes: only the listed items change."
    )
    items: list[Any] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description="Rows {warehouse_id | warehouse_code, sku, on_hand, integration_reserved? (reserves made in the "
        "ERP, at most on_hand; omitted: left as they are), price?, name?, unit?}; each is checked and one bad row "
        "applies nothing.",
    )


def reader(principal: Principal) -> str:
    principal.require("orders", "read")
    return str(principal.account_id)


def writer(principal: Principal) -> str:
    principal.require("orders", "change")
    return str(principal.account_id)


def warehouse_json(row: Any) -> dict[str, Any]:
    return {
        "warehouse_id": row.warehouse_id,
        "code": row.code,
        "name": row.name,
        "erp_id": row.erp_id,
        "deleted": row.deleted,
    }


# --- validating stock rows (pure) -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarehouseIndex:
    """The caller's warehouses (by id and by code) and the ids that belong to other accounts."""

    own: Mapping[str, Any]
    codes: Mapping[str, str]
    foreign: frozenset[str]


def _number(row: Mapping[str, Any], name: str, n: int, *, places: int, required: bool) -> Decimal | RowError | None:
    raw = row.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return RowError(n, name, "missing_value", f"{name} is required") if required else None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return RowError(n, name, "not_a_number", f"{name} must be a number")
    try:
        value = Decimal(raw.strip().replace(",", ".") if isinstance(raw, str) else str(raw))
    except InvalidOperation:
        return RowError(n, name, "not_a_number", f"{raw!r} is not a number")
    if not value.is_finite():
        return RowError(n, name, "not_a_number", f"{raw!r} is not a number")
    if value < 0:
        return RowError(n, name, "negative", f"{name} must not be negative")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        return RowError(n, name, "too_precise", f"{name} has more than {places} decimal places")
    if value >= MAX_QUANTITY:
        return RowError(n, name, "too_large", f"{name} is too large")
    return value


def _text(row: Mapping[str, Any], name: str, n: int, limit: int) -> str | RowError:
    raw = row.get(name)
    if raw is None:
        return ""
    if not isinstance(raw, str):
        return RowError(n, name, "not_a_string", f"{name} must be a string")
    if len(raw.strip()) > limit:
        return RowError(n, name, "too_long", f"{name} is longer than {limit} characters")
    return raw.strip()


def _warehouse(row: Mapping[str, Any], index: WarehouseIndex, n: int) -> str | RowError:
    raw_id, raw_code = row.get("warehouse_id"), row.get("warehouse_code")
    code = raw_code.strip() if isinstance(raw_code, str) else ""
    if raw_id in (None, ""):
        if not code:
            return RowError(n, "warehouse_id", "missing_warehouse", "warehouse_id or warehouse_code is required")
        if code not in index.codes:
            return RowError(n, "warehouse_code", "unknown_warehouse", f"no warehouse with code {code!r}")
        return index.codes[code]
    try:
        warehouse_id = str(uuid.UUID(str(raw_id)))
    except ValueError:
        return RowError(n, "warehouse_id", "invalid_id", f"{raw_id!r} is not a warehouse id")
    if warehouse_id not in index.own:  # another account's warehouse is answered as an unknown one
        return RowError(n, "warehouse_id", "unknown_warehouse", f"no warehouse {warehouse_id}")
    if index.own[warehouse_id].deleted:
        return RowError(n, "warehouse_id", "warehouse_deleted", "the warehouse is deleted")
    if code and index.codes.get(code) != warehouse_id:
        return RowError(n, "warehouse_code", "warehouse_mismatch", "warehouse_code names another warehouse")
    return warehouse_id


def _row(raw: Any, index: WarehouseIndex, n: int) -> tuple[ErpStockItem | None, list[RowError]]:
    if not isinstance(raw, Mapping):
        return None, [RowError(n, "row", "not_an_object", "each item must be an object")]
    errors = [RowError(n, str(k), "unknown_field", f"unknown field {k!r}") for k in raw if k not in ROW_FIELDS]
    warehouse_id = _warehouse(raw, index, n)
    sku = _text(raw, "sku", n, MAX_SKU)
    if sku == "":
        sku = RowError(n, "sku", "missing_value", "sku is required")
    on_hand = _number(raw, "on_hand", n, places=3, required=True)
    reserved = _number(raw, "integration_reserved", n, places=3, required=False)
    price = _number(raw, "price", n, places=4, required=False)
    name, unit = _text(raw, "name", n, MAX_NAME), _text(raw, "unit", n, MAX_UNIT)
    errors += [v for v in (warehouse_id, sku, on_hand, reserved, price, name, unit) if isinstance(v, RowError)]
    if isinstance(on_hand, Decimal) and isinstance(reserved, Decimal) and reserved > on_hand:
        message = "integration_reserved must not exceed on_hand"
        errors.append(RowError(n, "integration_reserved", "reserved_exceeds_on_hand", message))
    if errors:
        return None, errors
    item = ErpStockItem.model_validate(
        {
            "warehouse_id": warehouse_id,
            "sku": sku,
            "name": name,
            "unit": unit,
            "on_hand": on_hand,
            "integration_reserved": reserved,  # omitted: the Integration reserve stays as it is
            "price": price,
        }
    )
    return item, []


def validate_stock_rows(rows: Sequence[Any], index: WarehouseIndex) -> tuple[list[ErpStockItem], list[RowError]]:
    """Every row checked (row numbers from 0); the caller publishes nothing unless the error list is empty."""
    items: list[ErpStockItem] = []
    errors: list[RowError] = []
    seen: dict[tuple[uuid.UUID, str], int] = {}
    for n, raw in enumerate(rows):
        item, row_errors = _row(raw, index, n)
        errors += row_errors
        if item is None:
            continue
        first = seen.setdefault((item.warehouse_id, item.sku), n)
        if first != n:
            message = f"{item.sku} is already given for this warehouse in row {first}"
            errors.append(RowError(n, "sku", "duplicate_row", message))
            continue
        items.append(item)
    return items, errors


async def _index(db: Database, tenant: str, rows: Sequence[Any]) -> WarehouseIndex:
    named: set[str] = set()
    for raw in rows:
        if isinstance(raw, Mapping) and raw.get("warehouse_id") not in (None, ""):
            try:
                named.add(str(uuid.UUID(str(raw["warehouse_id"]))))
            except ValueError:
                pass
    async with db.read() as conn:
        own = (await conn.execute(sa.select(warehouses).where(warehouses.c.tenant_id == tenant))).all()
        foreign: set[str] = set()
        ids = sorted(named - {r.warehouse_id for r in own})
        for start in range(0, len(ids), 500):
            query = sa.select(warehouses.c.warehouse_id).where(
                warehouses.c.warehouse_id.in_(ids[start : start + 500]), warehouses.c.tenant_id != tenant
            )
            foreign.update(await conn.scalars(query))
    return WarehouseIndex(
        own={r.warehouse_id: r for r in own},
        codes={r.code.strip(): r.warehouse_id for r in own if not r.deleted},
        foreign=frozenset(foreign),
    )


# --- routes ---------------------------------------------------------------------------------------------------------


def build_router(db: Database, settings: Settings, auth: ErpAuth | None = None) -> APIRouter:
    router = APIRouter(prefix="/api/v1/erp", tags=["erp"])
    # Stock comes from the ERP with its own credential (ADR 012) or from a person with change access to orders.
    stock_caller = Depends(ErpOrPerson(auth or ErpAuth(db), writer))

    @router.get("/warehouses", summary="Your warehouses and the 1C warehouse (Ид) mapped to each")
    async def list_warehouses(
        principal: CurrentPrincipal,
        include_deleted: Annotated[bool, Query(description="Also list deleted warehouses.")] = False,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        tenant = reader(principal)
        where = [warehouses.c.tenant_id == tenant]
        if not include_deleted:
            where.append(warehouses.c.deleted.is_(False))
        async with db.read() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(warehouses).where(*where))
            query = sa.select(warehouses).where(*where).order_by(warehouses.c.code, warehouses.c.warehouse_id)
            rows = (await conn.execute(query.limit(limit).offset(offset))).all()
        return {"items": [warehouse_json(r) for r in rows], "total": int(total or 0), "limit": limit, "offset": offset}

    @router.put(
        "/warehouses/{warehouse_id}",
        summary="Map a 1C warehouse (its Ид) to one of your warehouses, or remove the mapping with null",
    )
    async def map_warehouse(warehouse_id: uuid.UUID, body: MappingIn, principal: CurrentPrincipal) -> dict[str, Any]:
        tenant = writer(principal)
        try:
            async with db.transaction() as tx:
                query = sa.select(warehouses).where(warehouses.c.warehouse_id == str(warehouse_id))
                row = (await tx.conn.execute(query)).first()
                if row is None or row.tenant_id != tenant:  # another account's: answered as unknown
                    raise NotFound(f"no warehouse {warehouse_id} (yet)", code="unknown_warehouse")
                if body.erp_id is not None:
                    await _check_free(tx.conn, tenant, row, body.erp_id)
                await tx.conn.execute(
                    warehouses.update().where(warehouses.c.warehouse_id == row.warehouse_id).values(erp_id=body.erp_id)
                )
                row = (await tx.conn.execute(query)).one()
        except IntegrityError:  # mapped elsewhere at the same moment
            raise Conflict("this 1C warehouse was just mapped to another warehouse", code="erp_id_taken") from None
        return warehouse_json(row)

    @router.get("/products", summary="The 1C product (Ид) ↔ SKU map from the catalog exchange")
    async def list_products(
        principal: CurrentPrincipal,
        q: Annotated[str, Query(max_length=100, description="Part of the SKU, 1C Ид or name.")] = "",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        tenant = reader(principal)
        where = [products.c.tenant_id == tenant]
        if q.strip():
            text = q.strip()
            columns = (products.c.sku, products.c.erp_id, products.c.name)
            where.append(sa.or_(*(column.icontains(text, autoescape=True) for column in columns)))
        async with db.read() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(products).where(*where))
            query = sa.select(products).where(*where).order_by(products.c.sku, products.c.erp_id)
            rows = (await conn.execute(query.limit(limit).offset(offset))).all()
        items = [
            {"erp_id": r.erp_id, "sku": r.sku, "name": r.name, "unit": r.unit, "updated_at": r.updated_at.isoformat()}
            for r in rows
        ]
        return {"items": items, "total": int(total or 0), "limit": limit, "offset": offset}

    @router.post(
        "/stock",
        status_code=202,
        summary="Stock and ERP reserves per warehouse from an ERP other than 1C: a full snapshot or changes",
        openapi_extra=ERP_OR_BEARER,
        responses=THROTTLED,
    )
    async def post_stock(body: StockIn, caller: ErpCaller = stock_caller) -> dict[str, Any]:
        tenant = caller.tenant_id
        index = await _index(db, tenant, body.items)
        items, errors = validate_stock_rows(body.items, index)
        if errors:
            reasons = "; ".join(f"row {e.row} {e.field}: {e.code}" for e in errors[:20])
            detail = f"{len(errors)} errors, nothing applied: {reasons}"
            await log_call(db, tenant_id=tenant, kind="api.stock", outcome="failure", detail=detail,
                           caller=caller.name)  # fmt: skip
            raise Invalid(
                f"{len(errors)} error(s) in the rows; nothing was applied",
                code="invalid_rows",
                details=[e.as_dict() for e in errors],
            )
        try:
            events = stock_events(tenant, body.mode, items, CHANGES_BATCH, settings.snapshot_part_items)
        except EventTooLarge as exc:
            await log_call(db, tenant_id=tenant, kind="api.stock", outcome="failure", detail=str(exc),
                           caller=caller.name)  # fmt: skip
            raise Invalid(str(exc), code="too_large", details={"max_event_bytes": MAX_EVENT_BYTES}) from None
        async with db.transaction() as tx:
            for event in events:
                await tx.publish(event)
        summary = summary_of(body.mode, items, {wid: row.code for wid, row in index.own.items()})
        await log_call(db, tenant_id=tenant, kind="api.stock", outcome="success", detail=summary,
                       caller=caller.name)  # fmt: skip
        return {
            "mode": body.mode,
            "warehouses": len({item.warehouse_id for item in items}),
            "items": len(items),
            "events": len(events),
            "summary": summary,
        }

    return router


async def _check_free(conn: Any, tenant: str, row: Any, erp_id: str) -> None:
    if row.deleted:
        raise Conflict("the warehouse is deleted: map the 1C warehouse to another one", code="warehouse_deleted")
    other = (
        await conn.execute(
            sa.select(warehouses.c.warehouse_id, warehouses.c.code).where(
                warehouses.c.tenant_id == tenant,
                warehouses.c.erp_id == erp_id,
                warehouses.c.warehouse_id != row.warehouse_id,
            )
        )
    ).first()
    if other is not None:
        raise Conflict(
            f"1C warehouse {erp_id} is mapped to warehouse {other.code}: remove that mapping first",
            code="erp_id_taken",
            details={"warehouse_id": other.warehouse_id},
        )
