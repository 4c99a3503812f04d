"""Parts on confirmation (R-SPL-1): inventory's reserve splits an order per warehouse and into 'coming soon'."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_shared.contracts import ReserveLine, ReserveUpdatedData, ReserveUpdatedV1, make_event
from tests.integration.orders.helpers import World, a_world, if_match, orders_app, place, publish
from tests.support.services import eventually, running_service


def reserve_event(w: World, order: dict[str, Any], reserved: list[int]) -> ReserveUpdatedV1:
    lines = [
        ReserveLine(
            line_id=uuid.UUID(x["line_id"]),
            sku=x["sku"],
            warehouse_id=uuid.UUID(x["warehouse_id"]),
            requested=x["quantity"],
            reserved=r,
            shortage=max(0, int(x["quantity"]) - r),
        )
        for x, r in zip(order["lines"], reserved, strict=True)
    ]
    return make_event(
        ReserveUpdatedV1,
        tenant_id=uuid.UUID(w.supplier["account_id"]),
        aggregate_id=order["order_id"],
        data=ReserveUpdatedData(
            order_id=uuid.UUID(order["order_id"]),
            reason="reserved",
            lines=lines,
            fully_reserved=all(x.shortage == 0 for x in lines),
        ),
    )


async def confirm(client: Any, w: World, order: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        f"/api/v1/orders/{order['order_id']}/transitions",
        headers={**w.sup, **if_match(order)},
        json={"to": "confirmed"},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_confirmed_order_splits_into_parts_by_reserve_unless_one_shipment(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-SPL-1: a part per warehouse and a coming-soon part; one shipment stays whole; a repeat is a no-op."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        lines = [
            {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 3},
            {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": 5},
            {"sku": "C-3", "warehouse_id": w.warehouses[1], "quantity": 2},
        ]
        order = await confirm(client, w, (await place(client, w, lines=lines)).json())
        single = await confirm(client, w, (await place(client, w, lines=lines, one_shipment=True)).json())
        event = reserve_event(w, order, [3, 1, 2])  # B-2 is short by 4
        await publish(kafka, event)
        await publish(kafka, event)  # the same event again changes nothing
        await publish(kafka, reserve_event(w, single, [3, 1, 2]))

        async def split() -> dict[str, Any]:
            body = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=w.buy)).json()
            assert len(body["part_ids"]) == 2, body["part_ids"]
            return dict(body)

        root = await eventually(split, timeout=15)
        # B-2 is cut: the 1 reserved ships with the in-stock part, the 4 short wait in the coming-soon part.
        assert [(x["sku"], x["quantity"]) for x in root["lines"]] == [("A-1", "3"), ("B-2", "1")]
        assert root["reserve_status"] == "full"
        parts = [(await client.get(f"/api/v1/orders/{p}", headers=w.buy)).json() for p in root["part_ids"]]
        by_number = {p["number"]: p for p in parts}
        assert set(by_number) == {"1001-1", "1001-2"}
        assert [x["sku"] for x in by_number["1001-1"]["lines"]] == ["C-3"]  # the other warehouse, in stock
        coming = by_number["1001-2"]
        assert [(x["sku"], x["quantity"], x["reserved"], x["shortage"]) for x in coming["lines"]] == [
            ("B-2", "4", "0", "4")
        ]
        assert coming["status"] == "confirmed" and coming["reserve_status"] == "none"
        assert all(p["parent_order_id"] == order["order_id"] for p in parts)

        async def single_reserved() -> None:
            body = (await client.get(f"/api/v1/orders/{single['order_id']}", headers=w.sup)).json()
            assert body["reserve_status"] == "partial"
            assert body["part_ids"] == [] and len(body["lines"]) == 3

        await eventually(single_reserved, timeout=15)
        listed = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": "number"})).json()
        assert [o["number"] for o in listed["items"]] == ["1001", "1001-1", "1001-2", "1002"]
