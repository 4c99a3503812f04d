"""The shared quantity scale: thousandths, whole pieces, refused rather than rounded — at the edge and in events."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from oms_shared.contracts import ContractError, OrderLine, ReserveLine, parse_event
from oms_shared.quantity import QuantityError, check_quantity, is_whole_unit


@pytest.mark.parametrize("unit", ["шт", "шт.", " ШТ ", "pcs", "piece", "упак", "компл", "Pack"])
def test_pieces_packs_and_sets_are_counted_whole(unit: str) -> None:
    assert is_whole_unit(unit)
    assert check_quantity(Decimal(3), unit) == 3
    with pytest.raises(QuantityError) as refused:
        check_quantity(Decimal("1.5"), unit)
    assert refused.value.code == "whole_units_only"


@pytest.mark.parametrize("unit", ["кг", "kg", "м", "m", "л", "м2", "", None])
def test_measured_units_take_thousandths(unit: str | None) -> None:
    assert not is_whole_unit(unit)
    assert check_quantity(Decimal("1.125"), unit) == Decimal("1.125")
    assert check_quantity(Decimal("2.5000"), unit) == Decimal("2.5")  # trailing zeros are not places


@pytest.mark.parametrize("raw", ["0.0004", "2.0015", "1.0005", "1E-7", "1.0000000000000000000000000001", "1e40"])
def test_more_than_three_places_is_refused_not_rounded(raw: str) -> None:
    """R-RSV-1: 0.0004 would never be reserved, 2.0015 would reserve 2.002, 1.0005 would wait for ever."""
    with pytest.raises(QuantityError) as refused:
        check_quantity(Decimal(raw), "кг")
    assert refused.value.code == "too_precise"


def test_the_event_contract_carries_at_most_three_places_without_an_exponent() -> None:
    """An event whose quantity inventory could not hold exactly is refused by the contract, not rounded later."""
    line = OrderLine(line_id=uuid.uuid4(), sku="A", quantity=Decimal("1E+3"))
    assert line.model_dump(mode="json")["quantity"] == "1000"
    with pytest.raises(ValueError, match="at most 3 places"):
        OrderLine(line_id=uuid.uuid4(), sku="A", quantity=Decimal("1.0005"))
    with pytest.raises(ValueError, match="at most 3 places"):
        ReserveLine(line_id=uuid.uuid4(), sku="A", warehouse_id=None, requested="0.0004", reserved=0, shortage=0)
    placed = {
        "event_type": "order.placed",
        "schema_version": 1,
        "tenant_id": str(uuid.uuid4()),
        "aggregate_id": "x",
        "data": {
            "order_id": str(uuid.uuid4()),
            "number": "1001",
            "buyer_id": str(uuid.uuid4()),
            "status": "new",
            "lines": [{"line_id": str(uuid.uuid4()), "sku": "A", "quantity": "2.0015"}],
            "total": "1",
            "created_at": "2026-12-01T10:00:00+00:00",
        },
    }
    with pytest.raises(ContractError, match="at most 3 places"):
        parse_event(json.dumps(placed))
    placed["data"]["lines"][0]["quantity"] = "2.001"  # type: ignore[index]
    assert parse_event(json.dumps(placed)).data.lines[0].quantity == Decimal("2.001")  # type: ignore[attr-defined]
