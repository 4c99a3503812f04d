"""HTTP API of the inventory service (``/api/v1``): requests → use cases; no business rules here."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi import Body as BodyParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from oms_inventory import answers, queries
from oms_inventory.access import scope_of
from oms_inventory.domain import fmt
from oms_inventory.handlers import Inventory
from oms_shared.auth import CurrentPrincipal, Principal
from oms_shared.db import Database
from oms_shared.errors import Forbidden

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_SKUS = 500  # lines one availability call may name


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WarehouseIn(Body):
    code: Code = Field(description="Short code unique per supplier (used in uploads and the ERP).")
    name: Name


class StockSourceIn(Body):
    erp_fed: bool = Field(
        description="The ERP feeds this warehouse's on-hand stock: shipping in OMS releases reserves and leaves on "
        "hand to the ERP's next figure. Set on its own when ERP stock arrives for the warehouse."
    )


class ProductIn(Body):
    sku: Sku
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] = ""


class ProductsIn(Body):
    items: list[ProductIn] = Field(min_length=1, max_length=10_000)


class RowsIn(Body):
    items: list[Any] = Field(
        min_length=1, max_length=10_000, description="Rows, each validated on its own; one bad row applies nothing."
    )


class ManualReserveIn(Body):
    warehouse_id: uuid.UUID
    sku: Sku
    quantity: str | int = Field(description="The manual reserve to hold (0 clears it).")
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""


class ReceiveIn(Body):
    quantity: str | int | None = Field(
        default=None, description="What arrived, when less than expected (the rest stays expected)."
    )


def _rows_body(row: dict[str, Any], required: list[str], example: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI request body of a rows route: each row's fields (rows are checked one by one, so the
    model itself takes any row and refuses bad ones with the row report)."""
    warehouse = {
        "warehouse_id": {"type": "string", "format": "uuid", "description": "or warehouse_code"},
        "warehouse_code": {"type": "string", "description": "the warehouse's code, instead of its id"},
        "sku": {"type": "string"},
    }
    items = {"type": "object", "required": ["sku", *required], "properties": {**warehouse, **row}}
    schema = {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "minItems": 1, "maxItems": 10_000, "items": items}},
    }
    return {"requestBody": {"content": {"application/json": {"schema": schema, "example": {"items": [example]}}}}}


STOCK_ROWS = _rows_body(
    {
        "on_hand": {"type": ["string", "number"], "description": "on hand, in the product's unit"},
        "name": {"type": "string", "description": "creates or renames the product"},
        "unit": {"type": "string"},
    },
    ["on_hand"],
    {"warehouse_code": "MSK", "sku": "BOLT-M8", "on_hand": "500"},
)
INCOMING_ROWS = _rows_body(
    {
        "quantity": {"type": ["string", "number"]},
        "expected_date": {"type": "string", "format": "date"},
    },
    ["quantity", "expected_date"],
    {"warehouse_code": "MSK", "sku": "BOLT-M8", "quantity": "100", "expected_date": "2027-01-15"},
)


def _reader(p: Principal) -> str:
    p.require_supplier()
    return str(p.account_id)


def _writer(p: Principal) -> str:
    p.require("orders", "change")
    return str(p.account_id)


def build_router(db: Database, inventory: Inventory) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["inventory"])

    @router.post("/warehouses", status_code=201, summary="Create a warehouse")
    async def create_warehouse(body: WarehouseIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await inventory.create_warehouse(_writer(principal), body.code, body.name)

    @router.put("/warehouses/{warehouse_id}/stock-source", summary="Whether the ERP feeds the warehouse's stock")
    async def set_stock_source(
        warehouse_id: uuid.UUID, body: StockSourceIn, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        return await inventory.set_stock_source(_writer(principal), str(warehouse_id), body.erp_fed)

    @router.get("/warehouses", summary="List warehouses")
    async def list_warehouses(
        principal: CurrentPrincipal, q: str = "", sort: str = "code", limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.list_warehouses(conn, _reader(principal), q=q, sort=sort, limit=limit, offset=offset)

    @router.post("/products", summary="Create or update products (upsert by SKU)")
    async def upsert_products(body: ProductsIn, principal: CurrentPrincipal) -> dict[str, Any]:
        items = [i.model_dump() for i in body.items]
        return {"items": await inventory.upsert_products(_writer(principal), items)}

    @router.get("/products", summary="List products")
    async def list_products(
        principal: CurrentPrincipal, q: str = "", sort: str = "sku", limit: Limit = 100, offset: Offset = 0
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.list_products(conn, _reader(principal), q=q, sort=sort, limit=limit, offset=offset)

    @router.put(
        "/stock",
        summary="Set stock on hand (rows: warehouse_id or warehouse_code, sku, on_hand)",
        openapi_extra=STOCK_ROWS,
    )
    async def put_stock(body: RowsIn, principal: CurrentPrincipal) -> dict[str, Any]:
        tenant = _writer(principal)
        keys = await inventory.put_stock(tenant, str(principal.user_id), body.items)
        return {"items": await _items(db, tenant, keys)}

    @router.post("/stock/upload", summary="Set stock from a CSV or .xlsx file (warehouse_code, sku, on_hand)")
    async def upload_stock(principal: CurrentPrincipal, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
        tenant = _writer(principal)
        content = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(content) > MAX_UPLOAD_BYTES:
            from oms_shared.errors import Invalid

            raise Invalid("the file is larger than 10 MB", code="file_too_large")
        keys = await inventory.upload_stock(tenant, str(principal.user_id), file.filename or "", content)
        return {"items": await _items(db, tenant, keys)}

    @router.get(
        "/stock",
        summary="Stock per warehouse item: on hand, reserved, available, incoming",
        responses=answers.STOCK_LIST,
    )
    async def list_stock(
        principal: CurrentPrincipal,
        warehouse_id: uuid.UUID | None = None,
        sku: str = "",
        q: str = "",
        only_available: bool = False,
        sort: str = "sku",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.list_stock(
                conn,
                _reader(principal),
                warehouse_id=str(warehouse_id) if warehouse_id else "",
                sku=sku,
                q=q,
                only_available=only_available,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    @router.get("/stock/reserves", summary="Drill-down: who holds the reserves of a warehouse item")
    async def item_reserves(principal: CurrentPrincipal, warehouse_id: uuid.UUID, sku: str) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.item_reserves(conn, scope_of(principal), str(warehouse_id), sku)

    @router.put("/manual-reserves", summary="Set (or clear with 0) the manual reserve of a warehouse item")
    async def set_manual_reserve(body: ManualReserveIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return await inventory.set_manual_reserve(
            _writer(principal), str(principal.user_id), str(body.warehouse_id), body.sku, body.quantity, body.reason
        )

    @router.delete("/manual-reserves", summary="Clear the manual reserve of a warehouse item")
    async def clear_manual_reserve(principal: CurrentPrincipal, warehouse_id: uuid.UUID, sku: str) -> dict[str, Any]:
        return await inventory.set_manual_reserve(
            _writer(principal), str(principal.user_id), str(warehouse_id), sku, "0", "cleared"
        )

    @router.get("/manual-reserves", summary="Manual and Integration reserves")
    async def list_manual_reserves(
        principal: CurrentPrincipal,
        kind: str = "manual",
        warehouse_id: uuid.UUID | None = None,
        sku: str = "",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.list_holds(
                conn,
                _reader(principal),
                kind=kind,
                warehouse_id=str(warehouse_id) if warehouse_id else "",
                sku=sku,
                limit=limit,
                offset=offset,
            )

    @router.post(
        "/incoming",
        status_code=201,
        summary="Register expected deliveries (warehouse_id, sku, quantity, expected_date)",
        openapi_extra=INCOMING_ROWS,
    )
    async def add_incoming(body: RowsIn, principal: CurrentPrincipal) -> dict[str, Any]:
        return {"items": await inventory.add_incoming(_writer(principal), body.items)}

    @router.get("/incoming", summary="Expected and received deliveries")
    async def list_incoming(
        principal: CurrentPrincipal,
        status: str = "",
        warehouse_id: uuid.UUID | None = None,
        sku: str = "",
        sort: str = "expected_date",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.list_incoming(
                conn,
                _reader(principal),
                status=status,
                warehouse_id=str(warehouse_id) if warehouse_id else "",
                sku=sku,
                sort=sort,
                limit=limit,
                offset=offset,
            )

    @router.post(
        "/incoming/{incoming_id}/receive",
        summary="A delivery arrived: add it to stock, fill backorders",
        description="Without a body the whole delivery arrived. With `quantity` (less than expected) that much "
        "arrived and the rest stays expected as a delivery of its own.",
    )
    async def receive_incoming(
        incoming_id: uuid.UUID, principal: CurrentPrincipal, body: Annotated[ReceiveIn | None, BodyParam()] = None
    ) -> dict[str, Any]:
        return await inventory.receive_incoming(
            _writer(principal), str(principal.user_id), str(incoming_id), body.quantity if body else None
        )

    @router.get(
        "/price-lists/{price_list_id}/availability",
        summary="Availability of every price-list line (R-STK-2); for the supplier, and for buyers it is open to",
        description=(
            "Per line: available on each of the list's warehouses (the supplier also sees on hand and reserved), "
            "`total_available` over all the supplier's warehouses and `total_available_in_list` over the list's. "
            "`warehouses` names the list's warehouses; `sku` (repeated) narrows the answer to those lines."
        ),
        responses=answers.PRICE_LIST_AVAILABILITY,
    )
    async def availability(
        price_list_id: uuid.UUID,
        principal: CurrentPrincipal,
        limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
        offset: Offset = 0,
        sku: Annotated[
            list[str] | None,
            Query(
                max_length=MAX_SKUS,
                description=f"Only these lines (repeat the parameter, at most {MAX_SKUS}): e.g. a catalogue page",
            ),
        ] = None,
    ) -> Response:
        async with db.read() as conn:
            body = await queries.availability(conn, principal, str(price_list_id), limit=limit, offset=offset, skus=sku)
        return Response(body, media_type="application/json")

    @router.get("/orders/{order_id}/reserves", summary="What is reserved for an order, per line")
    async def order_reserves(order_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.order_reserves(conn, scope_of(principal), str(order_id))

    @router.get("/orders/{order_id}/lines/{line_id}/reserves", summary="Drill-down: the reserve entries of a line")
    async def line_reserves(order_id: uuid.UUID, line_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        async with db.read() as conn:
            return await queries.line_reserves(conn, scope_of(principal), str(order_id), str(line_id))

    @router.get("/reserves/drift", summary="Reconciler: items whose reserved projection differs from the ledger")
    async def drift(principal: CurrentPrincipal) -> dict[str, Any]:
        tenant = _reader(principal)
        if not principal.is_owner:
            raise Forbidden("only the account's owner sees the reserve drift", code="owner_only")
        async with db.read() as conn:  # this tenant's ledger only; the reconciler loop checks every tenant
            drift = await queries.reserve_drift(conn, tenant)
        items = [
            {
                "warehouse_id": d["warehouse_id"],
                "sku": d["sku"],
                "reserved": fmt(d["projection"]),
                "ledger": fmt(d["ledger"]),
            }
            for d in drift
        ]
        return {"items": items, "total": len(items)}

    return router


async def _items(db: Database, tenant: str, keys: list[str]) -> list[dict[str, Any]]:
    async with db.read() as conn:
        out = []
        for key in keys:
            wh, _, sku = key.partition(":")
            out.append(await queries.item_row(conn, tenant, wh, sku))
        return out
