"""The split preview from the availability replica (R-SPL-1) and ERP changes applied to an order (ERP wins)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_shared.contracts import (
    ErpLineChange,
    ErpOrderChangedData,
    ErpOrderChangedV1,
    OrderChangedV1,
    OrderStatus,
    StockUpdatedData,
    StockUpdatedV1,
    make_event,
)
from oms_shared.topics import ORDER_CHANGED
from tests.integration.orders.helpers import a_world, if_match, orders_app, place, publish, read_events
from tests.support.services import eventually, running_service


async def test_split_preview_and_erp_changes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-SPL-1 (preview): the ERP's quantities, prices, payment and status win; a forbidden move is
    reported as a conflict and changes no status; when both sides changed the order (R-ERP-3), the ERP's change is
    applied and what it overrode is recorded as a conflict."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        tenant = uuid.UUID(w.supplier["account_id"])
        for sku, available in (("A-1", 10), ("B-2", 1)):
            await publish(
                kafka,
                make_event(
                    StockUpdatedV1,
                    tenant_id=tenant,
                    aggregate_id=f"{w.warehouses[0]}:{sku}",
                    data=StockUpdatedData(
                        warehouse_id=uuid.UUID(w.warehouses[0]),
                        sku=sku,
                        on_hand=Decimal(available),
                        reserved=Decimal(0),
                        available=Decimal(available),
                    ),
                ),
            )
        order = (
            await place(
                client,
                w,
                lines=[
                    {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 3},
                    {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": 5},
                ],
            )
        ).json()
        oid = order["order_id"]

        async def previewed() -> None:
            # Waits for both stock.updated events to reach the availability replica.
            body = (await client.get(f"/api/v1/orders/{oid}/split-preview", headers=w.sup)).json()
            assert body["splits"] is True, body
            # B-2 (5 ordered, 1 available) is cut: 1 ships with the in-stock part, 4 wait in the coming-soon part.
            assert [(p["kind"], [(x["sku"], x["quantity"]) for x in p["lines"]]) for p in body["parts"]] == [
                ("in_stock", [("A-1", "3"), ("B-2", "1")]),
                ("coming_soon", [("B-2", "4")]),
            ]

        await eventually(previewed, timeout=15)
        assert (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()["version"] == 1  # nothing changed

        a1, b2 = order["lines"]
        await publish(
            kafka,
            make_event(
                ErpOrderChangedV1,
                tenant_id=tenant,
                aggregate_id=oid,
                data=ErpOrderChangedData(
                    order_id=uuid.UUID(oid),
                    erp_document_id="ЗК-0001",
                    status=OrderStatus.CONFIRMED,
                    lines=[
                        ErpLineChange(
                            line_id=uuid.UUID(a1["line_id"]), sku="A-1", quantity=Decimal(2), price=Decimal("11")
                        ),
                        ErpLineChange(line_id=uuid.UUID(b2["line_id"]), sku="B-2", deleted=True),
                    ],
                    shipment_date=date(2026, 12, 10),
                    paid_amount=Decimal("5"),
                    caller="ERP (1c-exchange)",
                ),
            ),
        )

        async def applied() -> dict[str, Any]:
            body = (await client.get(f"/api/v1/orders/{oid}", headers=w.buy)).json()
            assert body["status"] == "confirmed", body["status"]
            return dict(body)

        body = await eventually(applied, timeout=15)
        assert [(x["sku"], x["quantity"], x["price"]) for x in body["lines"]] == [("A-1", "2", "11")]
        assert (body["total"], body["paid_amount"], body["shipment_date"]) == ("22", "5", "2026-12-10")
        assert body["history"][-1]["by_side"] == "erp"
        # The history says which ERP credential sent the change.
        assert body["history"][-1]["comment"].startswith("ERP (1c-exchange): "), body["history"][-1]
        log = (await client.get(f"/api/v1/orders/{oid}/changes", headers=w.buy)).json()["items"]
        assert {(c["sku"], c["field"]) for c in log} == {("A-1", "quantity"), ("A-1", "price"), ("B-2", "deleted")}

        # The ERP may not "agree" for the buyer: the status stays, a conflict is recorded for people to see.
        version = body["version"]
        await publish(
            kafka,
            make_event(
                ErpOrderChangedV1,
                tenant_id=tenant,
                aggregate_id=oid,
                data=ErpOrderChangedData(order_id=uuid.UUID(oid), status=OrderStatus.AGREED),
            ),
        )

        async def conflict_seen() -> None:
            now = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
            assert now["version"] > version
            assert now["status"] == "confirmed"

        await eventually(conflict_seen, timeout=15)

        # Both sides changed the order since the ERP last took it (R-ERP-3): the ERP's payment wins, and what it
        # overrode is recorded as a conflict the responsible people are told about.
        await publish(
            kafka,
            make_event(
                ErpOrderChangedV1,
                tenant_id=tenant,
                aggregate_id=oid,
                data=ErpOrderChangedData(
                    order_id=uuid.UUID(oid),
                    erp_document_id="ЗК-0001",
                    paid_amount=Decimal("7"),
                    conflict="OMS version 6 (1C took 4) overridden by 1C document ЗК-0001",
                ),
            ),
        )

        async def overridden() -> None:
            assert (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()["paid_amount"] == "7"

        await eventually(overridden, timeout=15)
        conflicts = await read_events(
            kafka,
            ORDER_CHANGED,
            2,
            where=lambda e: e.aggregate_id == oid and isinstance(e, OrderChangedV1) and e.data.kind == "erp_conflict",
        )
        assert [c.data.attributes.get("reason") for c in conflicts if isinstance(c, OrderChangedV1)][-1] == (
            "OMS version 6 (1C took 4) overridden by 1C document ЗК-0001"
        )
        # R-ERP-5: a line cut in the ERP carries the quantity it was cut from, so the same cut arriving twice
        # (a lagging replica in the bridge) leaves the line at the ERP's quantity, not cut twice.
        cut = ErpOrderChangedData(
            order_id=uuid.UUID(oid),
            erp_document_id="ЗК-0001",
            lines=[
                ErpLineChange(
                    line_id=uuid.UUID(a1["line_id"]), sku="A-1", quantity=Decimal(2), cancelled_quantity=Decimal(1)
                )
            ],
        )
        for _ in range(2):
            await publish(kafka, make_event(ErpOrderChangedV1, tenant_id=tenant, aggregate_id=oid, data=cut))

        async def cut_once() -> None:
            now = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
            assert [(x["sku"], x["quantity"]) for x in now["lines"]] == [("A-1", "1")], now["lines"]
            changes = (await client.get(f"/api/v1/orders/{oid}/changes", headers=w.sup)).json()["items"]
            assert sum(1 for c in changes if c["field"] == "cancelled") == 2  # both arrived; the quantity is right

        await eventually(cut_once, timeout=15)
        confirmed = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        r = await client.post(
            f"/api/v1/orders/{oid}/transitions", headers={**w.sup, **if_match(confirmed)}, json={"to": "shipped"}
        )
        assert r.status_code == 200
        # R-ERP-5: a shipped order, however it got there, shows every line shipped whole.
        assert [(x["quantity"], x["shipped"]) for x in r.json()["lines"]] == [("1", "1")]
