"""Pure order rules: the status matrix, line validation, numbering, totals, parts and time limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from oms_shared import money
from oms_shared import quantity as quantity_scale


class Status(StrEnum):
    """Order statuses (Новый, Редактируется, Ожидает согласования, Согласован, Подтвержден, ...)."""

    NEW = "new"
    EDITING = "editing"
    AWAITING_APPROVAL = "awaiting_approval"
    AGREED = "agreed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Side(StrEnum):
    SUPPLIER = "supplier"
    BUYER = "buyer"
    SYSTEM = "system"
    ERP = "erp"


STATUS_LABELS: dict[Status, str] = {
    Status.NEW: "New",
    Status.EDITING: "Editing",
    Status.AWAITING_APPROVAL: "Awaiting approval",
    Status.AGREED: "Agreed",
    Status.CONFIRMED: "Confirmed",
    Status.SHIPPED: "Shipped",
    Status.REJECTED: "Rejected",
    Status.CANCELLED: "Cancelled",
}

S, B = Side.SUPPLIER, Side.BUYER

# R-ST-1: (from, to) -> the sides that may make the move. The supplier confirms, rejects, edits,
# sends for approval and ships; the buyer agrees or cancels. Shipped, rejected and cancelled are final.
TRANSITIONS: dict[tuple[Status, Status], frozenset[Side]] = {
    (Status.NEW, Status.CONFIRMED): frozenset({S}),
    (Status.NEW, Status.REJECTED): frozenset({S}),
    (Status.NEW, Status.EDITING): frozenset({S}),
    (Status.NEW, Status.CANCELLED): frozenset({B}),
    (Status.EDITING, Status.AWAITING_APPROVAL): frozenset({S}),
    (Status.EDITING, Status.REJECTED): frozenset({S}),
    (Status.EDITING, Status.CANCELLED): frozenset({B}),
    (Status.AWAITING_APPROVAL, Status.AGREED): frozenset({B}),
    (Status.AWAITING_APPROVAL, Status.CANCELLED): frozenset({B}),
    (Status.AWAITING_APPROVAL, Status.EDITING): frozenset({S}),
    (Status.AWAITING_APPROVAL, Status.REJECTED): frozenset({S}),
    (Status.AGREED, Status.CONFIRMED): frozenset({S}),
    (Status.AGREED, Status.EDITING): frozenset({S}),
    (Status.AGREED, Status.REJECTED): frozenset({S}),
    (Status.AGREED, Status.CANCELLED): frozenset({B}),
    (Status.CONFIRMED, Status.SHIPPED): frozenset({S}),
    (Status.CONFIRMED, Status.EDITING): frozenset({S}),
    (Status.CONFIRMED, Status.REJECTED): frozenset({S}),
    (Status.CONFIRMED, Status.CANCELLED): frozenset({B}),
}

FINAL_STATUSES = frozenset({Status.SHIPPED, Status.REJECTED, Status.CANCELLED})
DELETABLE_STATUSES = FINAL_STATUSES  # R-LS-2
EDITABLE_STATUSES = frozenset({Status.NEW, Status.EDITING, Status.AWAITING_APPROVAL, Status.AGREED, Status.CONFIRMED})


class DomainError(Exception):
    """A rule of the domain refused the change; ``code`` is machine-readable."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class IllegalTransition(DomainError):
    code = "illegal_transition"


class NotEditable(DomainError):
    code = "not_editable"


class InvalidLines(DomainError):
    code = "invalid_lines"


def effective_side(side: Side) -> Side:
    """The ERP and the system act with the supplier's rights (the ERP wins)."""
    return Side.SUPPLIER if side in (Side.ERP, Side.SYSTEM) else side


def allowed_sides(current: Status, target: Status) -> frozenset[Side]:
    return TRANSITIONS.get((current, target), frozenset())


def check_transition(current: Status, target: Status, side: Side) -> None:
    """Raise ``IllegalTransition`` with a message a person can read unless the move is legal for ``side``."""
    sides = allowed_sides(current, target)
    who = effective_side(side)
    if who in sides:
        return
    if current == target:
        raise IllegalTransition(f"the order is already {STATUS_LABELS[current]}")
    if not sides:
        if current in FINAL_STATUSES:
            raise IllegalTransition(
                f"the order is {STATUS_LABELS[current]}: that is final, its status cannot change any more"
            )
        raise IllegalTransition(
            f"an order cannot go from {STATUS_LABELS[current]} to {STATUS_LABELS[target]}",
            details={"allowed": [t.value for (f, t), s in TRANSITIONS.items() if f == current and who in s]},
        )
    only = " or ".join(sorted(s.value for s in sides))
    raise IllegalTransition(
        f"only the {only} may move an order from {STATUS_LABELS[current]} to {STATUS_LABELS[target]}",
        details={"allowed": [t.value for (f, t), s in TRANSITIONS.items() if f == current and who in s]},
    )


def next_statuses(current: Status, side: Side) -> list[Status]:
    who = effective_side(side)
    return [t for (f, t), sides in TRANSITIONS.items() if f == current and who in sides]


# Moves whose reason the other side needs to hear; the matrix requires none today, the answers say so per move.
REASON_REQUIRED: frozenset[tuple[Status, Status]] = frozenset()


def allowed_transitions(current: Status, side: Side, *, may_change: bool = True) -> list[dict[str, Any]]:
    """R-ST-1/R-UI-4: the moves the matrix allows ``side`` from ``current``, each with its label and whether a
    comment (reason) is required; nothing when the caller may not change orders at all."""
    if not may_change:
        return []
    return [
        {"to": t.value, "label": STATUS_LABELS[t], "comment_required": (current, t) in REASON_REQUIRED}
        for t in next_statuses(current, side)
    ]


def allowed_actions(current: Status, side: Side, *, may_change: bool, may_comment: bool) -> dict[str, bool]:
    """R-UI-4: what a caller may do to an order now besides moving it, as the use cases check it (the buyer's side
    needs no access level; the supplier's needs change access, and a comment also change access to buyers)."""
    supplier = effective_side(side) == Side.SUPPLIER
    writer = may_change or not supplier
    return {
        "edit_lines": supplier and may_change and current in EDITABLE_STATUSES,
        "move_lines": supplier and may_change and current in EDITABLE_STATUSES,
        "edit_profile": supplier and may_change and current not in (Status.REJECTED, Status.CANCELLED),
        "comment": may_comment or not supplier,
        "attach_document": writer,
        "delete": writer and current in DELETABLE_STATUSES,
    }


def check_editable(status: Status) -> None:
    if status not in EDITABLE_STATUSES:
        raise NotEditable(f"a {STATUS_LABELS[status]} order cannot be changed")


def check_deletable(status: Status) -> None:
    if status not in DELETABLE_STATUSES:
        raise DomainError(
            f"only cancelled, shipped or rejected orders can be deleted; this one is {STATUS_LABELS[status]}",
            code="not_deletable",
        )


# ---------------------------------------------------------------- numbers and quantities

MAX_QUANTITY = Decimal("1000000000")


def parse_quantity(raw: object, *, allow_zero: bool = False, unit: str | None = None) -> Decimal:
    """A positive decimal quantity from JSON or a spreadsheet cell, or ``ValueError`` with a reason.

    On the shared scale (``oms_shared.quantity``): at most 3 decimal places, whole for a unit counted in pieces
    (``unit``, the price-list line's); refused, never rounded, so inventory reserves exactly what was ordered.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError("quantity must be a number")
    try:
        value = Decimal(str(raw).strip().replace(",", ".")) if isinstance(raw, str) else Decimal(str(raw))
    except InvalidOperation as exc:
        raise ValueError(f"quantity {raw!r} is not a number") from exc
    if not value.is_finite():
        raise ValueError("quantity must be a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError("quantity must be greater than zero" if not allow_zero else "quantity must not be negative")
    if value > MAX_QUANTITY:
        raise ValueError("quantity is too large")
    try:
        return quantity_scale.plain(quantity_scale.check_quantity(value, unit))
    except quantity_scale.QuantityError as exc:
        raise ValueError(exc.message) from None


def parse_money(raw: object, name: str = "price") -> Decimal:
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"{name} must be a number")
    try:
        value = Decimal(str(raw).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError(f"{name} {raw!r} is not a number") from exc
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must not be negative")
    if value > MAX_QUANTITY * 1000:
        raise ValueError(f"{name} is too large")
    return value.quantize(Decimal("0.0001"))


def format_number(counter: int, part: int | None = None) -> str:
    """R-IN-4: a readable number per supplier; parts add ``-n`` (1024-1, 1024-2)."""
    return f"{counter}" if part is None else f"{counter}-{part}"


FIRST_ORDER_NUMBER = 1001

_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_file_name(name: str) -> str:
    """Refuse names with a path in them; keep a displayable name."""
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise DomainError("the file name must not contain a path", code="bad_file_name")
    cleaned = _SAFE_NAME.sub("_", name).strip(" .")
    if not cleaned:
        raise DomainError("the file name is empty", code="bad_file_name")
    return cleaned[:200]


# ---------------------------------------------------------------- lines


@dataclass(frozen=True)
class PriceItem:
    sku: str
    name: str
    unit: str
    price: Decimal
    vat_rate: Decimal


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    warehouse_id: str
    quantity: object


@dataclass(frozen=True)
class ValidLine:
    sku: str
    name: str
    unit: str
    warehouse_id: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal


def validate_lines(
    lines: list[RequestedLine],
    items: dict[str, PriceItem],
    warehouse_ids: set[str],
    *,
    known_warehouses: set[str] | None = None,
) -> list[ValidLine]:
    """Check every requested line against the price list; raise ``InvalidLines`` listing each bad one.

    ``known_warehouses`` (when given) is strict: a warehouse must also be known by that set.
    """
    errors: list[dict[str, object]] = []
    valid: list[ValidLine] = []
    seen: set[tuple[str, str]] = set()
    if not lines:
        raise InvalidLines("an order needs at least one line", details=[{"line": None, "reason": "no lines"}])
    for index, line in enumerate(lines):
        reasons: list[str] = []
        item = items.get(line.sku)
        if item is None:
            reasons.append(f"SKU {line.sku!r} is not in this price list")
        if known_warehouses is not None and line.warehouse_id not in known_warehouses:
            reasons.append(f"warehouse {line.warehouse_id!r} is unknown")
        elif line.warehouse_id not in warehouse_ids:
            reasons.append(f"warehouse {line.warehouse_id!r} is not linked to this price list")
        quantity = Decimal(0)
        try:
            quantity = parse_quantity(line.quantity, unit=item.unit if item is not None else None)
        except ValueError as exc:
            reasons.append(str(exc))
        key = (line.sku, line.warehouse_id)
        if key in seen:
            reasons.append(f"SKU {line.sku!r} is listed twice for the same warehouse")
        seen.add(key)
        if reasons:
            errors.append({"line": index, "sku": line.sku, "reasons": reasons})
            continue
        assert item is not None
        valid.append(
            ValidLine(
                sku=item.sku,
                name=item.name,
                unit=item.unit,
                warehouse_id=line.warehouse_id,
                quantity=quantity,
                price=item.price,
                vat_rate=item.vat_rate,
            )
        )
    if errors:
        raise InvalidLines(f"{len(errors)} of {len(lines)} lines are not valid", details=errors)
    return valid


def line_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """Quantity × price rounded half-up to kopecks, as the documents 1C receives (``oms_shared.money``)."""
    return money.line_amount(quantity, price)


def line_vat(amount: Decimal, vat_rate: Decimal, *, vat_included: bool = True) -> Decimal:
    """The VAT of a line's amount (inside it, or on top of it), per line and half-up to kopecks, as 1C does."""
    return money.line_vat(amount, vat_rate, vat_included=vat_included)


def order_total(
    lines: list[tuple[Decimal, Decimal]], vat_rates: list[Decimal] | None = None, *, vat_included: bool = True
) -> Decimal:
    """What the buyer pays: the sum of the lines' amounts (each half-up to kopecks), plus their VAT when the
    price list adds VAT on top (``vat_rates`` then gives each line's rate)."""
    if vat_included:
        return money.order_total(lines)
    rates = vat_rates or [Decimal(0)] * len(lines)
    return money.document(
        money.line(quantity, price, rate, vat_included=False)
        for (quantity, price), rate in zip(lines, rates, strict=True)
    ).total


def reserve_status(lines: list[tuple[Decimal, Decimal]]) -> str:
    """From (quantity, reserved) pairs: none, partial or full."""
    wanted = [(q, r) for q, r in lines if q > 0]
    if not wanted or all(r <= 0 for _, r in wanted):
        return "none"
    if all(r >= q for q, r in wanted):
        return "full"
    return "partial"


# ---------------------------------------------------------------- parts (R-SPL-1)


@dataclass(frozen=True)
class ReservedLine:
    line_id: str
    warehouse_id: str | None
    quantity: Decimal
    reserved: Decimal


@dataclass(frozen=True)
class PartPlan:
    """Which line ids go into which part; the first group stays in the original order.

    ``cuts`` maps a partly reserved line to (quantity kept in its in-stock part, quantity that
    goes as a new line to the coming-soon part).
    """

    groups: list[list[str]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    cuts: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)

    @property
    def splits(self) -> bool:
        return len(self.groups) > 1


def plan_parts(lines: list[ReservedLine], one_shipment: bool) -> PartPlan:
    """Reserved quantities go to a part per warehouse; what is short goes to a 'coming soon' part.

    A line reserved only in part is cut in two: what is reserved ships now with the in-stock
    part, the shortage waits in the coming-soon part (the guide: "товары в наличии" and
    "товары, которые скоро поступят").
    """
    if one_shipment or not lines:
        return PartPlan(groups=[[line.line_id for line in lines]], kinds=["all"])
    in_stock: dict[str, list[str]] = {}
    coming: list[str] = []
    cuts: dict[str, tuple[Decimal, Decimal]] = {}
    for line in lines:
        short = line.quantity > 0 and line.reserved < line.quantity
        if short and line.reserved > 0:
            cuts[line.line_id] = (line.reserved, line.quantity - line.reserved)
            in_stock.setdefault(line.warehouse_id or "", []).append(line.line_id)
            coming.append(line.line_id)
        elif short:
            coming.append(line.line_id)
        else:
            in_stock.setdefault(line.warehouse_id or "", []).append(line.line_id)
    groups = [ids for ids in in_stock.values()]
    kinds = ["in_stock"] * len(groups)
    if coming:
        groups.append(coming)
        kinds.append("coming_soon")
    return PartPlan(groups=groups, kinds=kinds, cuts=cuts)


# ---------------------------------------------------------------- time limits (R-ST-4)

DEFAULT_TIME_LIMITS_HOURS: dict[Status, int] = {
    Status.NEW: 24,
    Status.AWAITING_APPROVAL: 48,
    Status.CONFIRMED: 72,
}


def overdue_since(
    status: Status, entered_at: datetime, limits_hours: dict[Status, int], now: datetime
) -> datetime | None:
    """When the order became overdue in its status, or None while within its limit (or no limit)."""
    hours = limits_hours.get(status)
    if not hours or hours <= 0:
        return None
    deadline = entered_at + timedelta(hours=hours)
    return deadline if now >= deadline else None


def parse_time_limits(raw: dict[str, object]) -> dict[Status, int]:
    """Validate a supplier's time limits {status: hours}; raise DomainError with the bad keys."""
    limits: dict[Status, int] = {}
    bad: list[str] = []
    for key, value in raw.items():
        try:
            status = Status(key)
        except ValueError:
            bad.append(f"{key}: unknown status")
            continue
        if status in FINAL_STATUSES:
            bad.append(f"{key}: a final status has no time limit")
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 24 * 365:
            bad.append(f"{key}: hours must be an integer from 0 to 8760")
            continue
        limits[status] = value
    if bad:
        raise DomainError("time limits are not valid", code="invalid_time_limits", details=bad)
    return limits


# ---------------------------------------------------------------- Excel import (R-IN-3)

IMPORT_COLUMNS = ("sku", "warehouse", "quantity")
_HEADER_ALIASES = {
    "sku": "sku",
    "артикул": "sku",
    # Columns of a price list's template that the import reads past (the product is the SKU's).
    "name": "name",
    "наименование": "name",
    "unit": "unit",
    "ед. изм.": "unit",
    "price": "price",
    "цена": "price",
    "warehouse": "warehouse",
    "склад": "warehouse",
    "quantity": "quantity",
    "количество": "quantity",
}


def _warehouse_of_header(cell: object, warehouse_by_code: dict[str, str]) -> str | None:
    """The warehouse a template column stands for: "Name [CODE]" (or the code or id alone), else None."""
    text = str(cell or "").strip()
    if text.endswith("]") and "[" in text:
        text = text[text.rindex("[") + 1 : -1].strip()
    return warehouse_by_code.get(text.lower()) if text else None


def import_layout(
    header: tuple[object, ...], rows: list[tuple[int, tuple[object, ...]]], warehouse_by_code: dict[str, str]
) -> tuple[dict[str, int], list[tuple[int, tuple[object, ...]]]]:
    """The sheet's columns and rows as one row per line (SKU, warehouse, quantity).

    A price list's template has an SKU column and a quantity column per warehouse: each filled quantity cell
    becomes a line (sheet row number kept). Any other sheet must have the SKU, warehouse and quantity columns."""
    names = [_HEADER_ALIASES.get(str(cell or "").strip().lower()) for cell in header]
    per_warehouse = {
        i: wh
        for i, cell in enumerate(header)
        if names[i] is None and (wh := _warehouse_of_header(cell, warehouse_by_code)) is not None
    }
    if "sku" not in names or "warehouse" in names or not per_warehouse:
        return import_columns(header), rows
    sku_at = names.index("sku")
    lines: list[tuple[int, tuple[object, ...]]] = []
    for number, values in rows:
        sku = values[sku_at] if sku_at < len(values) else None
        for index, warehouse_id in per_warehouse.items():
            quantity = values[index] if index < len(values) else None
            if quantity is None or str(quantity).strip() == "" or str(quantity).strip() in ("0", "0.0"):
                continue
            lines.append((number, (sku, warehouse_id, quantity)))
    return {"sku": 0, "warehouse": 1, "quantity": 2}, lines


def import_columns(header: tuple[object, ...]) -> dict[str, int]:
    """Map the template's columns to their positions, or refuse a sheet with wrong columns."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = _HEADER_ALIASES.get(str(cell or "").strip().lower())
        if name and name not in found:
            found[name] = index
    missing = [c for c in IMPORT_COLUMNS if c not in found]
    if missing:
        raise DomainError(
            f"the sheet must have the columns {', '.join(IMPORT_COLUMNS)}; missing: {', '.join(missing)}",
            code="invalid_import",
            details={"missing_columns": missing, "expected": list(IMPORT_COLUMNS)},
        )
    return found


def validate_import(
    rows: list[tuple[int, tuple[object, ...]]],
    columns: dict[str, int],
    items: dict[str, PriceItem],
    linked_warehouses: set[str],
    warehouse_by_code: dict[str, str],
) -> list[ValidLine]:
    """Every data row (sheet row number, cells) checked; all or nothing, each bad row with its reasons."""

    def cell(values: tuple[object, ...], name: str) -> object:
        index = columns[name]
        return values[index] if index < len(values) else None

    requested: list[RequestedLine] = []
    numbers: list[int] = []
    for number, values in rows:
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        sku = str(cell(values, "sku") or "").strip()
        raw_wh = str(cell(values, "warehouse") or "").strip()
        warehouse = warehouse_by_code.get(raw_wh.lower(), raw_wh)
        quantity = cell(values, "quantity")
        requested.append(RequestedLine(sku, warehouse, quantity if quantity is not None else ""))
        numbers.append(number)
    if not requested:
        raise InvalidLines("the sheet has no rows to import", details=[{"row": None, "reasons": ["no rows"]}])
    known = set(warehouse_by_code.values())
    try:
        return validate_lines(requested, items, linked_warehouses & known, known_warehouses=known)
    except InvalidLines as exc:
        details = [{"row": numbers[int(e["line"])], **{k: v for k, v in e.items() if k != "line"}} for e in exc.details]
        raise InvalidLines(f"{len(details)} rows are not valid; nothing was imported", details=details) from None
