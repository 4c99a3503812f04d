"""Pure inventory rules: quantities, row validation, reservation sizes, FIFO backorders, line planning."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from oms_inventory.domain import (
    LineTarget,
    QuantityError,
    Waiting,
    WarehouseIndex,
    allocate_fifo,
    fmt,
    parse_quantity,
    plan_order_lines,
    read_csv_rows,
    reservable,
    to_units,
    validate_stock_rows,
)

WH = str(uuid.uuid4())
FOREIGN = str(uuid.uuid4())


def an_index(**overrides: object) -> WarehouseIndex:
    values: dict[str, object] = {
        "own_ids": frozenset({WH}),
        "codes": {"MAIN": WH},
        "foreign_ids": frozenset({FOREIGN}),
        "skus": frozenset({"A", "B"}),
    }
    values.update(overrides)
    return WarehouseIndex(**values)  # type: ignore[arg-type]


def test_quantities_are_exact_decimals_with_up_to_three_places() -> None:
    assert parse_quantity("2.5") == Decimal("2.5")
    assert parse_quantity("1,25") == Decimal("1.25")
    assert to_units(parse_quantity("0.001")) == 1
    assert fmt(to_units(Decimal("10"))) == "10"
    assert fmt(to_units(Decimal("2.50"))) == "2.5"


@pytest.mark.parametrize(
    ("raw", "code"),
    [("-1", "negative_quantity"), ("abc", "not_a_number"), (None, "missing_quantity"), ("0.0001", "too_precise"),
     ("NaN", "not_a_number"), (True, "not_a_number"), ("1e20", "too_large")],
)  # fmt: skip
def test_bad_quantities_are_refused_with_a_machine_readable_reason(raw: object, code: str) -> None:
    with pytest.raises(QuantityError) as info:
        parse_quantity(raw)
    assert info.value.code == code


def test_stock_rows_are_all_checked_and_every_bad_row_is_reported() -> None:
    """R-STK-1: unknown warehouse or SKU, negative or non-numeric stock are each reported by row."""
    rows = [
        {"warehouse_id": WH, "sku": "A", "on_hand": "5"},
        {"warehouse_code": "MAIN", "sku": "B", "on_hand": 3},
        {"warehouse_id": str(uuid.uuid4()), "sku": "A", "on_hand": "1"},
        {"warehouse_id": FOREIGN, "sku": "A", "on_hand": "1"},
        {"warehouse_id": WH, "sku": "Z", "on_hand": "-1"},
        {"warehouse_code": "NOPE", "sku": "A", "on_hand": "1"},
        {"warehouse_id": WH, "sku": "A", "on_hand": "2"},
        "junk",
    ]
    good, errors = validate_stock_rows(rows, an_index())
    assert [(g.warehouse_id, g.sku, g.on_hand) for g in good] == [(WH, "A", 5000), (WH, "B", 3000)]
    assert {(e.row, e.code) for e in errors} == {
        (2, "unknown_warehouse"),
        (3, "unknown_warehouse"),  # another account's: as unknown
        (4, "unknown_sku"),
        (4, "negative_quantity"),
        (5, "unknown_warehouse"),
        (6, "duplicate_row"),
        (7, "not_an_object"),
    }


def test_a_line_reserves_what_is_available_and_never_more() -> None:
    """R-RSV-1/R-RSV-2."""
    assert reservable(5, 10) == 5
    assert reservable(5, 3) == 3
    assert reservable(5, 0) == 0
    assert reservable(5, -2) == 0


def test_arriving_stock_goes_to_waiting_lines_first_come_first_served() -> None:
    waiting = [Waiting("l1", "o1", 4), Waiting("l2", "o2", 3), Waiting("l3", "o3", 5)]
    assert [(w.line_id, q) for w, q in allocate_fifo(waiting, 6)] == [("l1", 4), ("l2", 2)]
    assert allocate_fifo(waiting, 0) == []


def test_lines_that_left_the_order_are_dropped_unless_moved_to_another_part() -> None:
    targets = [LineTarget("l1", "A", WH, 1000)]
    plan = plan_order_lines(targets, ["l1", "l2", "l3"], kept_line_ids=["l3"])
    assert plan.dropped == ["l2"]
    assert [t.line_id for t in plan.targets] == ["l1"]


def test_csv_uploads_accept_semicolons_and_commas() -> None:
    rows = read_csv_rows("Warehouse_Code;SKU;On_Hand\nMAIN;A;5\n\nMAIN;B;1,5\n")
    assert rows == [
        {"warehouse_code": "MAIN", "sku": "A", "on_hand": "5"},
        {"warehouse_code": "MAIN", "sku": "B", "on_hand": "1,5"},
    ]
    assert read_csv_rows("sku,on_hand,warehouse_code\nA,2,MAIN\n") == [
        {"sku": "A", "on_hand": "2", "warehouse_code": "MAIN"}
    ]


def test_a_product_counted_in_pieces_takes_whole_quantities_and_the_rest_thousandths() -> None:
    """R-STK-1: stock of a product in pieces is whole; a measured unit takes thousandths; nothing is rounded."""
    assert parse_quantity("3", unit="шт") == 3
    assert parse_quantity("2.125", unit="кг") == Decimal("2.125")
    with pytest.raises(QuantityError) as info:
        parse_quantity("1.5", unit="pcs")
    assert info.value.code == "whole_units_only"
    with pytest.raises(QuantityError) as info:
        parse_quantity("2.0015", unit="кг")
    assert info.value.code == "too_precise"
    index = an_index(units={"A": "шт", "B": "кг"})
    good, errors = validate_stock_rows(
        [{"warehouse_id": WH, "sku": "A", "on_hand": "1.5"}, {"warehouse_id": WH, "sku": "B", "on_hand": "1.5"}],
        index,
    )
    assert [(e.row, e.code) for e in errors] == [(0, "whole_units_only")] and [r.on_hand for r in good] == [1500]


@pytest.mark.parametrize("value", ["0.0004", "2.0015", "1.0005"])
def test_a_quantity_finer_than_a_thousandth_is_refused_not_rounded(value: str) -> None:
    """R-RSV-1: 0.0004 was never reserved, 2.0015 reserved 2.002, 1.0005 left a backorder of 0.0005 for ever."""
    with pytest.raises(QuantityError) as info:
        to_units(Decimal(value))
    assert info.value.code == "too_precise"
    assert to_units(Decimal("2.001")) == 2001
