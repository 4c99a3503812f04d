"""What 1C shipped of an order, line by line, and what it said about it, applied by orders (real broker and DB)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_shared.contracts import (
    ErpLineChange,
    ErpOrderChangedData,
    ErpOrderChangedV1,
    OrderChangedV1,
    OrderStatus,
    make_event,
)
from oms_shared.topics import ORDER_CHANGED
from tests.integration.orders.helpers import a_world, orders_app, place, publish, read_events
from tests.support.services import eventually, running_service


async def test_a_partial_shipment_shows_per_line_and_the_order_ships_when_every_line_has(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ERP-5: the ERP ships all of A-1 and 1 of B-2's 2: the order page shows shipped 3 and 1, the order stays
    confirmed, the line changes say so and the lines in ``order.changed`` carry what is shipped (inventory holds
    only the rest); the rest of B-2 ships the order. R-ERP-1: what 1C said ("1C: <status text>") is on the
    order's history even when it moves no status."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        tenant = uuid.UUID(w.supplier["account_id"])
        order = (
            await place(
                client,
                w,
                lines=[
                    {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 3},
                    {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": 2},
                ],
            )
        ).json()
        oid = order["order_id"]
        a1, b2 = (uuid.UUID(x["line_id"]) for x in order["lines"])

        async def erp(**data: Any) -> None:
            change = ErpOrderChangedData(order_id=uuid.UUID(oid), erp_document_id="ЗК-7", **data)
            await publish(kafka, make_event(ErpOrderChangedV1, tenant_id=tenant, aggregate_id=oid, data=change))

        async def page(expect: Any) -> dict[str, Any]:
            async def check() -> dict[str, Any]:
                body = dict((await client.get(f"/api/v1/orders/{oid}", headers=w.buy)).json())
                assert expect(body), body
                return body

            return dict(await eventually(check, timeout=15))

        await erp(status=OrderStatus.CONFIRMED)
        await page(lambda b: b["status"] == "confirmed")

        await erp(
            lines=[
                ErpLineChange(line_id=a1, sku="A-1", shipped_quantity=Decimal(3)),
                ErpLineChange(line_id=b2, sku="B-2", shipped_quantity=Decimal(1)),
            ],
            comment="1C: Отгружается частями",
        )
        body = await page(lambda b: [x["shipped"] for x in b["lines"]] == ["3", "1"])
        assert body["status"] == "confirmed"
        assert body["history"][-1]["comment"] == "1C: Отгружается частями"
        assert (body["history"][-1]["from"], body["history"][-1]["to"]) == ("confirmed", "confirmed")
        changes = (await client.get(f"/api/v1/orders/{oid}/changes", headers=w.sup)).json()["items"]
        assert {(c["sku"], c["field"], c["old"], c["new"]) for c in changes if c["field"] == "shipped"} == {
            ("A-1", "shipped", "0", "3"),
            ("B-2", "shipped", "0", "1"),
        }
        (applied,) = await read_events(
            kafka,
            ORDER_CHANGED,
            1,
            where=lambda e: e.aggregate_id == oid and isinstance(e, OrderChangedV1) and e.data.kind == "erp_applied",
        )
        assert isinstance(applied, OrderChangedV1) and applied.data.lines is not None
        assert [(x.sku, x.shipped_quantity) for x in applied.data.lines] == [("A-1", 3), ("B-2", 1)]

        # More than a line holds is never shipped; the rest of B-2 ships the whole order.
        await erp(lines=[ErpLineChange(line_id=b2, sku="B-2", shipped_quantity=Decimal(5))])
        body = await page(lambda b: b["status"] == "shipped")
        assert [x["shipped"] for x in body["lines"]] == ["3", "2"]
        assert body["history"][-1]["by_side"] == "erp"
