"""What the ERP will be sent: the bridge's order replica, versioned per change (R-ERP-1, R-ERP-3)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from oms_erp_bridge import replicas
from oms_erp_bridge.app import MIGRATIONS
from oms_erp_bridge.db import metadata, orders
from oms_shared.contracts import (
    Event,
    LineChange,
    OrderChangedData,
    OrderChangedV1,
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)
from oms_shared.db import Database, create_engine
from oms_shared.errors import NotYet
from oms_shared.migrations import upgrade_to_head

TENANT = uuid.uuid4()
ORDER = uuid.uuid4()
BUYER = uuid.uuid4()
LINE = uuid.uuid4()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url), metadata)
    await upgrade_to_head(database.engine, MIGRATIONS)
    yield database
    await database.dispose()


def line(quantity: str) -> OrderLine:
    return OrderLine(line_id=LINE, sku="A-1", name="Bolt", quantity=Decimal(quantity), price=Decimal("10"))


def placed() -> OrderPlacedV1:
    return make_event(
        OrderPlacedV1,
        tenant_id=TENANT,
        aggregate_id=str(ORDER),
        sequence=1,
        data=OrderPlacedData(
            order_id=ORDER,
            number="1001",
            buyer_id=BUYER,
            buyer_name="Buyer LLC",
            status=OrderStatus.NEW,
            lines=[line("5")],
            total=Decimal("50"),
            created_at=datetime.now(UTC),
        ),
    )


def status(seq: int, to: OrderStatus, quantity: str = "5", side: Side = Side.SUPPLIER) -> OrderStatusChangedV1:
    return make_event(
        OrderStatusChangedV1,
        tenant_id=TENANT,
        aggregate_id=str(ORDER),
        sequence=seq,
        data=OrderStatusChangedData(
            order_id=ORDER,
            number="1001",
            buyer_id=BUYER,
            from_status=None,
            to_status=to,
            by_side=side,
            lines=[line(quantity)],
            total=Decimal(quantity) * 10,
            changed_at=datetime.now(UTC),
        ),
    )


def changed(seq: int, kind: str, side: Side = Side.SUPPLIER, **attributes: Any) -> OrderChangedV1:
    return make_event(
        OrderChangedV1,
        tenant_id=TENANT,
        aggregate_id=str(ORDER),
        sequence=seq,
        data=OrderChangedData(
            order_id=ORDER,
            number="1001",
            buyer_id=BUYER,
            kind=kind,
            status=OrderStatus.CONFIRMED,
            by_side=side,
            line_changes=[LineChange(line_id=LINE, sku="A-1", field="quantity", old="5", new="4")]
            if kind == "lines_edited"
            else [],
            lines=[line("4")] if kind == "lines_edited" else None,
            attributes=attributes,
            changed_at=datetime.now(UTC),
        ),
    )


async def apply(db: Database, event: Event) -> None:
    handler = {
        OrderPlacedV1: replicas.on_order_placed,
        OrderStatusChangedV1: replicas.on_order_status_changed,
        OrderChangedV1: replicas.on_order_changed,
    }[type(event)]
    async with db.transaction() as tx:
        await handler(event, tx)  # type: ignore[operator]


async def row(db: Database) -> Any:
    async with db.read() as conn:
        return (await conn.execute(sa.select(orders).where(orders.c.order_id == str(ORDER)))).one()


async def test_an_order_waits_for_the_erp_from_confirmation_and_every_later_change_sends_it_again(db: Database) -> None:
    """R-ERP-1: only confirmed orders go to the ERP, then each change raises the version the ERP must take;
    changes the ERP made itself are not sent back (R-ERP-3); an older snapshot arriving late changes nothing;
    an event read before its order.placed waits (NotYet) instead of being lost."""
    with pytest.raises(NotYet):
        await apply(db, status(2, OrderStatus.CONFIRMED))
    await apply(db, placed())
    r = await row(db)
    assert (r.exportable, r.version, r.exported_version, r.status) == (False, 1, 0, "new")

    await apply(db, status(2, OrderStatus.CONFIRMED))
    r = await row(db)
    assert (r.exportable, r.version, r.status) == (True, 2, "confirmed")

    await apply(db, changed(3, "lines_edited"))
    await apply(db, changed(4, "payment", paid_amount="40"))
    r = await row(db)
    assert r.version == 4
    assert '"quantity": "4"' in r.snapshot and '"paid_amount": "40"' in r.snapshot

    await apply(db, status(3, OrderStatus.CONFIRMED, quantity="9"))  # stale: sequence 3 was applied already
    assert '"quantity": "9"' not in (await row(db)).snapshot

    await apply(db, changed(5, "erp_applied", side=Side.ERP, erp_document_id="УТ-17"))
    await apply(db, status(6, OrderStatus.SHIPPED, quantity="4", side=Side.ERP))
    r = await row(db)
    assert (r.version, r.status) == (4, "shipped")  # the ERP's own changes: nothing new to send it
    await apply(db, placed())  # a redelivered order.placed does not reset anything
    assert (await row(db)).version == 4


async def test_a_confirmed_order_is_exported_when_a_later_change_overtakes_its_confirmation(db: Database) -> None:
    """R-ERP-1: the confirmation (on the status topic) arriving after a newer line edit (on the change topic) is
    stale by then, but the order still goes to the ERP: the edit says it is confirmed."""
    await apply(db, placed())
    await apply(db, changed(3, "lines_edited"))
    await apply(db, status(2, OrderStatus.CONFIRMED))
    r = await row(db)
    assert (r.exportable, r.status) == (True, "confirmed")
    assert '"quantity": "4"' in r.snapshot


async def test_an_order_rejected_after_its_confirmation_goes_to_the_erp_whatever_order_the_events_come_in(
    db: Database,
) -> None:
    """R-ERP-1: an order confirmed, then rejected, goes to the ERP as rejected. When the confirmation arrives after
    the rejection (it waited for its order.placed and was retried later), it is stale, but the order was confirmed
    once all the same: it is offered to the ERP, in its newest status, as when the events came in order."""
    await apply(db, placed())
    await apply(db, status(3, OrderStatus.REJECTED))
    assert (await row(db)).exportable is False
    await apply(db, status(2, OrderStatus.CONFIRMED, quantity="9"))
    r = await row(db)
    assert (r.exportable, r.status, r.exported_version < r.version) == (True, "rejected", True)
    assert '"quantity": "9"' not in r.snapshot
