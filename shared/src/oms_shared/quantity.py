"""One quantity scale for every service: thousandths of a unit, and whole numbers for units counted in pieces.

Orders takes a quantity, inventory reserves exactly that quantity (it keeps integer thousandths), and the ERP
gets it as is: nothing is rounded on the way. So every edge refuses what the scale cannot hold instead of
rounding it — more than ``PLACES`` decimal places, or a fraction of a unit that is counted whole (a piece, a
pack, a set: ``шт``, ``pcs``, ``упак`` ...). Weights, lengths, areas and volumes (``кг``, ``м``, ``л`` ...) take
the scale. The unit is the one of the price-list line (orders) or of the product (inventory).

``Quantity`` is the pydantic type the event contracts use: a decimal of at most ``PLACES`` places, written
without an exponent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import AfterValidator, Field

PLACES = 3
QUANTUM = Decimal(1).scaleb(-PLACES)  # 0.001

# Units counted whole (compared without case, spaces and a trailing dot). A unit not listed takes the scale.
WHOLE_UNITS = frozenset(
    {
        "шт",
        "штук",
        "штука",
        "штуки",
        "pcs",
        "pc",
        "piece",
        "pieces",
        "ea",
        "each",
        "unit",
        "units",
        "упак",
        "уп",
        "упаковка",
        "pack",
        "компл",
        "комплект",
        "set",
        "пар",
        "пара",
        "pair",
        "рул",
        "рулон",
        "roll",
        "бут",
        "бутылка",
        "bottle",
        "кор",
        "коробка",
        "box",
        "меш",
        "мешок",
        "bag",
    }
)


class QuantityError(ValueError):
    """A quantity the scale cannot hold; ``code`` is machine-readable (``too_precise``, ``whole_units_only``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_whole_unit(unit: str | None) -> bool:
    """True for a unit counted in whole pieces (шт, pcs, упак, компл ...)."""
    return (unit or "").strip().casefold().rstrip(".").strip() in WHOLE_UNITS


def on_scale(value: Decimal) -> bool:
    """Whether ``value`` has at most ``PLACES`` decimal places (trailing zeros do not count)."""
    try:
        return value.is_finite() and value == value.quantize(QUANTUM)
    except InvalidOperation:  # more digits than the decimal context holds
        return False


def check_quantity(value: Decimal, unit: str | None = None) -> Decimal:
    """``value`` when the scale holds it (and it is whole for a whole unit), else ``QuantityError``; never rounds."""
    if not on_scale(value):
        raise QuantityError("too_precise", f"quantity {value} has more than {PLACES} decimal places")
    if is_whole_unit(unit) and value != value.to_integral_value():
        raise QuantityError(
            "whole_units_only",
            f"quantity {value} is not a whole number: {unit.strip() if unit else ''} is counted whole",
        )
    return value


def plain(value: Decimal) -> Decimal:
    """The same value written without an exponent (``1E+3`` → ``1000``), as the contracts carry it."""
    return Decimal(format(value, "f")) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


def _contract(value: Decimal) -> Decimal:
    if not on_scale(value):
        raise ValueError(f"a quantity is a finite decimal of at most {PLACES} places; got {value}")
    return plain(value)


Quantity = Annotated[
    Decimal,
    AfterValidator(_contract),
    Field(json_schema_extra={"x-decimal-places": PLACES}),
]
"""A quantity in an event: at most ``PLACES`` decimal places (refused, never rounded)."""
