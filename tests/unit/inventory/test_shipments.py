"""What a part shipped by the ERP takes out of an order line's reserve (``oms_inventory.shipments``), decided from
the line changes orders publishes, and what the line holds afterwards (``line_targets``)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from oms_inventory.handlers.support import line_targets
from oms_inventory.shipments import shipped_now
from oms_shared.contracts import LineChange, OrderLine

LINE = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER = uuid.UUID("22222222-2222-4222-8222-222222222222")


def test_only_more_shipped_counts_in_thousandths() -> None:
    """R-ERP-5: 0 → 4 ships 4 (4000 thousandths), 4 → 4.5 ships 0.5 more; a correction down ships nothing, and a
    line change of another field or an unreadable value is no shipment."""
    changes = [
        LineChange(line_id=LINE, sku="A", field="shipped", old="0", new="4"),
        LineChange(line_id=OTHER, sku="B", field="shipped", old="4", new="4.5"),
        LineChange(line_id=OTHER, sku="B", field="shipped", old="4.5", new="3"),
        LineChange(line_id=LINE, sku="A", field="quantity", old="10", new="12"),
        LineChange(line_id=LINE, sku="A", field="shipped", old="x", new="y"),
    ]
    assert shipped_now(changes) == {str(LINE): 4000, str(OTHER): 500}


def test_a_line_holds_only_what_is_left_to_ship() -> None:
    """R-ERP-5, R-RSV-1: 10 ordered, 4 shipped: the line's target is 6; shipped whole: nothing."""
    lines = [
        OrderLine(line_id=LINE, sku="A", quantity=Decimal(10), shipped_quantity=Decimal(4)),
        OrderLine(line_id=OTHER, sku="B", quantity=Decimal(2), shipped_quantity=Decimal(2)),
    ]
    assert [t.requested for t in line_targets(lines)] == [6000, 0]
