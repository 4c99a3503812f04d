"""The shared money rules: kopecks half-up, VAT per line as 1C computes it, documents that add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oms_analytics.domain import from_minor, lines_total_minor, to_minor
from oms_orders import domain as orders_domain
from oms_shared import money


@pytest.mark.parametrize(
    ("quantity", "price", "amount"),
    [
        ("0.5", "0.25", "0.13"),  # 0.125: half-up, as the document 1C receives (half-even said 0.12)
        ("3", "0.335", "1.01"),  # 1.005
        ("1", "0.005", "0.01"),
        ("1", "0.0049", "0.00"),
        ("0.001", "4.99", "0.00"),  # 0.00499
        ("0.001", "5", "0.01"),  # 0.005
        ("2.5", "0.33", "0.83"),  # 0.825
        ("7", "1.115", "7.81"),  # 7.805
        ("1000000", "0.0001", "100.00"),
        ("0", "10", "0.00"),
    ],
)
def test_a_line_amount_rounds_half_up_to_kopecks(quantity: str, price: str, amount: str) -> None:
    """R-ERP-1: quantity × price rounded half-up to kopecks, the same in orders, analytics and the 1C document."""
    expected = Decimal(amount)
    assert money.line_amount(Decimal(quantity), Decimal(price)) == expected
    assert orders_domain.line_amount(Decimal(quantity), Decimal(price)) == expected
    assert lines_total_minor([(Decimal(quantity), Decimal(price))]) == int(expected * 100)


@pytest.mark.parametrize(
    ("amount", "rate", "included", "vat"),
    [
        ("120.00", "20", True, "20.00"),  # в т.ч. НДС 20 %
        ("100.00", "20", False, "20.00"),  # НДС сверху
        ("0.13", "20", True, "0.02"),  # 0.021666…
        ("0.03", "20", True, "0.01"),  # 0.005 → 0.01 (half-up)
        ("0.05", "10", False, "0.01"),  # 0.005 → 0.01
        ("1.00", "10", True, "0.09"),  # 0.0909…
        ("99.99", "0", True, "0.00"),
        ("99.99", None, True, "0.00"),
    ],
)
def test_vat_of_a_line_is_computed_from_its_amount_and_rounded_half_up(
    amount: str, rate: str | None, included: bool, vat: str
) -> None:
    """R-ERP-1: VAT per line, "в т.ч." (amount × rate / (100 + rate)) or on top (amount × rate / 100), as 1C does."""
    got = money.line_vat(Decimal(amount), Decimal(rate) if rate is not None else None, vat_included=included)
    assert got == Decimal(vat)


def test_a_document_is_the_sum_of_its_lines_with_vat_included_or_on_top() -> None:
    """The document's amount, VAT and total are sums of its lines, never rounded again."""
    included = [
        money.line(Decimal("0.5"), Decimal("0.25"), Decimal(20)),
        money.line(Decimal(3), Decimal("0.335"), Decimal(20)),
    ]
    doc = money.document(included)
    assert (doc.amount, doc.vat, doc.total) == (Decimal("1.14"), Decimal("0.19"), Decimal("1.14"))
    on_top = [money.line(Decimal(2), Decimal("10.005"), Decimal(20), vat_included=False)]
    doc = money.document(on_top)
    assert (doc.amount, doc.vat, doc.total) == (Decimal("20.01"), Decimal("4.00"), Decimal("24.01"))
    assert money.document([]) == money.DocumentMoney(Decimal(0), Decimal(0), Decimal(0))


def test_analytics_stores_kopecks_rounded_half_up() -> None:
    assert to_minor(Decimal("0.125")) == 13 and to_minor(Decimal("0.135")) == 14
    assert from_minor(13) == Decimal("0.13")


quantities = st.decimals(min_value=0, max_value=100_000, places=3, allow_nan=False, allow_infinity=False)
prices = st.decimals(min_value=0, max_value=1_000_000, places=4, allow_nan=False, allow_infinity=False)
rates = st.sampled_from([None, Decimal(0), Decimal(10), Decimal(20), Decimal("18"), Decimal("9.0909")])
lines = st.lists(st.tuples(quantities, prices, rates), max_size=30)


@settings(max_examples=300, deadline=None)
@given(lines=lines, included=st.booleans())
def test_the_lines_always_add_up_to_the_order(
    lines: list[tuple[Decimal, Decimal, Decimal | None]], included: bool
) -> None:
    """R-ERP-1: whatever the rounding, the lines add up to the order: amount, VAT and total, in kopecks."""
    figures = [money.line(q, p, r, vat_included=included) for q, p, r in lines]
    doc = money.document(figures)
    for item in figures:
        assert item.amount == item.amount.quantize(money.KOPECK) and item.vat == item.vat.quantize(money.KOPECK)
        assert 0 <= item.vat <= item.amount or not included
    assert doc.amount == sum((x.amount for x in figures), Decimal(0))
    assert doc.vat == sum((x.vat for x in figures), Decimal(0))
    assert doc.total == doc.amount + (Decimal(0) if included else doc.vat)
    pairs = [(q, p) for q, p, _ in lines]
    assert money.order_total(pairs) == doc.amount == orders_domain.order_total(pairs)
    assert from_minor(lines_total_minor(pairs)) == doc.amount
    for (q, p, _), item in zip(lines, figures, strict=True):  # each line is its exact amount, off by ½ kopeck at most
        assert abs(item.amount - q * p) <= Decimal("0.005")


# Every rounding case: prices and quantities whose exact product lands on, just under and just over half a kopeck
# (…5, …49, …51 in the third and fourth places), besides the general ones above.
half_kopeck_prices = st.builds(
    lambda rubles, tail: Decimal(rubles) + Decimal(tail) / 10_000,
    st.integers(min_value=0, max_value=10_000),
    st.sampled_from([50, 49, 51, 150, 250, 4950, 5050, 9950, 1, 9999]),
)
small_quantities = st.sampled_from([Decimal(q) for q in ("1", "2", "3", "0.5", "0.25", "0.001", "1.5", "7", "11")])
edge_lines = st.lists(
    st.tuples(st.one_of(small_quantities, quantities), st.one_of(half_kopeck_prices, prices), rates),
    min_size=1,
    max_size=20,
)


@settings(max_examples=400, deadline=None)
@given(lines=edge_lines, included=st.booleans())
def test_the_order_total_is_the_sum_of_its_lines_in_every_rounding_case(
    lines: list[tuple[Decimal, Decimal, Decimal | None]], included: bool
) -> None:
    """R-PF-1, R-ERP-1: the total the orders service stores is the document's total, VAT included or on top, in
    every half-kopeck case; each line's VAT is the half-up share of its own amount; with VAT included the lines'
    VAT is part of their amounts, on top it is added once per line and never rounded again."""
    figures = [money.line(q, p, r, vat_included=included) for q, p, r in lines]
    doc = money.document(figures)
    stored = orders_domain.order_total(
        [(q, p) for q, p, _ in lines], [r or Decimal(0) for _, _, r in lines], vat_included=included
    )
    assert stored == doc.total
    assert doc.total == sum((x.amount + (Decimal(0) if included else x.vat) for x in figures), Decimal(0))
    for (q, p, r), item in zip(lines, figures, strict=True):
        assert item.amount == money.kopecks(q * p)
        exact_vat = item.amount * (r or 0) / (100 + (r or 0) if included else 100)
        assert abs(item.vat - exact_vat) <= Decimal("0.005")  # half-up: at most half a kopeck off
        assert item.vat == exact_vat.quantize(money.KOPECK, rounding="ROUND_HALF_UP")
        assert Decimal(0) <= item.vat <= item.amount or not included  # included: the VAT is part of the amount
