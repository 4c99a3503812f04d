"""Backorders, manual reserves, drill-down, order edits and shipping against the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import LineChange, OrderChangedData, OrderChangedV1, OrderStatus, make_event
from oms_shared.topics import RESERVE_UPDATED
from tests.integration.inventory.helpers import TopicReader, a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, running_service, token_for


async def test_backorders_fill_first_come_first_served_and_manual_reserves_count_everywhere(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-RSV-1, R-RSV-3, R-RSV-4, R-RSV-5, R-STK-1: incoming stock and released reserves go to waiting lines by
    confirmation time; manual reserves are refused above availability; drill-down shows every holder;
    editing a confirmed order adjusts its reserve; shipping consumes on-hand stock."""
    tenant = uuid.uuid4()
    user = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant, user_id=user)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client, TopicReader(kafka, RESERVE_UPDATED) as reserves:
        h = bearer(token)
        wid = await setup_catalogue(client, token, {"A": "5"})
        t0 = datetime.now(UTC)

        async def wait_stock(expected: dict[str, str]) -> dict[str, str]:
            async def check() -> dict[str, str]:
                item = await stock_of(client, token, wid, "A")
                assert {k: item[k] for k in expected} == expected, item
                return item

            return dict(await eventually(check, timeout=15))

        async def reserved_of(order_id: uuid.UUID) -> list[str]:
            r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=h)
            assert r.status_code == 200, r.text
            return [x["reserved"] for x in r.json()["lines"]]

        orders = [uuid.uuid4() for _ in range(3)]
        lines = [a_line("A", wid, q) for q in ("4", "3", "2")]
        for i, (order_id, line) in enumerate(zip(orders, lines, strict=True)):
            at = t0 + timedelta(seconds=i)
            await send(kafka, status_event(tenant, order_id, OrderStatus.CONFIRMED, [line], changed_at=at))
            await eventually(lambda o=order_id: reserved_of(o), timeout=15)

        assert [await reserved_of(o) for o in orders] == [["4"], ["1"], ["0"]]

        # A manual reserve above availability is refused and changes nothing.
        r = await client.put(
            "/api/v1/manual-reserves", json={"warehouse_id": wid, "sku": "A", "quantity": "1"}, headers=h
        )
        assert r.status_code == 422 and r.json()["error"]["code"] == "exceeds_available"

        # Incoming stock, then its arrival: the oldest waiting line is served first.
        r = await client.post(
            "/api/v1/incoming",
            json={"items": [{"warehouse_id": wid, "sku": "A", "quantity": "3", "expected_date": "2026-12-01"}]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        incoming_id = r.json()["items"][0]["incoming_id"]
        assert (await stock_of(client, token, wid, "A"))["incoming"] == "3"
        r = await client.post(f"/api/v1/incoming/{incoming_id}/receive", headers=h)
        assert r.status_code == 200, r.text
        assert (await client.post(f"/api/v1/incoming/{incoming_id}/receive", headers=h)).status_code == 409
        await wait_stock({"on_hand": "8", "reserved": "8", "incoming": "0"})
        assert [await reserved_of(o) for o in orders] == [["4"], ["3"], ["1"]]

        async def filled(order_id: uuid.UUID) -> None:
            msgs = [m for m, _ in await reserves.poll() if m["aggregate_id"] == str(order_id)]
            assert any(m["data"]["reason"] == "backorder_filled" for m in msgs), msgs

        await eventually(lambda: filled(orders[1]), timeout=15)

        # Rejecting the first order frees its stock for the last one still waiting.
        await send(kafka, status_event(tenant, orders[0], OrderStatus.REJECTED, [lines[0]]))
        await wait_stock({"on_hand": "8", "reserved": "5", "available": "3"})
        assert await reserved_of(orders[2]) == ["2"]

        # Manual reserve with who and why; counted in stock and drill-down.
        r = await client.put(
            "/api/v1/manual-reserves",
            json={"warehouse_id": wid, "sku": "A", "quantity": "2", "reason": "phone order"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert r.json()["available"] == "1"
        r = await client.get("/api/v1/stock/reserves", params={"warehouse_id": wid, "sku": "A"}, headers=h)
        holders = r.json()["holders"]
        assert [(x["kind"], x.get("order_id"), x["reserved"]) for x in holders] == [
            ("order", str(orders[1]), "3"),
            ("order", str(orders[2]), "2"),
            ("manual", None, "2"),
        ]
        assert holders[2]["reason"] == "phone order" and holders[2]["by_user_id"] == str(user)
        r = await client.get(f"/api/v1/orders/{orders[1]}/lines/{lines[1].line_id}/reserves", headers=h)
        assert [(e["quantity"], e["reason"]) for e in r.json()["entries"]] == [
            ("1", "reserved"),
            ("2", "backorder_filled"),
        ]

        # Editing a confirmed order: less quantity gives stock back.
        edited = lines[1].model_copy(update={"quantity": Decimal("1")})
        await send(
            kafka,
            make_event(
                OrderChangedV1,
                tenant_id=tenant,
                aggregate_id=str(orders[1]),
                data=OrderChangedData(
                    order_id=orders[1],
                    number="2",
                    buyer_id=uuid.uuid4(),
                    kind="lines_edited",
                    status=OrderStatus.CONFIRMED,
                    lines=[edited],
                    changed_at=datetime.now(UTC),
                    line_changes=[LineChange(line_id=lines[1].line_id, sku="A", field="quantity", old="3", new="1")],
                ),
            ),
        )
        await wait_stock({"reserved": "5", "available": "3"})
        assert await reserved_of(orders[1]) == ["1"]

        # Shipping consumes: on hand and reserved both go down.
        await send(kafka, status_event(tenant, orders[2], OrderStatus.SHIPPED, [lines[2]]))
        await wait_stock({"on_hand": "6", "reserved": "3", "available": "3"})
        # Splitting: the line moves to a new part with its reserve, nothing is released in between.
        child = uuid.uuid4()
        await send(
            kafka,
            make_event(
                OrderChangedV1,
                tenant_id=tenant,
                aggregate_id=str(orders[1]),
                data=OrderChangedData(
                    order_id=orders[1],
                    number="2",
                    buyer_id=uuid.uuid4(),
                    kind="split",
                    status=OrderStatus.CONFIRMED,
                    lines=[],
                    related_order_ids=[child],
                    changed_at=datetime.now(UTC),
                    line_changes=[LineChange(line_id=lines[1].line_id, sku="A", field="moved")],
                ),
            ),
            status_event(tenant, child, OrderStatus.CONFIRMED, [edited]),
        )
        assert await eventually(lambda: reserved_of(child), timeout=15) == ["1"]
        await wait_stock({"on_hand": "6", "reserved": "3", "available": "3"})
        r = await client.delete("/api/v1/manual-reserves", params={"warehouse_id": wid, "sku": "A"}, headers=h)
        assert r.status_code == 200 and r.json()["reserved"] == "1"
        r = await client.get("/api/v1/manual-reserves", headers=h)
        assert r.json()["total"] == 0
        assert (await client.get("/api/v1/reserves/drift", headers=h)).json()["total"] == 0
