"""The orders exchange as a JSON API for ERPs other than 1C (``/api/v1/erp/orders``, R-ERP-7).

The same protocol as 1C's, in JSON: list the orders waiting for the ERP (``GET /orders``), confirm the versions
taken (``POST /orders/ack`` — until then they stay waiting, so a lost answer loses nothing), and send the ERP's
changes of an order (``POST /orders/{order_id}/changes``), which the orders service applies with the ERP winning
(R-ERP-3). The ERP calls with its own credential — the connection's exchange login and password as HTTP Basic —
or the account's owner with a token (ADR 012); every call is written to the exchange log with its caller (R-ERP-6),
and a change names its caller in ``erp.order_changed`` and so in the order's history. A change may carry
``If-Match: <version>`` (the order's version the ERP saw): a stale one answers 412 and applies nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_erp_bridge import orders_out
from oms_erp_bridge.db import orders
from oms_erp_bridge.erp_auth import ErpAuth, ErpCaller
from oms_erp_bridge.protocol import log_call
from oms_shared.contracts import ErpLineChange, ErpOrderChangedData, ErpOrderChangedV1, OrderStatus, make_event
from oms_shared.db import Database, utcnow
from oms_shared.errors import Conflict, Invalid, NotFound, OmsError, PreconditionFailed
from oms_shared.openapi import ERP_OR_BEARER, THROTTLED
from oms_shared.quantity import PLACES

T = TypeVar("T")
Limit = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4)]
# The shared quantity scale (oms_shared.quantity): thousandths at most, refused rather than rounded.
Qty = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=PLACES)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TakenOrder(Body):
    order_id: uuid.UUID
    version: int = Field(ge=1, description="The `version` of the order the ERP stored (from `GET /orders`).")


class AckIn(Body):
    orders: list[TakenOrder] = Field(min_length=1, max_length=10_000)


class LineChangeIn(Body):
    line_id: uuid.UUID | None = Field(default=None, description="Our line id; none for a line the ERP added.")
    sku: Sku
    quantity: Qty | None = Field(default=None, description="The new quantity (a line the ERP added needs one).")
    price: Amount | None = Field(default=None, description="Per unit, VAT included.")
    vat_rate: Annotated[Decimal, Field(ge=0, le=100)] | None = Field(default=None, description="In percent.")
    cancelled_quantity: Qty | None = Field(
        default=None, description="Cancelled in the ERP: the buyer sees it as cancelled, the reserve shrinks (R-ERP-5)."
    )
    deleted: bool = Field(default=False, description="The line was deleted in the ERP.")


class ChangesIn(Body):
    erp_document_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = Field(
        default="", description="The ERP's number of the order (shown next to ours)."
    )
    status: OrderStatus | None = Field(default=None, description="The order's status in the ERP, e.g. shipped.")
    lines: list[LineChangeIn] = Field(default_factory=list, max_length=5000)
    shipment_date: date | None = None
    paid_amount: Amount | None = Field(default=None, description="Paid so far, VAT included.")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

    @model_validator(mode="after")
    def _something(self) -> ChangesIn:
        if not (
            self.status or self.lines or self.shipment_date or self.paid_amount is not None or self.erp_document_id
        ):
            raise ValueError("nothing to change: give a status, lines, shipment_date, paid_amount or erp_document_id")
        return self


async def _logged(db: Database, caller: ErpCaller, kind: str, call: Callable[[], Awaitable[tuple[T, str]]]) -> T:
    """Run ``call`` and log its outcome and caller: its detail on success, the refusal's message on failure."""
    tenant = caller.tenant_id
    try:
        result, detail = await call()
    except OmsError as exc:
        await log_call(
            db, tenant_id=tenant, kind=kind, outcome="failure", detail=f"{exc.code}: {exc.message}", caller=caller.name
        )
        raise
    await log_call(db, tenant_id=tenant, kind=kind, outcome="success", detail=detail, caller=caller.name)
    return result


def _expected_version(if_match: str | None) -> int | None:
    """The version in ``If-Match`` (``3``, ``"3"`` or ``W/"3"``); None when absent or ``*``; 422 when garbled."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 18:
        raise Invalid('If-Match must be the order\'s version, e.g. "3"', code="invalid_if_match")
    return int(text)


async def _owned(conn: AsyncConnection, tenant: str, order_ids: list[str]) -> dict[str, Any]:
    """The rows of these orders; 404 naming the unknown ones (another account's are unknown to this one)."""
    rows: dict[str, Any] = {}
    for start in range(0, len(order_ids), orders_out.CHUNK):
        chunk = order_ids[start : start + orders_out.CHUNK]
        found = await conn.execute(sa.select(orders).where(orders.c.tenant_id == tenant, orders.c.order_id.in_(chunk)))
        rows.update({row.order_id: row for row in found.all()})
    unknown = [oid for oid in order_ids if oid not in rows or rows[oid].tenant_id != tenant or not rows[oid].exportable]
    if unknown:
        raise NotFound("no such orders for the ERP", code="order_not_found", details={"order_ids": unknown})
    return rows


def build_router(db: Database, auth: ErpAuth | None = None) -> APIRouter:
    router = APIRouter(prefix="/api/v1/erp", tags=["erp-orders"])
    who = Depends(auth or ErpAuth(db))  # the ERP's credential or the owner's token (ADR 012)

    @router.get(
        "/orders",
        summary="Orders for the ERP: those waiting to be taken (pending=true) or every exportable one, oldest first",
        description=(
            "An order waits while its `version` is above the version the ERP confirmed with `POST /orders/ack`. "
            "Prices are per unit, VAT included; `buyer.buyer_id` is a stable counterparty id."
        ),
        openapi_extra=ERP_OR_BEARER,
        responses=THROTTLED,
    )
    async def list_orders(
        caller: ErpCaller = who,
        pending: Annotated[bool, Query(description="Only the orders waiting for the ERP.")] = True,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> dict[str, Any]:
        tenant = caller.tenant_id

        async def call() -> tuple[dict[str, Any], str]:
            async with db.read() as conn:
                total = await orders_out.count_orders(conn, tenant, pending_only=pending)
                found = await orders_out.load_orders(conn, tenant, pending_only=pending, limit=limit, offset=offset)
            page = {"items": [o.to_json() for o in found], "total": total, "limit": limit, "offset": offset}
            return page, f"{len(found)} of {total} {'pending ' if pending else ''}orders"

        return await _logged(db, caller, "api.orders", call)

    @router.post(
        "/orders/ack",
        summary="Confirm the order versions the ERP took; later changes stay pending",
        description=(
            "All or nothing: an unknown order id answers 404 (another account's alike) and a version above the "
            "order's current one 409, naming the orders; nothing is applied then."
        ),
        openapi_extra=ERP_OR_BEARER,
        responses=THROTTLED,
    )
    async def ack_orders(body: AckIn, caller: ErpCaller = who) -> dict[str, Any]:
        tenant = caller.tenant_id

        async def call() -> tuple[dict[str, Any], str]:
            sent: dict[str, int] = {}
            for item in body.orders:
                sent[str(item.order_id)] = max(sent.get(str(item.order_id), 0), item.version)
            async with db.transaction() as tx:
                rows = await _owned(tx.conn, tenant, list(sent))
                ahead = [
                    {"order_id": oid, "version": rows[oid].version} for oid, v in sent.items() if v > rows[oid].version
                ]
                if ahead:
                    raise Conflict(
                        "a version above the order's current one was acknowledged",
                        code="version_ahead",
                        details={"orders": ahead},
                    )
                await orders_out.mark_taken(tx.conn, tenant, sent, utcnow())
                waiting = await orders_out.still_pending(tx.conn, tenant, sent)
            answer = {"acknowledged": len(sent), "still_pending": waiting}
            return answer, f"{len(sent)} orders taken" + (f"; still pending: {', '.join(waiting)}" if waiting else "")

        return await _logged(db, caller, "api.ack", call)

    @router.post(
        "/orders/{order_id}/changes",
        status_code=202,
        summary="Send the ERP's changes of an order (status, lines, shipment date, payment); the ERP wins",
        description=(
            "Published as `erp.order_changed` and applied by the orders service: a smaller quantity is sent as "
            "`cancelled_quantity`, a line the ERP added has no `line_id`. Send an `Idempotency-Key` to retry safely."
        ),
        openapi_extra=ERP_OR_BEARER,
        responses=THROTTLED,
    )
    async def post_changes(
        order_id: uuid.UUID,
        body: ChangesIn,
        caller: ErpCaller = who,
        if_match: Annotated[
            str | None,
            Header(
                max_length=40,
                description="The order's `version` the ERP saw (from `GET /orders`); a stale one answers 412.",
            ),
        ] = None,
    ) -> dict[str, Any]:
        tenant = caller.tenant_id
        expected = _expected_version(if_match)

        async def call() -> tuple[dict[str, Any], str]:
            async with db.transaction() as tx:
                row = (await _owned(tx.conn, tenant, [str(order_id)]))[str(order_id)]
                if expected is not None and expected != row.version:
                    raise PreconditionFailed(
                        f"the order changed since version {expected}: it is at version {row.version}; "
                        "take it again (GET /orders) and resend",
                        code="version_mismatch",
                        details={"order_id": row.order_id, "version": row.version},
                    )
                data = _changes(row, order_id, body, caller.name)
                if body.erp_document_id:
                    await tx.conn.execute(
                        orders.update().where(orders.c.order_id == row.order_id).values(erp_number=body.erp_document_id)
                    )
                event = make_event(
                    ErpOrderChangedV1,
                    tenant_id=uuid.UUID(tenant),
                    aggregate_id=row.order_id,
                    data=data,
                    producer="erp-bridge",
                )
                await tx.publish(event)
            what = [f"status {data.status.value}"] if data.status else []
            what += [f"{len(data.lines)} lines"] if data.lines else []
            what += [f"paid {data.paid_amount}"] if data.paid_amount is not None else []
            what += [f"shipment date {data.shipment_date}"] if data.shipment_date else []
            detail = f"order {row.number}: " + (", ".join(what) or f"ERP number {data.erp_document_id}")
            return {"event_id": str(event.event_id), "order_id": row.order_id}, detail

        return await _logged(db, caller, "api.changes", call)

    return router


def _changes(row: Any, order_id: uuid.UUID, body: ChangesIn, caller: str) -> ErpOrderChangedData:
    """The event's data, once each line names a line of the order (or adds one, with a quantity)."""
    ours = orders_out.lines_of(row)
    sku_of, skus = {line.line_id: line.sku for line in ours}, {line.sku for line in ours}
    for index, line in enumerate(body.lines):
        where = f"lines[{index}] ({line.sku})"
        if not (line.deleted or line.quantity is not None or line.cancelled_quantity is not None):
            if line.price is None and line.vat_rate is None:
                raise Invalid(f"{where}: nothing to change", code="invalid_line")
        if line.line_id is not None and str(line.line_id) not in sku_of:
            raise Invalid(f"{where}: the order has no line {line.line_id}", code="unknown_line")
        if line.line_id is not None and sku_of[str(line.line_id)] != line.sku:
            raise Invalid(f"{where}: line {line.line_id} is {sku_of[str(line.line_id)]}", code="sku_mismatch")
        if line.line_id is None and line.sku not in skus:
            if line.deleted or line.cancelled_quantity is not None:
                raise Invalid(f"{where}: the order has no line with this SKU", code="unknown_line")
            if not line.quantity:
                raise Invalid(f"{where}: a line the ERP added needs a quantity above 0", code="invalid_line")
    return ErpOrderChangedData(
        order_id=order_id,
        erp_document_id=body.erp_document_id or row.erp_number,
        status=body.status,
        lines=[ErpLineChange(**line.model_dump()) for line in body.lines],
        shipment_date=body.shipment_date,
        paid_amount=body.paid_amount,
        comment=body.comment,
        caller=caller,
    )
