"""How analytics reads the order events the orders service publishes (no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from oms_analytics.handlers import change_from_changed, change_from_status
from oms_shared.contracts import (
    OrderChangedData,
    OrderChangedV1,
    OrderLine,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)

TENANT, ORDER, BUYER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def a_changed(kind: str, attributes: dict[str, object], lines: list[OrderLine] | None = None) -> OrderChangedV1:
    data = OrderChangedData(
        order_id=ORDER,
        number="7",
        buyer_id=BUYER,
        kind=kind,
        status=OrderStatus.CONFIRMED,
        lines=lines,
        attributes=attributes,
        changed_at=datetime.now(UTC),
    )
    return make_event(OrderChangedV1, tenant_id=TENANT, aggregate_id=str(ORDER), data=data, sequence=5)


def test_payment_responsible_and_overdue_changes_are_read_from_their_attributes() -> None:
    assert change_from_changed(a_changed("payment", {"old": "0.00", "new": "1250.50"})).paid_minor == 125050
    manager = str(uuid.uuid4())
    responsible = change_from_changed(a_changed("responsible", {"old": None, "new": manager}))
    assert (responsible.responsible_known, responsible.responsible_user_id) == (True, manager)
    cleared = change_from_changed(a_changed("responsible", {"old": manager, "new": None}))
    assert (cleared.responsible_known, cleared.responsible_user_id) == (True, None)
    overdue = change_from_changed(a_changed("overdue", {"status": "confirmed", "limit_hours": 72}))
    assert overdue.overdue is True
    erp = change_from_changed(a_changed("erp_applied", {"erp_document_id": "X", "paid_amount": "99.90"}))
    assert erp.paid_minor == 9990
    comment = change_from_changed(a_changed("comment", {"comment_id": "c", "text": "hi"}))
    assert (comment.paid_minor, comment.overdue, comment.total_minor, comment.responsible_known) == (
        None,
        None,
        None,
        False,
    )


def test_edited_lines_give_the_new_total_rounded_per_line() -> None:
    """Each line rounds half-up to kopecks, as the orders service and the documents 1C receives do."""
    lines = [
        OrderLine(line_id=uuid.uuid4(), sku="A", quantity=Decimal("3"), price=Decimal("0.335")),
        OrderLine(line_id=uuid.uuid4(), sku="B", quantity=Decimal("2"), price=Decimal("10")),
    ]
    assert change_from_changed(a_changed("lines_edited", {}, lines)).total_minor == 2101  # 1.005 → 1.01


def test_a_status_change_carries_its_time_and_the_order_total() -> None:
    data = OrderStatusChangedData(
        order_id=ORDER,
        number="7",
        buyer_id=BUYER,
        from_status=OrderStatus.NEW,
        to_status=OrderStatus.CONFIRMED,
        by_side=Side.SUPPLIER,
        total=Decimal("500.00"),
        changed_at=datetime(2026, 11, 2, 12, tzinfo=UTC),
    )
    change = change_from_status(make_event(OrderStatusChangedV1, tenant_id=TENANT, aggregate_id=str(ORDER), data=data))
    assert (change.status, change.total_minor, change.status_at) == ("confirmed", 50000, data.changed_at)
