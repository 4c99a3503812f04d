"""A manager restricted to their own buyers sees only those buyers' reserves in inventory (R-ACC-1, R-ACC-4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oms_inventory.app import create_app
from oms_inventory.db import inbox
from oms_inventory.settings import Settings
from oms_shared.contracts import (
    BuyerUpdatedData,
    BuyerUpdatedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)
from tests.integration.inventory.helpers import a_line, send, setup_catalogue
from tests.support.services import bearer, eventually, running_service, token_for


def confirmed(tenant: uuid.UUID, order_id: uuid.UUID, buyer_id: uuid.UUID, wid: str, qty: str) -> OrderStatusChangedV1:
    return make_event(
        OrderStatusChangedV1,
        tenant_id=tenant,
        aggregate_id=str(order_id),
        producer="orders",
        data=OrderStatusChangedData(
            order_id=order_id,
            number="1001",
            buyer_id=buyer_id,
            from_status=OrderStatus.NEW,
            to_status=OrderStatus.CONFIRMED,
            by_side=Side.SUPPLIER,
            lines=[a_line("A", wid, qty)],
            changed_at=datetime.now(UTC),
        ),
    )


def buyer_updated(tenant: uuid.UUID, buyer_id: uuid.UUID, managers: list[uuid.UUID], sequence: int) -> BuyerUpdatedV1:
    return make_event(
        BuyerUpdatedV1,
        tenant_id=tenant,
        aggregate_id=str(buyer_id),
        sequence=sequence,
        producer="orders",
        data=BuyerUpdatedData(buyer_id=buyer_id, name=f"Buyer {sequence}", manager_user_ids=managers),
    )


async def test_a_restricted_manager_sees_only_reserves_of_their_own_buyers_orders(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1, R-ACC-4: a manager restricted to their buyers reads the reserves of those buyers' orders only —
    another buyer's order answers 404 (as an unknown one), the item drill-down lists only their orders among the
    holders; once the other buyer is assigned to them too, its order shows. The owner sees everything; another
    tenant sees nothing (404)."""
    tenant = uuid.uuid4()
    manager = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    restricted = token_for(
        keys[0], account_id=tenant, owner=False, user_id=manager, restricted=True, access={"orders": "full"}
    )
    stranger = token_for(keys[0])  # another tenant's owner
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    my_order, their_order = uuid.uuid4(), uuid.uuid4()
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, owner, {"A": "10"})
        await send(
            kafka,
            buyer_updated(tenant, mine, [manager], 1),
            buyer_updated(tenant, theirs, [uuid.uuid4()], 1),
            confirmed(tenant, my_order, mine, wid, "2"),
            confirmed(tenant, their_order, theirs, wid, "3"),
        )

        async def both_reserved() -> None:
            for order_id in (my_order, their_order):
                r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(owner))
                assert r.status_code == 200, r.text

        await eventually(both_reserved)

        r = await client.get(f"/api/v1/orders/{my_order}/reserves", headers=bearer(restricted))
        assert r.status_code == 200 and r.json()["lines"][0]["reserved"] == "2", r.text
        line_id = r.json()["lines"][0]["line_id"]
        r = await client.get(f"/api/v1/orders/{my_order}/lines/{line_id}/reserves", headers=bearer(restricted))
        assert r.status_code == 200 and r.json()["entries"], r.text

        r = await client.get(f"/api/v1/orders/{their_order}/reserves", headers=bearer(restricted))
        assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found", r.text
        r = await client.get(f"/api/v1/orders/{their_order}/reserves", headers=bearer(owner))
        their_line = r.json()["lines"][0]["line_id"]
        r = await client.get(f"/api/v1/orders/{their_order}/lines/{their_line}/reserves", headers=bearer(restricted))
        assert r.status_code == 404, r.text

        params = {"warehouse_id": wid, "sku": "A"}
        r = await client.get("/api/v1/stock/reserves", params=params, headers=bearer(restricted))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reserved"] == "5", body  # the item's totals are not buyer data
        assert [h["order_id"] for h in body["holders"] if h["kind"] == "order"] == [str(my_order)], body
        r = await client.get("/api/v1/stock/reserves", params=params, headers=bearer(owner))
        assert {h["order_id"] for h in r.json()["holders"]} == {str(my_order), str(their_order)}

        # Another tenant: the order does not exist for it.
        r = await client.get(f"/api/v1/orders/{my_order}/reserves", headers=bearer(stranger))
        assert r.status_code == 404, r.text

        # The other buyer is assigned to the manager as well (a newer snapshot); a late older one changes nothing.
        late = buyer_updated(tenant, theirs, [], 2)
        await send(kafka, buyer_updated(tenant, theirs, [manager], 3), late)

        async def late_one_handled() -> None:
            async with app.state.runtime.db.read() as conn:
                assert await conn.scalar(sa.select(inbox.c.event_id).where(inbox.c.event_id == str(late.event_id)))

        await eventually(late_one_handled)
        r = await client.get(f"/api/v1/orders/{their_order}/reserves", headers=bearer(restricted))
        assert r.status_code == 200, r.text


async def test_reserve_drill_downs_name_the_order_and_its_buyer(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-RSV-5: who holds a warehouse item's reserve, and an order's reserves, show the order's number and its
    buyer's name (from the order and buyer events inventory reads), with the ids alongside."""
    tenant, buyer, order_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, owner, {"A": "10"})
        named = make_event(
            BuyerUpdatedV1,
            tenant_id=tenant,
            aggregate_id=str(buyer),
            sequence=1,
            producer="orders",
            data=BuyerUpdatedData(buyer_id=buyer, name="ООО «Рога и копыта»"),
        )
        await send(kafka, named, confirmed(tenant, order_id, buyer, wid, "4"))

        async def holders() -> list[dict[str, Any]]:
            r = await client.get(
                "/api/v1/stock/reserves", params={"warehouse_id": wid, "sku": "A"}, headers=bearer(owner)
            )
            assert r.status_code == 200, r.text
            found = [h for h in r.json()["holders"] if h["kind"] == "order"]
            assert found and found[0]["buyer_name"], found
            return found

        [holder] = await eventually(holders)
        assert (holder["order_id"], holder["order_number"], holder["buyer_name"]) == (
            str(order_id),
            "1001",
            "ООО «Рога и копыта»",
        )
        r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(owner))
        assert r.status_code == 200, r.text
        assert (r.json()["order_number"], r.json()["buyer_name"]) == ("1001", "ООО «Рога и копыта»")
        line_id = r.json()["lines"][0]["line_id"]
        r = await client.get(f"/api/v1/orders/{order_id}/lines/{line_id}/reserves", headers=bearer(owner))
        assert (r.json()["order_id"], r.json()["order_number"], r.json()["buyer_name"]) == (
            str(order_id),
            "1001",
            "ООО «Рога и копыта»",
        )
