"""Small pure helpers the orders channel shares: decimals as the exchange writes them, closed statuses."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from oms_shared.contracts import OrderStatus

CLOSED = {OrderStatus.REJECTED.value, OrderStatus.CANCELLED.value}


def dec(value: Decimal) -> str:
    """A Decimal as a plain string without exponent or trailing zeros ("10", "2.5")."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def as_decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    """A snapshot value as a Decimal; missing or unreadable → ``default``."""
    if value is None or value == "" or value == "None":
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return default
