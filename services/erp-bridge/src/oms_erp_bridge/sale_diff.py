"""What one of 1C's order documents changes in our order: pure decisions, no database, no I/O (R-ERP-1, 3, 5).

``order_change`` compares a ``CmlOrder`` with our order (its replica row: ``order_id``, ``status`` and the JSON
``snapshot`` with its lines) and returns the ``ErpOrderChangedData`` to publish, with the same in words:

- status: 1C's booleans first — a deletion mark or ``Отменен`` rejects the order (unless it is closed already),
  ``Отгружен`` (or a shipment number or date) ships it; otherwise the free-text ``Статус заказа`` (or its id) only
  through the supplier's explicit status map; a text that is not in the map changes nothing and says so;
- lines, only when the document has ``Товары``: 1C's goods lines are summed per SKU (1C product id → our SKU, else
  ``Артикул``, else the product id) and matched with ours per SKU. 1C sends its whole current list, so a missing
  SKU or a smaller quantity is a cancelled quantity, taken from the last of our lines of that SKU first; a larger
  quantity is a new quantity on the first one. The price per base unit comes from the amounts with VAT (VAT added
  on top by 1C, ``УчтеноВСумме=false``, is converted to VAT-included), and the VAT rate is compared too. A SKU we do
  not have becomes a new line (``line_id`` None); service lines (delivery) are skipped; lines 1C marks cancelled
  count as quantity 0;
- paid: ``paid_amount`` = the document's total; the shipment date is taken as it is.

``version_key`` names the document's version (``НомерВерсии``, else a fingerprint), so a repeat changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oms_erp_bridge.cml import CmlError, CmlOrder, CmlOrderLine, parse_bool
from oms_erp_bridge.common import CLOSED, as_decimal, dec
from oms_shared.contracts import ErpLineChange, ErpOrderChangedData, OrderStatus

CENT = Decimal("0.01")
LINE_CANCELLED = ("Отменено", "Отменена", "Отменен")  # a line marked cancelled in 1C (the guide's "Отклонен")


def version_key(document: CmlOrder) -> str:
    """``НомерВерсии``, or a fingerprint of the document when 1C sends none (so a repeat is still recognised)."""
    if document.version:
        return document.version[:100]
    return "sha256:" + hashlib.sha256(repr(document).encode("utf-8")).hexdigest()[:48]


def parse_status_map(raw: str | None) -> dict[str, OrderStatus]:
    """The connection's JSON ``{1C status text: OMS status}`` keyed by the casefolded text; unknown statuses dropped."""
    table: dict[str, OrderStatus] = {}
    for text, status in (json.loads(raw) if raw else {}).items():
        try:
            table[str(text).strip().casefold()] = OrderStatus(status)
        except ValueError:
            continue
    return table


def _status(
    document: CmlOrder, ours_status: str, status_map: Mapping[str, OrderStatus]
) -> tuple[OrderStatus | None, str]:
    """The state from 1C's flags first; free-text statuses only through the connection's table."""
    if document.deletion_mark or document.cancelled:
        if ours_status in CLOSED:  # cancelled by the buyer or rejected already: nothing to move
            return None, ""
        return OrderStatus.REJECTED, "cancelled in 1C"
    if document.shipped:
        return OrderStatus.SHIPPED, "shipped in 1C"
    for text in (document.status_text, document.status_id):
        status = status_map.get(text.strip().casefold()) if text else None
        if status is not None:
            return status, f"1C status {text!r}"
    if document.status_text:
        return None, f"1C status {document.status_text!r} is not in the status map: status unchanged"
    return None, ""


def order_change(
    document: CmlOrder, ours: Any, status_map: Mapping[str, OrderStatus], sku_of: Mapping[str, str]
) -> tuple[ErpOrderChangedData, list[str]]:
    """What 1C's document changes in our order (a row of ``erp_orders``), and the same in words."""
    notes: list[str] = []
    status, said = _status(document, ours.status, status_map)
    if status is not None and status.value == ours.status:
        status = None
    elif status is not None:
        notes.append(f"status {ours.status} → {status.value} ({said})")
    elif said:
        notes.append(said)
    lines: list[ErpLineChange] = []
    if document.has_lines:
        snapshot = json.loads(ours.snapshot)
        lines, line_notes = diff_lines(_our_lines(snapshot.get("lines", [])), _their_lines(document.lines, sku_of))
        notes.extend(line_notes)
    paid = document.total if document.paid and document.total is not None else None
    if paid is not None:
        notes.append(f"paid {dec(paid)}")
    shipment_date = document.shipment_date.date() if document.shipment_date is not None else None
    if shipment_date is not None:
        notes.append(f"shipment date {shipment_date.isoformat()}")
    data = ErpOrderChangedData(
        order_id=uuid.UUID(ours.order_id),
        erp_document_id=(document.number_1c or document.erp_id).strip(),
        status=status,
        lines=lines,
        shipment_date=shipment_date,
        paid_amount=paid,
        comment=f"1C: {document.status_text}" if status is not None and document.status_text else "",
    )
    return data, notes


def changes_nothing(data: ErpOrderChangedData) -> bool:
    """Nothing for orders to apply (the 1C number alone is kept here, in ``erp_orders``)."""
    return data.status is None and not data.lines and data.shipment_date is None and data.paid_amount is None


# --- lines ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OurLine:
    line_id: str
    sku: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal


@dataclass
class TheirLine:
    """1C's lines of one SKU, summed: quantity in base units, and the amount with VAT of the priced quantity."""

    sku: str
    quantity: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)
    priced_quantity: Decimal = Decimal(0)
    vat_rate: Decimal | None = None

    @property
    def price(self) -> Decimal | None:
        """Per base unit, VAT included, after 1C's discounts (from the amounts, not the list price)."""
        if not self.priced_quantity:
            return None
        return (self.gross / self.priced_quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def _our_lines(raw: Sequence[Mapping[str, Any]]) -> list[OurLine]:
    return [
        OurLine(
            line_id=str(item.get("line_id", "")),
            sku=str(item.get("sku", "")),
            quantity=as_decimal(item.get("quantity"), Decimal(0)) or Decimal(0),
            price=as_decimal(item.get("price"), Decimal(0)) or Decimal(0),
            vat_rate=as_decimal(item.get("vat_rate"), Decimal(0)) or Decimal(0),
        )
        for item in raw
    ]


def _cancelled(line: CmlOrderLine) -> bool:
    for name in LINE_CANCELLED:
        try:
            if parse_bool(line.requisites.get(name)):
                return True
        except CmlError:
            continue
    return False


def _gross(line: CmlOrderLine) -> Decimal:
    """The line's amount with VAT: 1C adds the VAT on top when ``УчтеноВСумме`` is false."""
    if line.vat_included is not False:
        return line.amount
    if line.vat_amount is not None:
        return line.amount + line.vat_amount
    return line.amount * (1 + (line.vat_rate or Decimal(0)) / 100)


def _their_lines(lines: Sequence[CmlOrderLine], sku_of: Mapping[str, str]) -> dict[str, TheirLine]:
    """1C's goods lines by our SKU (1C product id → SKU, else ``Артикул``, else the product id); services skipped."""
    found: dict[str, TheirLine] = {}
    for line in lines:
        if line.is_service:
            continue
        sku = sku_of.get(line.product_erp_id) or line.sku or line.product_erp_id
        if not sku:
            continue
        item = found.setdefault(sku, TheirLine(sku))
        quantity = Decimal(0) if _cancelled(line) else line.quantity * (line.unit_factor or Decimal(1))
        item.quantity += quantity
        if quantity > 0:
            item.gross += _gross(line)
            item.priced_quantity += quantity
        if item.vat_rate is None:
            item.vat_rate = line.vat_rate
    return found


def diff_lines(ours: Sequence[OurLine], theirs: Mapping[str, TheirLine]) -> tuple[list[ErpLineChange], list[str]]:
    """1C sends its whole current line list: a missing line or a smaller quantity is cancelled (R-ERP-5), a larger
    quantity, another price or VAT rate is taken, a line we do not have is added."""
    by_sku: dict[str, list[OurLine]] = {}
    for line in ours:
        by_sku.setdefault(line.sku, []).append(line)
    changes: list[ErpLineChange] = []
    notes: list[str] = []
    for sku, lines in by_sku.items():
        their = theirs.get(sku)
        fields: dict[str, dict[str, Decimal]] = {line.line_id: {} for line in lines}
        have = sum((line.quantity for line in lines), Decimal(0))
        want = their.quantity if their is not None else Decimal(0)
        if want < have:
            notes.append(f"{sku}: {dec(have - want)} cancelled" + ("" if their else " (line removed)"))
            remaining = have - want
            for line in reversed(lines):  # the last lines give up their quantity first
                cut = min(line.quantity, remaining)
                if cut > 0:
                    # With the quantity it was cut from, the result is absolute: a document applied against a
                    # line that already took an earlier cut (replica lagging) cannot cut it twice.
                    fields[line.line_id]["quantity"] = line.quantity
                    fields[line.line_id]["cancelled_quantity"] = cut
                    remaining -= cut
        elif want > have:
            notes.append(f"{sku}: quantity {dec(have)} → {dec(want)}")
            fields[lines[0].line_id]["quantity"] = lines[0].quantity + want - have
        price = their.price if their is not None else None
        rate = their.vat_rate if their is not None else None
        said: set[str] = set()
        for line in lines:
            if price is not None and abs(price - line.price) >= CENT:
                fields[line.line_id]["price"] = price
                said.add(f"{sku}: price {dec(line.price)} → {dec(price)}")
            if rate is not None and rate != line.vat_rate:
                fields[line.line_id]["vat_rate"] = rate
                said.add(f"{sku}: VAT {dec(line.vat_rate)}% → {dec(rate)}%")
        notes.extend(sorted(said))
        for line in lines:
            change = fields[line.line_id]
            if change:
                changes.append(
                    ErpLineChange(
                        line_id=_uuid(line.line_id),
                        sku=sku,
                        quantity=change.get("quantity"),
                        price=change.get("price"),
                        vat_rate=change.get("vat_rate"),
                        cancelled_quantity=change.get("cancelled_quantity"),
                    )
                )
    for sku, their in theirs.items():
        if sku not in by_sku and their.quantity > 0:
            changes.append(
                ErpLineChange(
                    line_id=None, sku=sku, quantity=their.quantity, price=their.price, vat_rate=their.vat_rate
                )
            )
            notes.append(f"{sku}: added, {dec(their.quantity)}")
    return changes, notes


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # orders then matches the line by SKU


# The same as ``orders_out.dec`` / ``orders_out.as_decimal``, here so that this module imports no database code.
