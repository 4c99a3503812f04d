"""Order events reach notifications in any order (three topics): an older one still notifies, but never
undoes the newer state of the order replica (who is responsible for it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from oms_notifications.app import MIGRATIONS
from oms_notifications.db import metadata, notifications, orders
from oms_notifications.handlers import Links, Notifier
from oms_notifications.replicas import apply_account
from oms_shared.contracts import (
    AccessLevel,
    AccountUpdatedData,
    AccountUpdatedV1,
    OrderChangedData,
    OrderChangedV1,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    Side,
    UserInfo,
    make_event,
)
from oms_shared.db import Database, create_engine
from oms_shared.migrations import upgrade_to_head

SUPPLIER, ORDER, BUYER = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
ANNA, BORIS = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url), metadata)
    await upgrade_to_head(database.engine, MIGRATIONS)
    yield database
    await database.dispose()


def responsible(seq: int, user: uuid.UUID) -> OrderChangedV1:
    return make_event(
        OrderChangedV1,
        tenant_id=SUPPLIER,
        aggregate_id=str(ORDER),
        sequence=seq,
        data=OrderChangedData(
            order_id=ORDER,
            number="1001",
            buyer_id=BUYER,
            kind="responsible",
            status=OrderStatus.NEW,
            attributes={"responsible_user_id": str(user)},
            changed_at=datetime.now(UTC),
        ),
    )


async def test_a_late_older_change_of_responsible_does_not_undo_the_newer_one(db: Database) -> None:
    """R-NTF-1: the order's responsible manager is the one of its newest version; an older reassignment that
    arrives late is still told, but later notifications go to the current responsible."""
    users = [
        UserInfo(user_id=u, email=f"{u.hex[:6]}@supplier.test", access_orders=AccessLevel.FULL) for u in (ANNA, BORIS)
    ]
    account = make_event(
        AccountUpdatedV1,
        tenant_id=SUPPLIER,
        aggregate_id=str(SUPPLIER),
        sequence=1,
        data=AccountUpdatedData(account_id=SUPPLIER, kind="supplier", name="Supplier", users=users),
    )
    placed = make_event(
        OrderPlacedV1,
        tenant_id=SUPPLIER,
        aggregate_id=str(ORDER),
        sequence=1,
        data=OrderPlacedData(
            order_id=ORDER,
            number="1001",
            buyer_id=BUYER,
            status=OrderStatus.NEW,
            lines=[],
            total=Decimal(0),
            placed_by_side=Side.BUYER,
            created_at=datetime.now(UTC),
        ),
    )
    notifier = Notifier(Links("http://oms.test"))
    async with db.transaction() as tx:
        await apply_account(account, tx)
    async with db.transaction() as tx:
        await notifier.order_placed(placed, tx)
    for change in (responsible(3, BORIS), responsible(2, ANNA)):
        async with db.transaction() as tx:
            await notifier.order_changed(change, tx)
    async with db.read() as conn:
        row = (await conn.execute(sa.select(orders).where(orders.c.order_id == str(ORDER)))).one()
        assert (row.responsible_user_id, row.sequence) == (str(BORIS), 3)
        told = await conn.scalar(sa.select(sa.func.count()).select_from(notifications))
        assert told and told > 0
