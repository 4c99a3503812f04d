"""The thin slice through a real broker and database: place, confirm with If-Match, see the reserve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from oms_shared.auth import Principal, issue_token
from oms_shared.contracts import (
    OrderStatusChangedV1,
    ReserveLine,
    ReserveUpdatedData,
    ReserveUpdatedV1,
    make_event,
)
from oms_shared.topics import ORDER_PLACED, ORDER_STATUS_CHANGED
from tests.integration.orders.helpers import (
    a_world,
    if_match,
    orders_app,
    place,
    publish,
    read_events,
    register,
    sign_in,
)
from tests.support.services import bearer, eventually, running_service


async def test_buyer_places_supplier_confirms_and_the_order_shows_its_reserve(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-IN-1, R-IN-4, R-ST-1, R-ST-2, R-ED-4, R-ACC-4: the thin slice of the orders service."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        world = await a_world(client)

        r = await place(
            client,
            world,
            desired_shipment_date=(datetime.now(UTC).date() + timedelta(days=30)).isoformat(),
            comment="call first",
        )
        assert r.status_code == 201, r.text
        order = r.json()
        assert r.headers["ETag"] == '"1"'
        assert order["status"] == "new" and order["number"] == "1001"
        assert order["buyer_id"] == world.buyer_id and order["buyer_name"] == "Buyer LLC"
        assert order["total"] == "41.5"  # 3 × 10.50 + 5 × 2
        assert [(x["sku"], x["quantity"], x["amount"]) for x in order["lines"]] == [
            ("A-1", "3", "31.5"),
            ("B-2", "5", "10"),
        ]
        assert order["responsible_user_id"] == world.supplier["user_id"]
        second = (await place(client, world)).json()
        assert second["number"] == "1002"  # R-IN-4: readable and unique per supplier

        oid = order["order_id"]
        # 401: no token, an expired token — nothing changes.
        assert (await client.post(f"/api/v1/orders/{oid}/transitions", json={"to": "confirmed"})).status_code == 401
        expired = issue_token(
            keys[0].read_bytes(),
            Principal(
                user_id=uuid.UUID(world.supplier["user_id"]),
                account_id=uuid.UUID(world.supplier["account_id"]),
                account_kind="supplier",
                is_owner=True,
            ),
            ttl=timedelta(seconds=-60),
        )
        r = await client.post(
            f"/api/v1/orders/{oid}/transitions",
            headers={**bearer(expired), **if_match(order)},
            json={"to": "confirmed"},
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "token_expired"
        # Another supplier cannot see or change this order: 404, just as for an unknown id (R-ACC-4).
        other = await register(client, "supplier", "Other Supplier")
        other_h = await sign_in(client, other["email"])
        r = await client.get(f"/api/v1/orders/{oid}", headers=other_h)
        assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found"
        unknown = await client.get(f"/api/v1/orders/{uuid.uuid4()}", headers=other_h)
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "order_not_found")
        r = await client.post(
            f"/api/v1/orders/{oid}/transitions", headers={**other_h, "If-Match": '"1"'}, json={"to": "confirmed"}
        )
        assert r.status_code == 404
        assert (await client.get(f"/api/v1/orders/{uuid.uuid4()}", headers=world.sup)).status_code == 404
        # 428 without If-Match, 412 with a stale one.
        r = await client.post(f"/api/v1/orders/{oid}/transitions", headers=world.sup, json={"to": "confirmed"})
        assert r.status_code == 428
        r = await client.post(
            f"/api/v1/orders/{oid}/transitions", headers={**world.sup, "If-Match": '"7"'}, json={"to": "confirmed"}
        )
        assert r.status_code == 412 and r.json()["error"]["code"] == "stale_version"
        # 409: the buyer may not confirm.
        r = await client.post(f"/api/v1/orders/{oid}/transitions", headers=world.buy, json={"to": "confirmed"})
        assert r.status_code == 409 and r.json()["error"]["code"] == "illegal_transition"
        unchanged = (await client.get(f"/api/v1/orders/{oid}", headers=world.sup)).json()
        assert unchanged["status"] == "new" and unchanged["version"] == 1 and len(unchanged["history"]) == 1

        r = await client.post(
            f"/api/v1/orders/{oid}/transitions",
            headers={**world.sup, **if_match(order)},
            json={"to": "confirmed", "comment": "ok"},
        )
        assert r.status_code == 200, r.text
        confirmed = r.json()
        assert confirmed["status"] == "confirmed" and confirmed["version"] == 2 and r.headers["ETag"] == '"2"'
        assert [(h["from"], h["to"], h["by_side"]) for h in confirmed["history"]] == [
            (None, "new", "buyer"),
            ("new", "confirmed", "supplier"),
        ]
        # 409 again: confirmed → agreed is not in the matrix; nothing changes.
        r = await client.post(
            f"/api/v1/orders/{oid}/transitions", headers={**world.sup, **if_match(confirmed)}, json={"to": "agreed"}
        )
        assert r.status_code == 409

        changed = await read_events(kafka, ORDER_STATUS_CHANGED, 1, where=lambda e: e.aggregate_id == oid)
        event = changed[0]
        assert isinstance(event, OrderStatusChangedV1)
        assert event.data.to_status == "confirmed" and event.sequence == 2
        assert str(event.tenant_id) == world.supplier["account_id"]
        assert {str(x.line_id) for x in event.data.lines} == {x["line_id"] for x in order["lines"]}
        placed = await read_events(kafka, ORDER_PLACED, 2)
        assert {e.aggregate_id for e in placed} == {oid, second["order_id"]}

        lines = order["lines"]
        await publish(
            kafka,
            make_event(
                ReserveUpdatedV1,
                tenant_id=uuid.UUID(world.supplier["account_id"]),
                aggregate_id=oid,
                data=ReserveUpdatedData(
                    order_id=uuid.UUID(oid),
                    reason="adjusted",
                    fully_reserved=False,
                    lines=[
                        ReserveLine(
                            line_id=uuid.UUID(lines[0]["line_id"]),
                            sku="A-1",
                            warehouse_id=uuid.UUID(world.warehouses[0]),
                            requested=3,
                            reserved=3,
                            shortage=0,
                        ),
                        ReserveLine(
                            line_id=uuid.UUID(lines[1]["line_id"]),
                            sku="B-2",
                            warehouse_id=uuid.UUID(world.warehouses[1]),
                            requested=5,
                            reserved=2,
                            shortage=3,
                        ),
                    ],
                ),
            ),
        )

        async def reserve_shown() -> dict[str, Any]:
            body = (await client.get(f"/api/v1/orders/{oid}", headers=world.buy)).json()
            assert body["reserve_status"] == "partial", body["reserve_status"]
            return body

        shown = await eventually(reserve_shown, timeout=15)
        assert [(x["reserved"], x["shortage"]) for x in shown["lines"]] == [("3", "0"), ("2", "3")]

        listed = (await client.get("/api/v1/orders", headers=world.buy)).json()
        assert listed["total"] == 2 and listed["limit"] == 50 and listed["offset"] == 0
        assert (await client.get("/api/v1/orders", headers=other_h)).json()["total"] == 0


async def test_auto_confirm_price_list_confirms_in_the_same_transaction(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ST-3: a price list with auto_confirm confirms at once; bad lines are refused per line (422)."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        world = await a_world(client, auto_confirm=True)
        r = await place(client, world)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "confirmed" and body["version"] == 2
        assert body["history"][-1]["by_side"] == "system"

        r = await place(
            client,
            world,
            lines=[
                {"sku": "ZZZ", "warehouse_id": world.warehouses[0], "quantity": "1"},
                {"sku": "A-1", "warehouse_id": str(uuid.uuid4()), "quantity": "1"},
                {"sku": "B-2", "warehouse_id": world.warehouses[0], "quantity": "-2"},
                {"sku": "C-3", "warehouse_id": world.warehouses[0], "quantity": "abc"},
                {"sku": "A-1", "warehouse_id": world.warehouses[0], "quantity": "0"},
            ],
        )
        assert r.status_code == 422
        details = r.json()["error"]["details"]
        assert [x["line"] for x in details] == [0, 1, 2, 3, 4]
        assert "not in this price list" in details[0]["reasons"][0]
        assert "not linked" in details[1]["reasons"][0]
        assert (await client.get("/api/v1/orders", headers=world.sup)).json()["total"] == 1
        # The supplier cannot place, and a buyer cannot order from a price list not open to it.
        stranger = await register(client, "buyer", "Stranger")
        st = await sign_in(client, stranger["email"])
        r = await client.post(
            "/api/v1/orders",
            headers=st,
            json={
                "price_list_id": world.price_list_id,
                "lines": [{"sku": "A-1", "warehouse_id": world.warehouses[0], "quantity": "1"}],
            },
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "price_list_not_found"
        r = await client.get(f"/api/v1/price-lists/{world.price_list_id}", headers=st)
        assert r.status_code == 404
        assert (await client.get("/api/v1/price-lists", headers=world.buy)).json()["total"] == 1
