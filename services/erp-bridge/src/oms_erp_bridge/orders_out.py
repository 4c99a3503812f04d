"""Orders as the ERP sees them: read from the replica, written for 1C (``cml.OrderOut``) or as JSON (R-ERP-1, R-ERP-7).

An order waits for the ERP while it is exportable (confirmed once) and ``exported_version < version``; the ERP
takes it by confirming the version it was sent (1C's ``mode=success``, the JSON API's ack), never earlier. Both
channels read the same orders, oldest first: the buyer from ``erp_buyers`` (its id is the stable counterparty
``Ид``, pitfall 5), the lines from the order's snapshot, and each SKU's 1C product id from ``erp_products``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_erp_bridge.cml import CmlCounterparty, OrderLineOut, OrderOut, RequisiteValue
from oms_erp_bridge.common import CLOSED, as_decimal, dec
from oms_erp_bridge.db import buyers, orders, products
from oms_shared import money as rules
from oms_shared.contracts import OrderStatus

CHUNK = 500  # ids per IN (...) list, well under the bind-parameter limits of SQLite and PostgreSQL

# The OMS status as the 1C user reads it in the requisite `Статус заказа` (the guide's Russian names).
STATUS_TEXT = {
    OrderStatus.NEW.value: "Новый",
    OrderStatus.EDITING.value: "Редактируется",
    OrderStatus.AWAITING_APPROVAL.value: "Ожидает согласования",
    OrderStatus.AGREED.value: "Согласован",
    OrderStatus.CONFIRMED.value: "Подтвержден",
    OrderStatus.SHIPPED.value: "Отгружен",
    OrderStatus.REJECTED.value: "Отклонен",
    OrderStatus.CANCELLED.value: "Отменен",
}

# OKEI codes of the units suppliers use; anything else goes as a piece (796) with its own name.
UNITS = {
    "шт": ("796", "Штука"),
    "шт.": ("796", "Штука"),
    "штука": ("796", "Штука"),
    "pcs": ("796", "Штука"),
    "pc": ("796", "Штука"),
    "кг": ("166", "Килограмм"),
    "kg": ("166", "Килограмм"),
    "г": ("163", "Грамм"),
    "т": ("168", "Тонна"),
    "м": ("006", "Метр"),
    "m": ("006", "Метр"),
    "м2": ("055", "Квадратный метр"),
    "м3": ("113", "Кубический метр"),
    "л": ("112", "Литр"),
    "l": ("112", "Литр"),
    "упак": ("778", "Упаковка"),
    "уп": ("778", "Упаковка"),
    "компл": ("839", "Комплект"),
}


@dataclass(frozen=True)
class LineOut:
    """One line of an order as the ERP gets it; ``price`` is per unit, VAT included.

    Its amount and VAT follow the shared money rules (``oms_shared.money``): kopecks half-up, VAT per line.
    """

    line_id: str
    sku: str
    product_erp_id: str
    name: str
    unit: str
    warehouse_id: str | None
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal

    @cached_property
    def money(self) -> rules.LineMoney:
        return rules.line(self.quantity, self.price, self.vat_rate, vat_included=True)

    @property
    def amount(self) -> Decimal:
        return self.money.amount

    @property
    def vat(self) -> Decimal:
        return self.money.vat

    def to_cml(self) -> OrderLineOut:
        code, unit_name = UNITS.get(self.unit.strip().casefold(), ("796", self.unit.strip() or "Штука"))
        return OrderLineOut(
            sku=self.sku,
            name=self.name or self.sku,
            price=self.price,
            quantity=self.quantity,
            amount=self.amount,
            product_erp_id=self.product_erp_id,
            vat_rate=self.vat_rate if self.vat_rate else None,  # 0 is "no VAT given": no tax element
            vat_included=True,
            unit_code=code,
            unit_name=unit_name,
        )


@dataclass(frozen=True)
class ExportOrder:
    """One order of the replica, ready for either channel.

    ``lines`` are the lines sent to the ERP, and the document's total and VAT are always their sums (never a
    total remembered from an event, which a split, a move or an ERP cut may have left behind).
    """

    order_id: str
    number: str
    status: str
    created_at: datetime
    changed_at: datetime
    version: int
    exported_version: int
    exported_at: datetime | None
    erp_number: str
    buyer: CmlCounterparty
    lines: list[LineOut]
    comment: str
    desired_shipment_date: date | None
    shipment_date: date | None
    paid_amount: Decimal | None

    @cached_property
    def money(self) -> rules.DocumentMoney:
        return rules.document(line.money for line in self.lines)

    @property
    def total(self) -> Decimal:
        """What the buyer pays: the sum of the lines sent (prices include VAT)."""
        return self.money.total

    @property
    def vat(self) -> Decimal:
        """The VAT inside the total: the sum of the lines' VAT, each rounded as 1C rounds it."""
        return self.money.vat

    @property
    def pending(self) -> bool:
        return self.exported_version < self.version

    def requisites(self) -> list[tuple[str, RequisiteValue]]:
        pairs: list[tuple[str, RequisiteValue]] = [
            ("Статус заказа", STATUS_TEXT.get(self.status, self.status)),
            ("Статуса заказа ИД", self.status),  # the spelling 1C exchange modules use
            ("Отменен", self.status in CLOSED),
        ]
        if self.desired_shipment_date is not None:
            pairs.append(("Желаемая дата отгрузки", self.desired_shipment_date))
        if self.shipment_date is not None:
            pairs.append(("Дата отгрузки", self.shipment_date))
        if self.paid_amount is not None:
            pairs.append(("Сумма оплаты", self.paid_amount))
        return pairs

    def to_cml(self, zone: tzinfo = UTC) -> OrderOut:
        """The order for the XML; its date and time in the supplier's zone (1C reads them as local)."""
        return OrderOut(
            order_id=self.order_id,
            number=self.number,
            created_at=self.created_at.astimezone(zone),
            buyer=self.buyer,
            lines=[line.to_cml() for line in self.lines],
            total=self.total,
            comment=self.comment,
            requisites=self.requisites(),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "number": self.number,
            "status": self.status,
            "version": self.version,
            "exported_version": self.exported_version,
            "pending": self.pending,
            "exported_at": iso(self.exported_at),
            "created_at": iso(self.created_at),
            "changed_at": iso(self.changed_at),
            "erp_document_id": self.erp_number,
            "buyer": {
                "buyer_id": self.buyer.erp_id,
                "name": self.buyer.name,
                "inn": self.buyer.inn,
                "kpp": self.buyer.kpp,
            },
            "lines": [
                {
                    "line_id": line.line_id,
                    "sku": line.sku,
                    "erp_product_id": line.product_erp_id or None,
                    "name": line.name,
                    "unit": line.unit,
                    "warehouse_id": line.warehouse_id,
                    "quantity": dec(line.quantity),
                    "price": dec(line.price),
                    "vat_rate": dec(line.vat_rate),
                    "amount": dec(line.amount),
                    "vat_amount": dec(line.vat),
                }
                for line in self.lines
            ],
            "total": dec(self.total),
            "vat_amount": dec(self.vat),
            "prices_include_vat": True,
            "comment": self.comment,
            "desired_shipment_date": iso(self.desired_shipment_date),
            "shipment_date": iso(self.shipment_date),
            "paid_amount": dec(self.paid_amount) if self.paid_amount is not None else None,
        }


def iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def as_date(value: Any) -> date | None:
    """A snapshot value (ISO date or date-time) as a date; missing or unreadable → None."""
    if not value or value == "None":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def where_exported(tenant_id: str, *, pending_only: bool) -> list[sa.ColumnElement[bool]]:
    """The ERP's orders of a tenant: exportable ones, and of those the waiting ones when ``pending_only``."""
    where: list[sa.ColumnElement[bool]] = [orders.c.tenant_id == tenant_id, orders.c.exportable == sa.true()]
    if pending_only:
        where.append(orders.c.exported_version < orders.c.version)
    return where


async def count_orders(conn: AsyncConnection, tenant_id: str, *, pending_only: bool) -> int:
    query = sa.select(sa.func.count()).select_from(orders).where(*where_exported(tenant_id, pending_only=pending_only))
    return int(await conn.scalar(query) or 0)


async def load_orders(
    conn: AsyncConnection,
    tenant_id: str,
    *,
    pending_only: bool,
    limit: int | None = None,
    offset: int = 0,
) -> list[ExportOrder]:
    """The tenant's orders for the ERP, oldest first; every one of them unless ``limit`` is given (pitfall 4)."""
    query = (
        sa.select(orders, buyers.c.name.label("b_name"), buyers.c.inn.label("b_inn"), buyers.c.kpp.label("b_kpp"))
        .select_from(
            orders.outerjoin(buyers, sa.and_(buyers.c.buyer_id == orders.c.buyer_id, buyers.c.tenant_id == tenant_id))
        )
        .where(*where_exported(tenant_id, pending_only=pending_only))
        .order_by(orders.c.created_at, orders.c.order_id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = (await conn.execute(query)).all()
    snapshots = [json.loads(row.snapshot) for row in rows]
    skus = {str(line.get("sku", "")) for snapshot in snapshots for line in snapshot.get("lines", [])}
    erp_ids = await product_ids(conn, tenant_id, skus)
    buyers_seen: dict[str, CmlCounterparty] = {}
    return [_order(row, snapshot, erp_ids, buyers_seen) for row, snapshot in zip(rows, snapshots, strict=True)]


async def product_ids(conn: AsyncConnection, tenant_id: str, skus: Iterable[str]) -> dict[str, str]:
    """SKU → the 1C product id imported for it (the smallest id when several 1C products share a SKU)."""
    wanted = sorted({sku for sku in skus if sku})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(
            sa.select(products.c.sku, sa.func.min(products.c.erp_id))
            .where(products.c.tenant_id == tenant_id, products.c.sku.in_(wanted[start : start + CHUNK]))
            .group_by(products.c.sku)
        )
        found.update({sku: erp_id for sku, erp_id in rows.all()})
    return found


async def skus_of(conn: AsyncConnection, tenant_id: str, erp_ids: Iterable[str]) -> dict[str, str]:
    """1C product id → our SKU, for the ids 1C sends back."""
    wanted = sorted({erp_id for erp_id in erp_ids if erp_id})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(
            sa.select(products.c.erp_id, products.c.sku).where(
                products.c.tenant_id == tenant_id, products.c.erp_id.in_(wanted[start : start + CHUNK])
            )
        )
        found.update({erp_id: sku for erp_id, sku in rows.all()})
    return found


def _buyer(row: Any, snapshot: Mapping[str, Any], seen: dict[str, CmlCounterparty]) -> CmlCounterparty:
    """The counterparty: the buyer replica, else the name the order was placed with; one identity per buyer id."""
    known = seen.get(row.buyer_id)
    if known is not None:
        return known
    name = (row.b_name or snapshot.get("buyer_name") or "").strip() or f"Покупатель {row.buyer_id}"
    buyer = CmlCounterparty(erp_id=row.buyer_id, name=name, inn=row.b_inn or "", kpp=row.b_kpp or "")
    seen[row.buyer_id] = buyer
    return buyer


def _line(raw: Mapping[str, Any], erp_ids: Mapping[str, str]) -> LineOut:
    sku = str(raw.get("sku", ""))
    return LineOut(
        line_id=str(raw.get("line_id", "")),
        sku=sku,
        product_erp_id=erp_ids.get(sku, ""),
        name=str(raw.get("name") or ""),
        unit=str(raw.get("unit") or ""),
        warehouse_id=raw.get("warehouse_id"),
        quantity=as_decimal(raw.get("quantity"), Decimal(0)) or Decimal(0),
        price=as_decimal(raw.get("price"), Decimal(0)) or Decimal(0),
        vat_rate=as_decimal(raw.get("vat_rate"), Decimal(0)) or Decimal(0),
    )


def lines_of(row: Any) -> list[LineOut]:
    """The lines of an ``erp_orders`` row as its snapshot has them (without 1C product ids)."""
    return [_line(raw, {}) for raw in json.loads(row.snapshot).get("lines", [])]


def sendable(lines: Iterable[LineOut]) -> list[LineOut]:
    """The lines the ERP gets: a line of quantity 0 (cut to nothing in the ERP, or in OMS) is left out.

    The ERP replaces a document's lines with those sent, so leaving the line out removes it there; sending it
    with ``Количество 0`` would re-add in 1C a line 1C removed (1C:UT does not post a line without a quantity).
    """
    return [line for line in lines if line.quantity > 0]


def _order(
    row: Any, snapshot: Mapping[str, Any], erp_ids: Mapping[str, str], seen: dict[str, CmlCounterparty]
) -> ExportOrder:
    lines = sendable([_line(raw, erp_ids) for raw in snapshot.get("lines", [])])
    attributes = snapshot.get("attributes") or {}
    return ExportOrder(
        order_id=row.order_id,
        number=row.number,
        status=row.status,
        created_at=row.created_at,
        changed_at=row.changed_at,
        version=row.version,
        exported_version=row.exported_version,
        exported_at=row.exported_at,
        erp_number=row.erp_number,
        buyer=_buyer(row, snapshot, seen),
        lines=lines,
        comment=str(snapshot.get("comment") or ""),
        desired_shipment_date=as_date(snapshot.get("desired_shipment_date")),
        shipment_date=as_date((attributes.get("shipment_date") or {}).get("new")),
        paid_amount=as_decimal((attributes.get("payment") or {}).get("new")),
    )


async def mark_taken(conn: AsyncConnection, tenant_id: str, sent: Mapping[str, int], now: datetime) -> int:
    """The ERP took these versions: ``exported_version`` rises to each (never falls); returns the orders touched.

    A change made after the ERP was sent the order raised its version above the one taken, so it stays pending.
    """
    by_version: dict[int, list[str]] = {}
    for order_id, version in sent.items():
        by_version.setdefault(int(version), []).append(order_id)
    touched = 0
    for version, ids in sorted(by_version.items()):  # one statement per version and chunk, not per order
        for start in range(0, len(ids), CHUNK):
            done = await conn.execute(
                orders.update()
                .where(orders.c.order_id.in_(ids[start : start + CHUNK]), orders.c.tenant_id == tenant_id)
                .values(
                    exported_version=sa.case(
                        (orders.c.exported_version < version, version), else_=orders.c.exported_version
                    ),
                    exported_at=now,
                )
            )
            touched += done.rowcount or 0
    return touched


async def still_pending(conn: AsyncConnection, tenant_id: str, order_ids: Iterable[str]) -> list[str]:
    """The numbers of these orders that changed again after the version the ERP took."""
    wanted = sorted(set(order_ids))
    numbers: list[str] = []
    for start in range(0, len(wanted), CHUNK):
        rows = await conn.execute(
            sa.select(orders.c.number).where(
                orders.c.tenant_id == tenant_id,
                orders.c.order_id.in_(wanted[start : start + CHUNK]),
                orders.c.exported_version < orders.c.version,
            )
        )
        numbers.extend(number for (number,) in rows.all())
    return numbers
