"""What the ERP has shipped of each order line, as inventory reads it from an order event
(``oms_inventory.shipments``), and what the line holds afterwards (``line_targets``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from oms_inventory.handlers.support import line_targets
from oms_inventory.shipments import shipped_units
from oms_shared.contracts import OrderLine

LINE = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")
THIRD = uuid.UUID("33333333-3333-4333-8333-333333333333")


def test_what_shipped_is_read_as_the_total_per_line_in_thousandths() -> None:
    """R-ERP-5: an event states what the ERP shipped of each line in all (4, 4.5, nothing yet), in thousandths;
    the line changes do not count, so an event repeating or preceding them yields the same totals."""
    lines = [
        OrderLine(line_id=LINE, sku="A", quantity=Decimal(10), shipped_quantity=Decimal(4)),
        OrderLine(line_id=OTHER, sku="B", quantity=Decimal(5), shipped_quantity=Decimal("4.5")),
        OrderLine(line_id=THIRD, sku="C", quantity=Decimal(1)),
    ]
    assert shipped_units(lines) == {str(LINE): 4000, str(OTHER): 4500, str(THIRD): 0}


def test_a_line_holds_only_what_is_left_to_ship() -> None:
    """R-ERP-5, R-RSV-1: 10 ordered, 4 shipped: the line's target is 6; shipped whole: nothing."""
    lines = [
        OrderLine(line_id=LINE, sku="A", quantity=Decimal(10), shipped_quantity=Decimal(4)),
        OrderLine(line_id=OTHER, sku="B", quantity=Decimal(2), shipped_quantity=Decimal(2)),
    ]
    assert [t.requested for t in line_targets(lines)] == [6000, 0]
