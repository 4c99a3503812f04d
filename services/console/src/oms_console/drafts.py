"""R-UI-5: a change set of an order kept in the form (not business data) — what the user typed, the diff
against the order as the service has it now (per-line markers, recalculated totals) and the requests that
apply it. Pure: no I/O, so a reload after a conflict can lay the same draft over the fresh order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from oms_console.i18n import _
from oms_shared import money

FIELDS = ("quantity", "price", "vat_rate")
BLANK_ADD_ROWS = 2


def parse_decimal(text: str) -> Decimal | None:
    """A number as a person types it ("1 234,5" or "1234.5"); ``None`` when it is not one."""
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".").strip()
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def plain(value: Any) -> str:
    """A service decimal as an input shows it: "10" rather than "10.000", "99.5" rather than "99.5000"."""
    number = parse_decimal(str(value)) if value is not None else None
    if number is None:
        return ""
    text = format(number.normalize(), "f")
    return text


@dataclass
class LineDraft:
    line_id: str
    quantity: str
    price: str
    vat_rate: str
    delete: bool = False


@dataclass
class AddDraft:
    sku: str = ""
    warehouse_id: str = ""
    quantity: str = ""

    @property
    def empty(self) -> bool:
        return not (self.sku or self.quantity)


@dataclass
class Draft:
    """What the user typed: every line's values, lines to delete, lines to add, the shipment date, a comment."""

    lines: dict[str, LineDraft] = field(default_factory=dict)
    add: list[AddDraft] = field(default_factory=list)
    shipment_date: str = ""
    comment: str = ""

    @classmethod
    def from_order(cls, order: Mapping[str, Any]) -> Draft:
        lines = {
            str(x["line_id"]): LineDraft(
                str(x["line_id"]), plain(x.get("quantity")), plain(x.get("price")), plain(x.get("vat_rate"))
            )
            for x in order.get("lines") or []
        }
        return cls(lines=lines, shipment_date=str(order.get("shipment_date") or ""))

    @classmethod
    def from_form(cls, form: Mapping[str, Any], getlist: Any, order: Mapping[str, Any]) -> Draft:
        """The draft from the posted form; lines the form does not mention keep the order's values (a line
        added meanwhile by someone else shows unchanged)."""
        draft = cls.from_order(order)
        for line_id in getlist("line_id"):
            line_id = str(line_id)
            draft.lines[line_id] = LineDraft(
                line_id,
                str(form.get(f"quantity-{line_id}", "")).strip(),
                str(form.get(f"price-{line_id}", "")).strip(),
                str(form.get(f"vat_rate-{line_id}", "")).strip(),
                delete=bool(form.get(f"delete-{line_id}")),
            )
        skus, warehouses, quantities = getlist("add_sku"), getlist("add_warehouse_id"), getlist("add_quantity")
        for n in range(max(len(skus), len(warehouses), len(quantities))):
            row = AddDraft(
                str(skus[n]).strip() if n < len(skus) else "",
                str(warehouses[n]).strip() if n < len(warehouses) else "",
                str(quantities[n]).strip() if n < len(quantities) else "",
            )
            if not row.empty:
                draft.add.append(row)
        draft.shipment_date = str(form.get("shipment_date", draft.shipment_date)).strip()
        draft.comment = str(form.get("comment", "")).strip()
        return draft

    def add_rows(self) -> list[AddDraft]:
        """The rows the form shows for new lines: the typed ones and a few blank ones."""
        return [*self.add, *(AddDraft() for _ in range(BLANK_ADD_ROWS))]


@dataclass
class Cell:
    """One value of a line in the review: the order's, the draft's, whether it changed, an error."""

    old: Decimal | None
    new: Decimal | None
    changed: bool = False
    error: str = ""


@dataclass
class ReviewLine:
    key: str  # the line id, or "add-N" for a new line
    marker: str  # "unchanged", "changed", "removed", "new"
    sku: str
    name: str
    unit: str
    warehouse_name: str
    additional: bool
    cells: dict[str, Cell]
    amount: Decimal
    vat: Decimal
    total: Decimal
    error: str = ""


@dataclass
class Totals:
    amount: Decimal
    vat: Decimal
    total: Decimal


@dataclass
class Review:
    lines: list[ReviewLine]
    before: Totals
    after: Totals
    shipment_old: str
    shipment_new: str
    errors: dict[str, str]

    @property
    def has_changes(self) -> bool:
        return self.profile_changed or any(x.marker != "unchanged" for x in self.lines)

    @property
    def profile_changed(self) -> bool:
        return self.shipment_old != self.shipment_new

    @property
    def valid(self) -> bool:
        return not self.errors


def _totals(lines: list[money.LineMoney]) -> Totals:
    doc = money.document(lines)
    return Totals(doc.amount, doc.vat, doc.total)


def review(order: Mapping[str, Any], draft: Draft, items: Mapping[str, Mapping[str, Any]] | None = None) -> Review:
    """The draft laid over ``order``: a marker per line, the old value of what changed, the totals before and
    after. ``items`` (SKU → price list item) prices the new lines; ``None`` when the price list could not be
    read (the service then judges the SKUs). Errors are keyed by form field name."""
    vat_included = order.get("vat_mode", "included") != "on_top"
    known = items is not None
    items = items or {}
    errors: dict[str, str] = {}
    rows: list[ReviewLine] = []
    before: list[money.LineMoney] = []
    after: list[money.LineMoney] = []
    for line in order.get("lines") or []:
        line_id = str(line["line_id"])
        old = {f: parse_decimal(str(line.get(f, ""))) or Decimal(0) for f in FIELDS}
        before.append(money.line(old["quantity"], old["price"], old["vat_rate"], vat_included=vat_included))
        typed = draft.lines.get(line_id)
        cells: dict[str, Cell] = {}
        for f in FIELDS:
            raw = getattr(typed, f) if typed is not None else plain(line.get(f))
            new = parse_decimal(raw)
            error = ""
            if new is None:
                error = _("Enter a number.")
            elif new < 0:
                error = _("Cannot be negative.")
            elif f == "vat_rate" and new > 100:
                error = _("At most 100.")
            if error:
                errors[f"{f}-{line_id}"] = error
                new = old[f]
            cells[f] = Cell(old[f], new, changed=new != old[f], error=error)
        deleted = bool(typed and typed.delete)
        marker = "removed" if deleted else ("changed" if any(c.changed for c in cells.values()) else "unchanged")
        values = {f: cells[f].new or Decimal(0) for f in FIELDS}
        line_money = money.line(values["quantity"], values["price"], values["vat_rate"], vat_included=vat_included)
        if not deleted:
            after.append(line_money)
        rows.append(
            ReviewLine(
                key=line_id,
                marker=marker,
                sku=str(line.get("sku", "")),
                name=str(line.get("name") or ""),
                unit=str(line.get("unit") or ""),
                warehouse_name=str(line.get("warehouse_name") or ""),
                additional=bool(line.get("additional")),
                cells=cells,
                amount=line_money.amount,
                vat=line_money.vat,
                total=line_money.total,
            )
        )
    for n, add in enumerate(draft.add):
        key = f"add-{n}"
        item = items.get(add.sku)
        quantity = parse_decimal(add.quantity)
        error = ""
        if not add.sku:
            errors[f"add_sku-{n}"] = error = _("Enter the SKU.")
        elif known and item is None:
            errors[f"add_sku-{n}"] = error = _("There is no such SKU in the order's price list.")
        if not add.warehouse_id:
            errors[f"add_warehouse_id-{n}"] = _("Choose a warehouse.")
        if quantity is None or quantity <= 0:
            errors[f"add_quantity-{n}"] = _("Enter a quantity above zero.")
            quantity = Decimal(0)
        price = parse_decimal(str((item or {}).get("price", ""))) or Decimal(0)
        rate = parse_decimal(str((item or {}).get("vat_rate", ""))) or Decimal(0)
        line_money = money.line(quantity, price, rate, vat_included=vat_included)
        after.append(line_money)
        rows.append(
            ReviewLine(
                key=key,
                marker="new",
                sku=add.sku,
                name=str((item or {}).get("name") or ""),
                unit=str((item or {}).get("unit") or ""),
                warehouse_name="",
                additional=True,
                cells={
                    "quantity": Cell(None, quantity, changed=True),
                    "price": Cell(None, price, changed=True),
                    "vat_rate": Cell(None, rate, changed=True),
                },
                amount=line_money.amount,
                vat=line_money.vat,
                total=line_money.total,
                error=error,
            )
        )
    if rows and all(x.marker == "removed" for x in rows):
        errors["_"] = _("An order needs at least one line; cancel or reject it instead.")
    return Review(
        lines=rows,
        before=_totals(before),
        after=_totals(after),
        shipment_old=str(order.get("shipment_date") or ""),
        shipment_new=draft.shipment_date,
        errors=errors,
    )


def lines_request(result: Review, draft: Draft) -> dict[str, Any] | None:
    """``POST /orders/{id}/lines`` for what the draft changes in the lines; ``None`` when nothing."""
    edit: list[dict[str, Any]] = []
    for row in result.lines:
        if row.marker == "removed":
            edit.append({"line_id": row.key, "delete": True})
        elif row.marker == "changed":
            change: dict[str, Any] = {"line_id": row.key}
            for f, cell in row.cells.items():
                if cell.changed and cell.new is not None:
                    change[f] = str(cell.new)
            edit.append(change)
    add = [
        {"sku": a.sku, "warehouse_id": a.warehouse_id, "quantity": str(parse_decimal(a.quantity) or a.quantity)}
        for a in draft.add
    ]
    if not edit and not add:
        return None
    body: dict[str, Any] = {"edit": edit, "add": add}
    if draft.comment:
        body["comment"] = draft.comment
    return body


def profile_request(result: Review) -> dict[str, Any] | None:
    """``PATCH /orders/{id}/profile`` for the shipment date (empty clears it); ``None`` when unchanged."""
    if not result.profile_changed:
        return None
    return {"shipment_date": result.shipment_new or None}


def service_errors(details: Any, draft: Draft) -> dict[str, str]:
    """The orders service's per-change refusals (``{"edit": n, "line_id", "reasons"}`` /
    ``{"add": n, "reasons"}``) as messages next to the form's fields."""
    found: dict[str, str] = {}
    if not isinstance(details, list):
        return found
    for item in details:
        if not isinstance(item, dict):
            continue
        reasons = item.get("reasons") or ([item["reason"]] if item.get("reason") else [])
        text = "; ".join(str(r) for r in reasons) or _("Not accepted.")
        if "add" in item and isinstance(item["add"], int):
            found[f"add_quantity-{item['add']}"] = text
        elif item.get("line_id"):
            found[f"quantity-{item['line_id']}"] = text
        else:
            found["_"] = text
    return found
