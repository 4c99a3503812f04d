"""Time limits per status with the overdue scan (R-ST-4), and price lists opened by link (R-IN-2)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from oms_orders.handlers.changes import scan_overdue
from oms_shared.contracts import OrderChangedV1
from oms_shared.db import utcnow
from oms_shared.topics import ORDER_CHANGED
from tests.integration.orders.helpers import a_world, orders_app, place, read_events, register, sign_in
from tests.support.services import running_service


async def test_orders_past_their_status_limit_are_flagged_overdue_once(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ST-4: per-supplier limits; the scan flags the order, publishes order.changed (overdue), only once."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        assert (await client.get("/api/v1/settings/time-limits", headers=w.sup)).json()["limits"]["new"] == 24
        r = await client.put(
            "/api/v1/settings/time-limits", headers=w.sup, json={"limits": {"new": 2, "confirmed": 72}}
        )
        assert r.status_code == 200 and r.json()["limits"] == {"new": 2, "confirmed": 72}
        for bad in ({"new": -1}, {"lost": 3}, {"shipped": 5}, {"new": "soon"}):
            r = await client.put("/api/v1/settings/time-limits", headers=w.sup, json={"limits": bad})
            assert r.status_code == 422, bad
        assert (
            await client.put("/api/v1/settings/time-limits", headers=w.buy, json={"limits": {"new": 1}})
        ).status_code == 403
        order = (await place(client, w)).json()
        db = app.state.runtime.db
        assert await scan_overdue(db, now=utcnow() + timedelta(hours=1)) == 0
        assert await scan_overdue(db, now=utcnow() + timedelta(hours=3)) == 1
        assert await scan_overdue(db, now=utcnow() + timedelta(hours=4)) == 0  # flagged once
        body = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=w.sup)).json()
        assert body["overdue"] is True
        assert (await client.get("/api/v1/orders", headers=w.sup, params={"overdue": True})).json()["total"] == 1
        events = await read_events(kafka, ORDER_CHANGED, 1, where=lambda e: e.aggregate_id == order["order_id"])
        event = events[0]
        assert isinstance(event, OrderChangedV1) and event.data.kind == "overdue"
        assert event.data.attributes["status"] == "new" and event.data.attributes["limit_hours"] == 2


async def test_unregistered_buyer_opens_a_price_list_by_link_registers_and_orders(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2: a link opens the price list; a short form makes a buyer of that supplier who can order."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        r = await client.post(f"/api/v1/price-lists/{w.price_list_id}/link", headers=w.sup)
        assert r.status_code == 200, r.text
        token = r.json()["link_token"]
        public = (await client.get(f"/api/v1/links/{token}")).json()
        assert public["name"] == "Wholesale" and "buyer_ids" not in public and len(public["items"]) == 3
        assert (await client.get("/api/v1/links/not-a-token")).status_code == 404
        r = await client.post(
            f"/api/v1/links/{token}/register",
            json={
                "company_name": "New Shop",
                "email": "owner@newshop.example",
                "password": "new-shop-pass",
                "name": "Olga",
            },
        )
        assert r.status_code == 201, r.text
        assert (
            await client.post(
                f"/api/v1/links/{token}/register",
                json={"company_name": "Again", "email": "owner@newshop.example", "password": "new-shop-pass"},
            )
        ).status_code == 409
        assert (
            await client.post(
                f"/api/v1/links/{token}/register", json={"company_name": "", "email": "bad", "password": "x"}
            )
        ).status_code == 422
        shop = await sign_in(client, "owner@newshop.example", "new-shop-pass")
        r = await client.post(
            "/api/v1/orders",
            headers=shop,
            json={
                "price_list_id": w.price_list_id,
                "lines": [{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 2}],
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["buyer_name"] == "New Shop"
        buyers = (await client.get("/api/v1/buyers", headers=w.sup)).json()
        assert sorted(b["name"] for b in buyers["items"]) == ["Buyer LLC", "New Shop"]
        # A registered buyer joins through the link too; a supplier cannot.
        other = await sign_in(client, (await register(client, "buyer", "Existing Buyer"))["email"])
        assert (await client.post(f"/api/v1/links/{token}/join", headers=other)).status_code == 200
        assert (await client.get("/api/v1/price-lists", headers=other)).json()["total"] == 1
        assert (await client.post(f"/api/v1/links/{token}/join", headers=w.sup)).status_code == 403


async def test_price_list_open_to_a_segment_is_open_to_its_buyers_only(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """access to a price list per buyer or per segment; other buyers are refused (R-ACC-4)."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        dealer = await register(client, "buyer", "Dealer One")
        retail = await register(client, "buyer", "Retail One")
        for account, segment in ((dealer, "dealers"), (retail, "retail")):
            r = await client.post(
                "/api/v1/buyers",
                headers=w.sup,
                json={"name": account["account_id"][:8], "buyer_account_id": account["account_id"], "segment": segment},
            )
            assert r.status_code == 201 and r.json()["segment"] == segment
        r = await client.post(
            "/api/v1/price-lists",
            headers=w.sup,
            json={
                "name": "Dealers",
                "warehouse_ids": w.warehouses[:1],
                "segments": ["dealers"],
                "items": [{"sku": "A-1", "price": "9"}],
            },
        )
        assert r.status_code == 201 and r.json()["segments"] == ["dealers"]
        dealers_pl = r.json()["price_list_id"]
        dh = await sign_in(client, dealer["email"])
        rh = await sign_in(client, retail["email"])
        assert [p["name"] for p in (await client.get("/api/v1/price-lists", headers=dh)).json()["items"]] == ["Dealers"]
        assert (await client.get("/api/v1/price-lists", headers=rh)).json()["total"] == 0
        line = [{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 1}]
        r = await client.post("/api/v1/orders", headers=dh, json={"price_list_id": dealers_pl, "lines": line})
        assert r.status_code == 201 and r.json()["total"] == "9"
        r = await client.post("/api/v1/orders", headers=rh, json={"price_list_id": dealers_pl, "lines": line})
        assert r.status_code == 404 and r.json()["error"]["code"] == "price_list_not_found"
        # Duplicate buyer records and references to other tenants are refused.
        r = await client.post(
            "/api/v1/buyers", headers=w.sup, json={"name": "x", "buyer_account_id": dealer["account_id"]}
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "buyer_exists"
        rival = await sign_in(client, (await register(client, "supplier", "Rival"))["email"])
        r = await client.post("/api/v1/price-lists", headers=rival, json={"name": "Steal", "buyer_ids": [w.buyer_id]})
        assert r.status_code == 404 and r.json()["error"]["code"] == "buyer_not_found"
        assert (await client.get(f"/api/v1/buyers/{w.buyer_id}", headers=rival)).status_code == 404
        assert (await client.get(f"/api/v1/price-lists/{dealers_pl}", headers=rival)).status_code == 404
        r = await client.put(f"/api/v1/price-lists/{dealers_pl}", headers=rival, json={"name": "Mine"})
        assert r.status_code == 404
        assert (await client.get(f"/api/v1/buyers/{uuid.uuid4()}", headers=w.sup)).status_code == 404
        r = await client.post(
            "/api/v1/price-lists",
            headers=w.sup,
            json={"name": "Dup", "items": [{"sku": "A", "price": "1"}, {"sku": "A", "price": "2"}]},
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "duplicate_sku"
        r = await client.post(
            "/api/v1/price-lists", headers=w.sup, json={"name": "Neg", "items": [{"sku": "A", "price": "-1"}]}
        )
        assert r.status_code == 422
