"""What one of 1C's order documents changes in our order: pure decisions, no database, no I/O (R-ERP-1, 3, 5).

``order_change`` compares a ``CmlOrder`` with our order (its replica row: ``order_id``, ``status`` and the JSON
``snapshot`` with its lines) and returns the ``ErpOrderChangedData`` to publish, with the same in words:

- status: 1C's booleans first — a deletion mark or ``Отменен`` rejects the order (unless it is closed already),
  ``Отгружен`` ships it, and so do shipment documents that cover every line; otherwise the free-text
  ``Статус заказа`` (or its id) only through the supplier's explicit status map; a text that is not in the map
  changes nothing and says so. A shipment number or date alone says nothing about how much was shipped: it ships
  nothing;
- lines, only when the document has ``Товары``: 1C's goods lines are summed per SKU (1C product id → our SKU, else
  ``Артикул``, else the product id) and matched with ours per SKU. 1C sends its whole current list, so a missing
  SKU or a smaller quantity is a cancelled quantity, taken from the last of our lines of that SKU first; a larger
  quantity is a new quantity on the first one. The price per base unit comes from the amounts with VAT (VAT added
  on top by 1C, ``УчтеноВСумме=false``, is converted to VAT-included), and the VAT rate is compared too. A SKU we do
  not have becomes a new line (``line_id`` None); service lines (delivery) are skipped; lines 1C marks cancelled
  count as quantity 0;
- shipped quantities (R-ERP-5), from the shipment documents (``Отпуск товара``) that came with the order: their
  goods summed per SKU and given to our lines of that SKU, first line first, each up to its quantity; every
  line's shipped quantity is sent as it stands (absolute, so a repeat cannot ship twice);
- paid: the sum of the payment documents that came with the order (refunds subtracted); without any, 1C's
  ``Оплачен`` flag means the document's total; a payment number or date alone changes nothing;
- comment: ``1C: <status text>`` when 1C sent a status text it had not sent before for this order.

Payment and shipment documents belong to an order by their ``Контейнер`` (CML 3.1) or by ``Основание`` naming
the order's ``Ид`` or ``Номер`` (``related``). The shipment date is taken as it is.

``version_key`` names the document's version (``НомерВерсии``, else a fingerprint of a fixed, canonical list of
its fields) together with the versions of its payments and shipments, so a repeat changes nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from oms_erp_bridge.cml import CmlError, CmlOrder, CmlOrderLine, parse_bool
from oms_erp_bridge.common import CLOSED, as_decimal, dec
from oms_shared.contracts import ErpLineChange, ErpOrderChangedData, OrderStatus

CENT = Decimal("0.01")
LINE_CANCELLED = ("Отменено", "Отменена", "Отменен")  # a line marked cancelled in 1C (the guide's "Отклонен")


FINGERPRINT_VERSION = 1  # bump only when the list of fields below changes: every unversioned document re-applies
DOCUMENT_FIELDS = (
    "erp_id", "number", "number_1c", "date_1c", "version", "operation", "date", "currency", "rate", "total",
    "posted", "cancelled", "deletion_mark", "shipped", "paid", "payment_number", "payment_date", "shipment_number",
    "shipment_date", "status_text", "status_id", "comment", "has_lines", "vat_included", "vat_amount", "basis",
)  # fmt: skip
LINE_FIELDS = (
    "erp_id", "sku", "name", "unit_code", "price", "quantity", "amount", "vat_rate", "vat_included", "vat_amount",
    "discount_amount", "is_service", "unit_factor",
)  # fmt: skip


def _canonical(value: Any) -> Any:
    """One spelling per value: decimals without exponent or trailing zeros, dates in ISO, strings stripped."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return sorted((str(k).strip(), _canonical(v)) for k, v in value.items())
    return str(value).strip()


def fingerprint(document: CmlOrder) -> str:
    """A fingerprint of the fields that matter, in a fixed order and spelling: it does not change when the parser
    learns a new field or lists its fields in another order, only when 1C's document does."""
    canonical = {
        "v": FINGERPRINT_VERSION,
        "document": [[name, _canonical(getattr(document, name, None))] for name in DOCUMENT_FIELDS],
        "requisites": _canonical(document.requisites),
        "lines": sorted(
            json.dumps(
                [[name, _canonical(getattr(line, name, None))] for name in LINE_FIELDS]
                + [["requisites", _canonical(line.requisites)]],
                ensure_ascii=False,
            )
            for line in document.lines
        ),
    }
    raw = json.dumps(canonical, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return f"fp{FINGERPRINT_VERSION}:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:48]


def version_key(document: CmlOrder, related: Sequence[CmlOrder] = ()) -> str:
    """``НомерВерсии``, or a fingerprint of the document when 1C sends none (so a repeat is still recognised); with
    the versions of the payments and shipments that came with it, since a new payment need not change the order."""
    own = document.version[:100] if document.version else fingerprint(document)
    if not related:
        return own
    others = sorted(item.version or fingerprint(item) for item in related)
    mixed = hashlib.sha256(json.dumps([own, others], ensure_ascii=False).encode("utf-8")).hexdigest()[:40]
    return f"{own[:50]}+{mixed}"


def related_documents(document: CmlOrder, everything: Sequence[CmlOrder] | RelatedIndex) -> list[CmlOrder]:
    """The payments, refunds and shipments that belong to this order document (its ``Контейнер``, or ``Основание``
    = its ``Ид``, ``Номер`` or ``Номер1С``), in file order; ``everything`` is the file's documents or their index."""
    index = everything if isinstance(everything, RelatedIndex) else RelatedIndex.of(everything)
    names = {name.strip() for name in (document.erp_id, document.number, document.number_1c)} - {""}
    found = {position: item for name in names for position, item in index.by_basis.get(name, [])}
    return [found[position] for position in sorted(found)]


@dataclass(frozen=True)
class RelatedIndex:
    """A file's payments, refunds and shipments by the order they name (one pass over the file)."""

    by_basis: dict[str, list[tuple[int, CmlOrder]]]

    @classmethod
    def of(cls, documents: Sequence[CmlOrder]) -> RelatedIndex:
        by_basis: dict[str, list[tuple[int, CmlOrder]]] = {}
        for position, item in enumerate(documents):
            if not item.is_order and item.basis and (item.is_payment or item.is_refund or item.is_shipment):
                by_basis.setdefault(item.basis, []).append((position, item))
        return cls(by_basis)


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
    document: CmlOrder, ours_status: str, status_map: Mapping[str, OrderStatus], all_shipped: bool
) -> tuple[OrderStatus | None, str]:
    """The state from 1C's flags first; free-text statuses only through the connection's table."""
    if document.deletion_mark or document.cancelled:
        if ours_status in CLOSED:  # cancelled by the buyer or rejected already: nothing to move
            return None, ""
        return OrderStatus.REJECTED, "cancelled in 1C"
    if document.shipped_flag:
        return OrderStatus.SHIPPED, "shipped in 1C"
    if all_shipped:
        return OrderStatus.SHIPPED, "every line shipped in 1C"
    for text in (document.status_text, document.status_id):
        status = status_map.get(text.strip().casefold()) if text else None
        if status is not None:
            return status, f"1C status {text!r}"
    if document.status_text:
        return None, f"1C status {document.status_text!r} is not in the status map: status unchanged"
    return None, ""


def order_change(
    document: CmlOrder,
    ours: Any,
    status_map: Mapping[str, OrderStatus],
    sku_of: Mapping[str, str],
    related: Sequence[CmlOrder] = (),
) -> tuple[ErpOrderChangedData, list[str]]:
    """What 1C's document (with its payments and shipments, ``related``) changes in our order (a row of
    ``erp_orders``), and the same in words."""
    notes: list[str] = []
    our_lines = _our_lines(json.loads(ours.snapshot).get("lines", []))
    changes: list[ErpLineChange] = []
    line_notes: list[str] = []
    if document.has_lines:
        changes, line_notes = diff_lines(our_lines, _their_lines(document.lines, sku_of))
    shipments = [item for item in related if item.is_shipment and item.in_force]
    shipped: dict[str, Decimal] = {}
    ship_notes: list[str] = []
    if shipments:
        shipped, ship_notes = shipped_per_line(_after(our_lines, changes), shipments, sku_of)
    after = _after(our_lines, changes)
    all_shipped = bool(shipped) and all(shipped.get(line.line_id, 0) >= line.quantity for line in after)
    status, said = _status(document, ours.status, status_map, all_shipped)
    if status is not None and status.value == ours.status:
        status = None
    elif status is not None:
        notes.append(f"status {ours.status} → {status.value} ({said})")
    elif said:
        notes.append(said)
    if document.shipped_flag and not (document.deletion_mark or document.cancelled):
        shipped = {line.line_id: line.quantity for line in after}  # 1C says the whole order left the warehouse
    elif document.shipped and not shipments and not document.shipped_flag:
        name = document.shipment_number.strip() or "with its date only"
        notes.append(f"1C names shipment {name} without its lines: nothing read as shipped")
    notes.extend(line_notes)
    notes.extend(ship_notes)
    changes = _with_shipped(changes, after, shipped)
    paid, paid_note = _paid(document, related)
    if paid_note:
        notes.append(paid_note)
    shipment_date = document.shipment_date.date() if document.shipment_date is not None else None
    if shipment_date is not None:
        notes.append(f"shipment date {shipment_date.isoformat()}")
    text = document.status_text.strip()
    comment = f"1C: {text}" if text and text != (getattr(ours, "erp_status_text", "") or "") else ""
    data = ErpOrderChangedData(
        order_id=uuid.UUID(ours.order_id),
        erp_document_id=(document.number_1c or document.erp_id).strip(),
        status=status,
        lines=changes,
        shipment_date=shipment_date,
        paid_amount=paid,
        comment=comment,
    )
    return data, notes


def changes_nothing(data: ErpOrderChangedData) -> bool:
    """Nothing for orders to apply (the 1C number alone is kept here, in ``erp_orders``)."""
    return (
        data.status is None
        and not data.lines
        and data.shipment_date is None
        and data.paid_amount is None
        and not data.comment
    )


# --- payments and shipments -----------------------------------------------------------------------------------


def _paid(document: CmlOrder, related: Sequence[CmlOrder]) -> tuple[Decimal | None, str]:
    """The sum of the payments (refunds subtracted); else the total when 1C flags the order paid; else nothing."""
    payments = [item for item in related if (item.is_payment or item.is_refund) and item.in_force]
    if payments:
        paid = sum(((item.total or Decimal(0)) * (-1 if item.is_refund else 1) for item in payments), Decimal(0))
        paid = max(paid, Decimal(0))
        count = len(payments)
        return paid, f"paid {dec(paid)} ({count} payment document{'s' if count > 1 else ''})"
    if document.paid_flag and document.total is not None:
        return document.total, f"paid {dec(document.total)} (the order is marked paid in 1C)"
    if document.paid:
        name = document.payment_number.strip() or "with its date only"
        return None, f"1C names payment {name} without its sum: paid amount unchanged"
    return None, ""


def shipped_per_line(
    ours: Sequence[OurLine], shipments: Sequence[CmlOrder], sku_of: Mapping[str, str]
) -> tuple[dict[str, Decimal], list[str]]:
    """Shipped quantity per line id: the shipments' goods summed per SKU, given to our lines of that SKU first line
    first, each up to its quantity; what finds no line is said, not invented."""
    per_sku: dict[str, Decimal] = {}
    for shipment in shipments:
        for sku, their in _their_lines(shipment.lines, sku_of).items():
            per_sku[sku] = per_sku.get(sku, Decimal(0)) + their.quantity
    shipped: dict[str, Decimal] = {line.line_id: Decimal(0) for line in ours}
    notes: list[str] = []
    for sku, quantity in per_sku.items():
        left = quantity
        lines = [line for line in ours if line.sku == sku]
        for line in lines:
            take = min(line.quantity, left)
            shipped[line.line_id] = take
            left -= take
        ordered = sum((line.quantity for line in lines), Decimal(0))
        if left > 0:
            notes.append(f"{sku}: 1C shipped {dec(quantity)}, more than the {dec(ordered)} ordered")
        elif quantity < ordered:
            notes.append(f"{sku}: shipped {dec(quantity)} of {dec(ordered)}")
        else:
            notes.append(f"{sku}: shipped {dec(quantity)}")
    return shipped, notes


def _after(ours: Sequence[OurLine], changes: Sequence[ErpLineChange]) -> list[OurLine]:
    """Our lines with 1C's quantity changes applied (new lines are not ours yet: they have no id to ship to)."""
    by_id = {str(change.line_id): change for change in changes if change.line_id is not None}
    after: list[OurLine] = []
    for line in ours:
        change = by_id.get(line.line_id)
        quantity = line.quantity
        if change is not None:
            quantity = change.quantity if change.quantity is not None else quantity
            quantity = max(quantity - (change.cancelled_quantity or Decimal(0)), Decimal(0))
        if quantity > 0:
            after.append(dataclasses.replace(line, quantity=quantity))
    return after


def _with_shipped(
    changes: list[ErpLineChange], after: Sequence[OurLine], shipped: Mapping[str, Decimal]
) -> list[ErpLineChange]:
    """Each line's shipped quantity on its change (a line 1C changed nothing else on gets a change of its own)."""
    if not shipped:
        return changes
    result: list[ErpLineChange] = []
    done: set[str] = set()
    for change in changes:
        key = str(change.line_id) if change.line_id is not None else ""
        if key in shipped:
            change = change.model_copy(update={"shipped_quantity": shipped[key]})
            done.add(key)
        result.append(change)
    for line in after:
        if line.line_id not in done and line.line_id in shipped:
            result.append(
                ErpLineChange(line_id=_uuid(line.line_id), sku=line.sku, shipped_quantity=shipped[line.line_id])
            )
    return result


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
