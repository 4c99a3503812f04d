"""Thin slice of inventory: catalogue and stock by API, availability per price list, reserve and release by events."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import OrderStatus
from oms_shared.topics import RESERVE_UPDATED, dlq
from tests.integration.inventory.helpers import (
    TopicReader,
    a_line,
    availability_of,
    price_list_event,
    send,
    send_raw,
    setup_catalogue,
    status_event,
    stock_of,
)
from tests.support.services import bearer, eventually, running_service, token_for


async def test_confirmed_order_reserves_what_is_available_and_rejecting_releases_it(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-2, R-RSV-1, R-RSV-4, R-ACC-4: availability per price list drops by what was reserved; a duplicate
    event changes nothing; rejecting releases; bad input and foreign ids change nothing; junk goes to the DLQ."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    other = token_for(keys[0], account_id=uuid.uuid4())
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client, TopicReader(kafka, RESERVE_UPDATED) as reserves:
        wid = await setup_catalogue(client, token, {"A-1": "10", "B-2": "3"})
        pl = price_list_event(tenant, [wid], ["A-1", "B-2"])
        await send(kafka, pl)
        url = f"/api/v1/price-lists/{pl.data.price_list_id}/availability"

        async def listed() -> dict[str, Any]:
            r = await client.get(url, headers=bearer(token))
            assert r.status_code == 200, r.text
            return dict(r.json())

        body = await eventually(listed, timeout=15)
        assert availability_of(body, "A-1") == "10" and availability_of(body, "B-2") == "3"
        assert body["items"][0]["warehouses"] == [
            {"warehouse_id": wid, "on_hand": "10", "reserved": "0", "available": "10"}
        ]

        # Bad input: nothing applied, a clear reason per row.
        other_wid = (
            await client.post("/api/v1/warehouses", json={"code": "X", "name": "Theirs"}, headers=bearer(other))
        ).json()["warehouse_id"]
        r = await client.put(
            "/api/v1/stock",
            json={
                "items": [
                    {"warehouse_id": wid, "sku": "A-1", "on_hand": "99"},
                    {"warehouse_id": str(uuid.uuid4()), "sku": "A-1", "on_hand": "1"},
                    {"warehouse_id": wid, "sku": "B-2", "on_hand": "-5"},
                    {"warehouse_id": wid, "sku": "NOPE", "on_hand": "abc"},
                ]
            },
            headers=bearer(token),
        )
        assert r.status_code == 422, r.text
        codes = {(d["row"], d["code"]) for d in r.json()["error"]["details"]}
        assert codes >= {(1, "unknown_warehouse"), (2, "negative_quantity"), (3, "unknown_sku"), (3, "not_a_number")}
        r = await client.put(
            "/api/v1/stock",
            json={"items": [{"warehouse_id": other_wid, "sku": "A-1", "on_hand": "1"}]},
            headers=bearer(token),
        )
        # Another account's ids are answered as unknown ones (R-ACC-4): nothing tells that they exist.
        assert r.status_code == 422 and r.json()["error"]["details"][0]["code"] == "unknown_warehouse"
        assert (await client.get(url, headers=bearer(other))).json()["error"]["code"] == "price_list_not_found"
        r = await client.get("/api/v1/stock", params={"warehouse_id": other_wid}, headers=bearer(token))
        assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_warehouse"
        assert (await client.get("/api/v1/stock")).status_code == 401
        buyer = token_for(keys[0], account_id=tenant, kind="buyer")
        r = await client.put(
            "/api/v1/stock",
            json={"items": [{"warehouse_id": wid, "sku": "A-1", "on_hand": "1"}]},
            headers=bearer(buyer),
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "supplier_only"
        r = await client.post("/api/v1/warehouses", json={"code": "MAIN", "name": "again"}, headers=bearer(token))
        assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_code"
        assert (await stock_of(client, token, wid, "A-1"))["on_hand"] == "10"
        r = await client.get(f"/api/v1/price-lists/{uuid.uuid4()}/availability", headers=bearer(token))
        assert r.status_code == 404

        # Confirm: one line fully available, one short.
        order_id = uuid.uuid4()
        la, lb = a_line("A-1", wid, "4"), a_line("B-2", wid, "5")
        confirmed = status_event(tenant, order_id, OrderStatus.CONFIRMED, [la, lb])
        await send(kafka, confirmed)

        async def reserve_event(reason: str) -> dict[str, Any]:
            seen = [m for m, _ in await reserves.poll() if m["data"]["reason"] == reason]
            assert seen, f"no reserve.updated({reason}) yet"
            return seen[-1]

        event = await eventually(lambda: reserve_event("reserved"), timeout=15)
        assert event["aggregate_id"] == str(order_id)
        lines = {line["sku"]: line for line in event["data"]["lines"]}
        assert (lines["A-1"]["reserved"], lines["A-1"]["shortage"]) == ("4.000", "0.000")
        assert (lines["B-2"]["reserved"], lines["B-2"]["shortage"]) == ("3.000", "2.000")
        assert event["data"]["fully_reserved"] is False
        body = await listed()
        assert availability_of(body, "A-1") == "6" and availability_of(body, "B-2") == "0"
        r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(token))
        assert r.status_code == 200
        assert {(x["line_id"], x["reserved"]) for x in r.json()["lines"]} == {
            (str(la.line_id), "4"),
            (str(lb.line_id), "3"),
        }
        # Another account's order answers as an unknown one: its existence is not told (R-ACC-4).
        assert (await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(other))).status_code == 404
        assert (await client.get(f"/api/v1/orders/{uuid.uuid4()}/reserves", headers=bearer(token))).status_code == 404

        # The same event again changes nothing.
        await send(kafka, confirmed)

        async def duplicate_seen() -> None:
            metrics = (await client.get("/metrics")).text
            assert 'event_type="order.status_changed",outcome="duplicate"' in metrics

        await eventually(duplicate_seen, timeout=15)
        assert (await stock_of(client, token, wid, "A-1"))["reserved"] == "4"
        assert (await stock_of(client, token, wid, "B-2"))["reserved"] == "3"

        # Reject: everything comes back.
        await send(kafka, status_event(tenant, order_id, OrderStatus.REJECTED, [la, lb]))
        released = await eventually(lambda: reserve_event("released"), timeout=15)
        assert all(line["reserved"] == "0.000" for line in released["data"]["lines"])
        body = await listed()
        assert availability_of(body, "A-1") == "10" and availability_of(body, "B-2") == "3"

        # A malformed message goes to the dead-letter topic; the consumer keeps going.
        async with TopicReader(kafka, dlq(confirmed.TOPIC)) as dead:
            await send_raw(kafka, confirmed.TOPIC, b"{not json", {"event_type": "order.status_changed"})

            async def dead_lettered() -> None:
                msgs = await dead.poll()
                assert any("contract" in h.get("dlq_error", "") for _, h in msgs), msgs

            await eventually(dead_lettered, timeout=15)
        drift = await client.get("/api/v1/reserves/drift", headers=bearer(token))
        assert drift.json()["total"] == 0
