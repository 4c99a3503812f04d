"""A part of a confirmed order shipped by the ERP leaves the warehouse, against the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import LineChange, OrderChangedData, OrderChangedV1, OrderLine, OrderStatus, make_event
from tests.integration.inventory.helpers import a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, running_service, token_for


def shipped(
    tenant: uuid.UUID, order_id: uuid.UUID, line: OrderLine, old: str, new: str, *, edit: bool = False
) -> OrderChangedV1:
    """``order.changed`` as orders publishes it when the ERP shipped part of a line (kind ``erp_applied``), or
    (``edit``) a later price edit listing the line with what it shipped."""
    after = line.model_copy(update={"shipped_quantity": Decimal(new)})
    change = LineChange(line_id=line.line_id, sku=line.sku, field="shipped", old=old, new=new)
    if edit:
        change = LineChange(line_id=line.line_id, sku=line.sku, field="price", old="1", new="2")
    return make_event(
        OrderChangedV1,
        tenant_id=tenant,
        aggregate_id=str(order_id),
        data=OrderChangedData(
            order_id=order_id,
            number="1",
            buyer_id=uuid.uuid4(),
            kind="lines_edited" if edit else "erp_applied",
            status=OrderStatus.CONFIRMED,
            lines=[after],
            changed_at=datetime.now(UTC),
            line_changes=[change],
        ),
    )


async def test_a_partial_shipment_consumes_what_was_shipped_and_keeps_the_rest_reserved(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-5, R-RSV-1: 10 reserved, the ERP ships 4: on hand and reserved go down by 4 and the line holds 6;
    the same event again changes nothing; shipping the order then consumes the 6 left, nothing twice."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant, user_id=uuid.uuid4())
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"A": "15"})
        order_id = uuid.uuid4()
        line = a_line("A", wid, "10")

        async def wait_stock(expected: dict[str, str]) -> None:
            async def check() -> None:
                item = await stock_of(client, token, wid, "A")
                assert {k: item[k] for k in expected} == expected, item

            await eventually(check, timeout=15)

        async def held() -> list[str]:
            r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(token))
            assert r.status_code == 200, r.text
            return [x["reserved"] for x in r.json()["lines"]]

        await send(kafka, status_event(tenant, order_id, OrderStatus.CONFIRMED, [line]))
        await wait_stock({"on_hand": "15", "reserved": "10", "available": "5"})

        first = shipped(tenant, order_id, line, "0", "4")
        await send(kafka, first)
        await wait_stock({"on_hand": "11", "reserved": "6", "available": "5"})
        assert await held() == ["6"]

        # The same event again (redelivered), and a later edit listing the line with its 4 shipped: still 6 held.
        await send(kafka, first, shipped(tenant, order_id, line, "4", "4", edit=True))
        marker = uuid.uuid4()  # an order confirmed after those events: once it holds, they were read
        await send(kafka, status_event(tenant, marker, OrderStatus.CONFIRMED, [a_line("A", wid, "1")]))
        await wait_stock({"on_hand": "11", "reserved": "7", "available": "4"})
        assert await held() == ["6"]

        await send(kafka, status_event(tenant, order_id, OrderStatus.SHIPPED, [line]))
        await wait_stock({"on_hand": "5", "reserved": "1", "available": "4"})
