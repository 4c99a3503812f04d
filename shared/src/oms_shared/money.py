"""Money as Russian documents (and 1C) compute it: kopecks rounded half-up, VAT per line.

One set of rules for every service that computes money, so the order a buyer sees, the figures analytics
reports and the document 1C receives carry the same kopecks:

* a line's amount is ``quantity × price`` rounded half-up to kopecks (0.5 × 0.25 = 0.125 → 0.13);
* a line's VAT is computed from that amount and rounded half-up, as 1C does per line: ``amount × rate /
  (100 + rate)`` when the price includes VAT ("в т.ч. НДС"), ``amount × rate / 100`` when VAT is added on top;
* a document's VAT is the sum of its lines' VAT, and its total the sum of its lines' amounts (plus their VAT
  when VAT is added on top) — never rounded again, so the lines always add up to the document.

OMS prices include VAT unless a price list says otherwise (``vat_included=True`` is the default everywhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

KOPECK = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal(100)


def kopecks(value: Decimal | int | str) -> Decimal:
    """``value`` rounded half-up to kopecks (two decimal places)."""
    return Decimal(value).quantize(KOPECK, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """The amount of a line: quantity × price per unit, rounded half-up to kopecks."""
    return kopecks(Decimal(quantity) * Decimal(price))


def line_vat(amount: Decimal, rate: Decimal | None, *, vat_included: bool = True) -> Decimal:
    """VAT of a line of ``amount`` at ``rate`` percent, rounded half-up to kopecks (0 without a rate).

    ``vat_included``: the amount already contains the VAT ("в т.ч."); otherwise the VAT comes on top of it.
    """
    if not rate:
        return ZERO
    rate = Decimal(rate)
    base = HUNDRED + rate if vat_included else HUNDRED
    return kopecks(Decimal(amount) * rate / base)


@dataclass(frozen=True)
class LineMoney:
    """A line's money: its amount (as priced), its VAT, and what it adds to the document's total."""

    amount: Decimal
    vat: Decimal
    vat_included: bool = True

    @property
    def total(self) -> Decimal:
        """What the line adds to the document: its amount, plus its VAT when VAT comes on top."""
        return self.amount if self.vat_included else self.amount + self.vat


def line(quantity: Decimal, price: Decimal, vat_rate: Decimal | None = None, *, vat_included: bool = True) -> LineMoney:
    """Amount and VAT of one line, computed the way 1C computes them."""
    amount = line_amount(quantity, price)
    return LineMoney(
        amount=amount, vat=line_vat(amount, vat_rate, vat_included=vat_included), vat_included=vat_included
    )


@dataclass(frozen=True)
class DocumentMoney:
    """A document's money, always the sum of its lines: the amounts, the VAT and the total to pay."""

    amount: Decimal
    vat: Decimal
    total: Decimal


def document(lines: Iterable[LineMoney]) -> DocumentMoney:
    """The sums of a document's lines (no rounding of its own: the lines are in kopecks already)."""
    amount = vat = total = ZERO
    for item in lines:
        amount += item.amount
        vat += item.vat
        total += item.total
    return DocumentMoney(amount=amount, vat=vat, total=total)


def order_total(lines: Iterable[tuple[Decimal, Decimal]]) -> Decimal:
    """The total of an order from (quantity, price) pairs, prices VAT included: the sum of its line amounts."""
    return sum((line_amount(quantity, price) for quantity, price in lines), ZERO)
