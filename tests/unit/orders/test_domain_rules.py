"""Pure order rules: line validation, totals, parts by reserve, time limits, file names, Excel rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from oms_orders import domain
from oms_orders.domain import PriceItem, RequestedLine, ReservedLine, Status

ITEMS = {
    "A-1": PriceItem("A-1", "Bolt", "pcs", Decimal("10.50"), Decimal("20")),
    "B-2": PriceItem("B-2", "Nut", "pcs", Decimal("2"), Decimal("20")),
    "W-1": PriceItem("W-1", "Wire", "m", Decimal("0.50"), Decimal("20")),
    "S-1": PriceItem("S-1", "Sand", "кг", Decimal("3"), Decimal("20")),
}
W1, W2 = "w-1", "w-2"


def test_valid_lines_take_name_price_and_vat_from_the_price_list() -> None:
    """R-IN-1: the price list decides name, unit, price and VAT."""
    lines = domain.validate_lines([RequestedLine("A-1", W1, "2,0")], ITEMS, {W1})
    assert lines[0].quantity == Decimal("2") and lines[0].price == Decimal("10.50") and lines[0].name == "Bolt"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (RequestedLine("X", W1, 1), "not in this price list"),
        (RequestedLine("A-1", W2, 1), "not linked"),
        (RequestedLine("A-1", W1, "-1"), "greater than zero"),
        (RequestedLine("A-1", W1, 0), "greater than zero"),
        (RequestedLine("A-1", W1, "abc"), "not a number"),
        (RequestedLine("A-1", W1, True), "must be a number"),
        (RequestedLine("A-1", W1, "NaN"), "finite"),
        (RequestedLine("W-1", W1, "1.00001"), "decimal places"),
        (RequestedLine("W-1", W1, "0.0004"), "more than 3 decimal places"),
        (RequestedLine("S-1", W1, "2.0015"), "more than 3 decimal places"),
        (RequestedLine("A-1", W1, "1.5"), "pcs is counted whole"),
        (RequestedLine("A-1", W1, "2,5"), "not a whole number"),
    ],
)
def test_each_bad_line_is_refused_with_its_reason(line: RequestedLine, reason: str) -> None:
    """R-IN-1: SKU not in the price list, warehouse not linked, bad quantities: more than 3 decimal places (which
    inventory could not reserve exactly) and fractions of a unit counted in pieces are refused, never rounded."""
    with pytest.raises(domain.InvalidLines) as refused:
        domain.validate_lines([RequestedLine("B-2", W1, 1), line], ITEMS, {W1})
    details = refused.value.details
    assert isinstance(details, list) and [d["line"] for d in details] == [1]
    assert reason in details[0]["reasons"][0]


def test_totals_and_reserve_status() -> None:
    assert domain.order_total([(Decimal(3), Decimal("10.50")), (Decimal(5), Decimal(2))]) == Decimal("41.50")
    assert domain.reserve_status([(Decimal(3), Decimal(0))]) == "none"
    assert domain.reserve_status([(Decimal(3), Decimal(3)), (Decimal(2), Decimal(1))]) == "partial"
    assert domain.reserve_status([(Decimal(3), Decimal(3)), (Decimal(0), Decimal(0))]) == "full"


def test_parts_per_warehouse_and_coming_soon() -> None:
    """R-SPL-1: reserved quantities by warehouse, shortages in a coming-soon part (a partly reserved line is cut)."""
    lines = [
        ReservedLine("l1", W1, Decimal(3), Decimal(3)),
        ReservedLine("l2", W1, Decimal(5), Decimal(1)),
        ReservedLine("l3", W2, Decimal(2), Decimal(2)),
    ]
    plan = domain.plan_parts(lines, one_shipment=False)
    assert plan.groups == [["l1", "l2"], ["l3"], ["l2"]] and plan.kinds == ["in_stock", "in_stock", "coming_soon"]
    assert plan.cuts == {"l2": (Decimal(1), Decimal(4))}
    assert not domain.plan_parts(lines, one_shipment=True).splits
    assert not domain.plan_parts(lines[:1], one_shipment=False).splits


def test_overdue_after_the_status_limit_only() -> None:
    """R-ST-4: a limit per status; no limit means never overdue."""
    entered = datetime(2026, 11, 1, tzinfo=UTC)
    limits = {Status.AWAITING_APPROVAL: 48}
    assert domain.overdue_since(Status.AWAITING_APPROVAL, entered, limits, entered + timedelta(hours=47)) is None
    assert domain.overdue_since(Status.AWAITING_APPROVAL, entered, limits, entered + timedelta(hours=49)) == (
        entered + timedelta(hours=48)
    )
    assert domain.overdue_since(Status.CONFIRMED, entered, limits, entered + timedelta(days=30)) is None
    with pytest.raises(domain.DomainError):
        domain.parse_time_limits({"shipped": 3})


@pytest.mark.parametrize("name", ["../x.pdf", "a/b.pdf", "a\\b.pdf", "..", "", "nul\x00.pdf"])
def test_file_names_with_a_path_are_refused(name: str) -> None:
    """R-CM-2: a file name never chooses where the file goes."""
    with pytest.raises(domain.DomainError):
        domain.safe_file_name(name)


def test_import_rows_are_reported_by_sheet_row_number() -> None:
    """R-IN-3: wrong columns refused; each bad row named by its row number."""
    with pytest.raises(domain.DomainError) as wrong:
        domain.import_columns(("Article", "Qty"))
    assert wrong.value.code == "invalid_import"
    columns = domain.import_columns(("Артикул", "Склад", "Количество"))
    rows = [(2, ("A-1", "main", 1)), (3, (None, None, None)), (4, ("B-2", "main", "x"))]
    with pytest.raises(domain.InvalidLines) as bad:
        domain.validate_import(rows, columns, ITEMS, {W1}, {"main": W1})
    assert [d["row"] for d in bad.value.details] == [4]  # type: ignore[union-attr]
    good = domain.validate_import(rows[:2], columns, ITEMS, {W1}, {"main": W1})
    assert [(x.sku, x.warehouse_id) for x in good] == [("A-1", W1)]


def test_a_partly_reserved_line_is_cut_between_the_in_stock_and_coming_soon_parts_R_SPL_1() -> None:
    """R-SPL-1: what is reserved ships now; only the shortage waits in the coming-soon part."""
    from decimal import Decimal

    from oms_orders.domain import ReservedLine, plan_parts

    plan = plan_parts(
        [
            ReservedLine("full", "w1", Decimal(5), Decimal(5)),
            ReservedLine("part", "w1", Decimal(6), Decimal(2)),
            ReservedLine("none", "w1", Decimal(3), Decimal(0)),
        ],
        one_shipment=False,
    )
    assert plan.kinds == ["in_stock", "coming_soon"]
    assert plan.groups == [["full", "part"], ["part", "none"]]
    assert plan.cuts == {"part": (Decimal(2), Decimal(4))}
    single = plan_parts([ReservedLine("part", "w1", Decimal(6), Decimal(2))], one_shipment=False)
    assert single.splits and single.cuts == {"part": (Decimal(2), Decimal(4))}
    assert not plan_parts([ReservedLine("part", "w1", Decimal(6), Decimal(2))], one_shipment=True).splits


@pytest.mark.parametrize(
    ("sku", "raw", "quantity"),
    [("W-1", "1.0005", None), ("W-1", "1.25", "1.25"), ("W-1", "0.001", "0.001"), ("S-1", "2.500", "2.5")],
)
def test_quantities_on_the_shared_scale_are_kept_exactly(sku: str, raw: str, quantity: str | None) -> None:
    """R-IN-1, R-RSV-1: a unit that takes fractions (m, kg) takes thousandths, exactly as inventory keeps them."""
    if quantity is None:
        with pytest.raises(domain.InvalidLines):
            domain.validate_lines([RequestedLine(sku, W1, raw)], ITEMS, {W1})
        return
    (line,) = domain.validate_lines([RequestedLine(sku, W1, raw)], ITEMS, {W1})
    assert line.quantity == Decimal(quantity)


def test_an_edited_quantity_follows_the_unit_of_its_line() -> None:
    """R-ED-1: an edit is checked like an order: whole pieces, thousandths of the rest; zero allowed in an edit."""
    assert domain.parse_quantity("3", allow_zero=True, unit="шт") == Decimal(3)
    assert domain.parse_quantity("0", allow_zero=True, unit="шт") == Decimal(0)
    assert domain.parse_quantity("1.125", unit="кг") == Decimal("1.125")
    with pytest.raises(ValueError, match="whole"):
        domain.parse_quantity("1.5", unit="шт.")
    with pytest.raises(ValueError, match="3 decimal places"):
        domain.parse_quantity("1.0005", unit="кг")
