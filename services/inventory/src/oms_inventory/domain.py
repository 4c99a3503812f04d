"""Pure inventory rules: quantities, stock row validation, reservation and FIFO backorder allocation."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from oms_shared.errors import RowError
from oms_shared.quantity import QuantityError as ScaleError
from oms_shared.quantity import check_quantity

# Quantities are stored as integers in thousandths of a unit: exact arithmetic in the guarded
# SQL update on SQLite (no native decimal) and PostgreSQL alike.
SCALE = 1000
DECIMALS = Decimal("0.001")
MAX_UNITS = 10**15

HoldKind = Literal["manual", "integration"]
LedgerKind = Literal["order", "manual", "integration"]


class QuantityError(ValueError):
    """A value that is not an acceptable quantity; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_quantity(raw: object, *, allow_negative: bool = False, unit: str | None = None) -> Decimal:
    """A Decimal quantity from JSON/CSV input (string, int, Decimal; floats via their text).

    On the shared scale (``oms_shared.quantity``): at most 3 decimal places, and whole for a product whose
    ``unit`` is counted in pieces; anything else is refused, never rounded.
    """
    if raw is None or isinstance(raw, bool):
        raise QuantityError("missing_quantity" if raw is None else "not_a_number", "a quantity is required")
    text = str(raw).strip().replace(",", ".") if not isinstance(raw, Decimal) else raw
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise QuantityError("not_a_number", f"{raw!r} is not a number") from None
    if not value.is_finite():
        raise QuantityError("not_a_number", f"{raw!r} is not a number")
    if value < 0 and not allow_negative:
        raise QuantityError("negative_quantity", f"{raw} is negative")
    if abs(value) * SCALE >= MAX_UNITS:
        raise QuantityError("too_large", f"{raw} is too large")
    try:
        return check_quantity(value, unit)
    except ScaleError as exc:
        raise QuantityError(exc.code, exc.message) from None


def to_units(value: Decimal) -> int:
    """Decimal quantity → integer thousandths; a quantity finer than a thousandth is refused, never rounded."""
    units = value * SCALE
    if units != units.to_integral_value():
        raise QuantityError("too_precise", f"{value} has more than 3 decimal places")
    return int(units)


def from_units(units: int) -> Decimal:
    """Integer thousandths → Decimal quantity with three decimals."""
    return (Decimal(units) / SCALE).quantize(DECIMALS)


def fmt(units: int) -> str:
    """A quantity for JSON: a decimal string without needless trailing zeros ("5", "2.5")."""
    # Integer arithmetic: this runs for every cell of a 10,000-line availability answer.
    whole, frac = divmod(abs(units), SCALE)
    sign = "-" if units < 0 else ""
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:03d}".rstrip("0")


@dataclass(frozen=True)
class StockRow:
    row: int
    warehouse_id: str
    sku: str
    on_hand: int


@dataclass(frozen=True)
class WarehouseIndex:
    """What the tenant has, for validating rows: its warehouse ids and codes, other tenants' ids, its SKUs."""

    own_ids: frozenset[str]
    codes: Mapping[str, str]
    foreign_ids: frozenset[str]
    skus: frozenset[str]
    units: Mapping[str, str] = field(default_factory=dict)  # SKU → the product's unit (whole pieces or not)


def _norm_id(raw: object) -> str | None:
    try:
        return str(uuid.UUID(str(raw)))
    except (ValueError, TypeError, AttributeError):
        return None


def resolve_warehouse(row: Mapping[str, Any], index: WarehouseIndex, n: int) -> tuple[str | None, RowError | None]:
    """The row's warehouse id from ``warehouse_id`` or ``warehouse_code``, or why it is unusable."""
    raw_id = row.get("warehouse_id")
    code = str(row.get("warehouse_code") or row.get("warehouse") or "").strip()
    if raw_id not in (None, ""):
        wid = _norm_id(raw_id)
        if wid is None:
            return None, RowError(n, "warehouse_id", "invalid_id", f"{raw_id!r} is not a warehouse id")
        if wid in index.own_ids:
            return wid, None
        # Another account's warehouse is answered as an unknown one.
        return None, RowError(n, "warehouse_id", "unknown_warehouse", f"no warehouse {wid}")
    if code:
        if code in index.codes:
            return index.codes[code], None
        return None, RowError(n, "warehouse_code", "unknown_warehouse", f"no warehouse with code {code!r}")
    return None, RowError(n, "warehouse_id", "missing_warehouse", "warehouse_id or warehouse_code is required")


def validate_stock_rows(
    rows: Sequence[Mapping[str, Any]], index: WarehouseIndex, *, first_row: int = 0
) -> tuple[list[StockRow], list[RowError]]:
    """Check every row; the caller applies nothing unless the error list is empty."""
    good: list[StockRow] = []
    errors: list[RowError] = []
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(rows):
        n = i + first_row
        if not isinstance(row, Mapping):
            errors.append(RowError(n, "row", "not_an_object", "each item must be an object"))
            continue
        wid, err = resolve_warehouse(row, index, n)
        if err:
            errors.append(err)
        sku = str(row.get("sku") or "").strip()
        if not sku:
            errors.append(RowError(n, "sku", "missing_sku", "sku is required"))
        elif sku not in index.skus:
            errors.append(RowError(n, "sku", "unknown_sku", f"no product with SKU {sku!r}"))
        try:
            on_hand = to_units(parse_quantity(row.get("on_hand"), unit=index.units.get(sku)))
        except QuantityError as exc:
            errors.append(RowError(n, "on_hand", exc.code, exc.message))
            continue
        if wid and sku and sku in index.skus:
            if (wid, sku) in seen:
                errors.append(RowError(n, "sku", "duplicate_row", f"{sku} appears twice for one warehouse"))
                continue
            seen.add((wid, sku))
            good.append(StockRow(n, wid, sku, on_hand))
    return good, errors


def read_csv_rows(text: str) -> list[dict[str, str]]:
    """Rows of a CSV upload keyed by lower-case header; ``;`` or ``,`` separated (Excel writes either)."""
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    return [
        {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]


def reservable(requested: int, available: int) -> int:
    """How much of ``requested`` can be reserved from ``available`` (never negative)."""
    return max(0, min(requested, available))


@dataclass(frozen=True)
class Waiting:
    """A confirmed order line still short of stock (a backorder), in first-come order."""

    line_id: str
    order_id: str
    shortage: int


def allocate_fifo(waiting: Iterable[Waiting], available: int) -> list[tuple[Waiting, int]]:
    """Hand ``available`` to waiting lines first-come-first-served; a line may be filled partly."""
    out: list[tuple[Waiting, int]] = []
    left = available
    for line in waiting:
        if left <= 0:
            break
        take = reservable(line.shortage, left)
        if take > 0:
            out.append((line, take))
            left -= take
    return out


@dataclass
class LineTarget:
    """The quantity an order line should hold after an order event."""

    line_id: str
    sku: str
    warehouse_id: str | None
    requested: int


@dataclass
class OrderPlan:
    """Lines to (re)reserve and lines whose reserves go away."""

    targets: list[LineTarget] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def plan_order_lines(
    lines: Iterable[LineTarget], held_line_ids: Iterable[str], *, kept_line_ids: Iterable[str] = ()
) -> OrderPlan:
    """Compare an order's lines with what it holds: lines absent now are dropped unless kept (moved)."""
    targets = sorted(lines, key=lambda t: (t.warehouse_id or "", t.sku, t.line_id))
    present = {t.line_id for t in targets}
    kept = set(kept_line_ids)
    dropped = sorted(lid for lid in held_line_ids if lid not in present and lid not in kept)
    return OrderPlan(targets=targets, dropped=dropped)


def summarize_lines(lines: Iterable[tuple[int, int]]) -> bool:
    """True when every (requested, reserved) pair is fully reserved."""
    return all(reserved >= requested for requested, reserved in lines)


def parse_date(raw: object) -> date | None:
    """An optional ISO date from input; raises ValueError on a bad one."""
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw))
