"""Stock fed by the ERP and shipping in OMS: on hand has one writer, the ERP (ADR 013)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oms_inventory.app import create_app
from oms_inventory.db import reserve_ledger, warehouses
from oms_inventory.settings import Settings
from oms_shared.contracts import ErpStockImportedData, ErpStockImportedV1, ErpStockItem, OrderStatus, Side, make_event
from tests.integration.inventory.helpers import setup_catalogue
from tests.integration.inventory.nodes import Node, catalogue, item, line, nodes, status
from tests.support.services import bearer, running_service, token_for

U = 1000


def erp_stock(tenant: str, wid: str, on_hand: str) -> ErpStockImportedV1:
    return make_event(
        ErpStockImportedV1,
        tenant_id=uuid.UUID(tenant),
        aggregate_id=wid,
        producer="erp-bridge",
        data=ErpStockImportedData(
            mode="changes", items=[ErpStockItem(warehouse_id=uuid.UUID(wid), sku="A", on_hand=Decimal(on_hand))]
        ),
    )


async def erp_fed(node: Node, wid: str) -> bool:
    async with node.db.read() as conn:
        return bool(await conn.scalar(sa.select(warehouses.c.erp_fed).where(warehouses.c.warehouse_id == wid)))


async def test_shipping_in_oms_leaves_on_hand_to_the_erps_figure(database_url: str) -> None:
    """R-RSV-4, R-ERP-2, R-ERP-4: OMS ships 4 of 10 in a warehouse the ERP feeds: the reserve is released and on
    hand stays the ERP's 10 until the ERP's stock says otherwise — its next file still saying 10 does not bring
    back units OMS took off (they were never taken), and its file of 6 leaves 6, not 2."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "0"})
        await node.deliver(erp_stock(tenant, wid, "10"))
        assert await erp_fed(node, wid)
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        assert await item(node, tenant, wid, "A") == (10 * U, 4 * U)

        await node.deliver(status(tenant, order, 3, OrderStatus.SHIPPED, lines))
        assert await item(node, tenant, wid, "A") == (10 * U, 0)
        await node.deliver(erp_stock(tenant, wid, "10"))  # the ERP has not booked the shipment yet
        assert await item(node, tenant, wid, "A") == (10 * U, 0)
        await node.deliver(erp_stock(tenant, wid, "6"))  # now it has
        assert await item(node, tenant, wid, "A") == (6 * U, 0)
        async with node.db.read() as conn:
            reasons = (await conn.execute(sa.select(reserve_ledger.c.reason).order_by(reserve_ledger.c.id))).scalars()
            assert list(reasons) == ["reserved", "shipped_erp_stock"]
        assert await node.inventory.reconcile() == []


async def test_a_shipment_booked_in_the_erp_is_not_taken_off_twice(database_url: str) -> None:
    """R-ERP-5, R-RSV-4: 1C ships 4 of 10, its stock file brings 6, then the order exchange's "shipped" arrives:
    the reserve is released and on hand stays 6 (before, it went down to 2)."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "0"})
        await node.deliver(erp_stock(tenant, wid, "10"))
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        await node.deliver(erp_stock(tenant, wid, "6"))
        assert await item(node, tenant, wid, "A") == (6 * U, 4 * U)
        await node.deliver(status(tenant, order, 3, OrderStatus.SHIPPED, lines, side=Side.ERP))
        assert await item(node, tenant, wid, "A") == (6 * U, 0)
        assert await node.inventory.reconcile() == []


async def test_a_warehouse_kept_by_hand_consumes_on_hand_when_shipping(database_url: str) -> None:
    """R-RSV-4: where the ERP does not feed stock, shipping takes the units off on hand; a warehouse can be switched
    to the ERP's figures by setting, and back."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        assert not await erp_fed(node, wid)
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        await node.deliver(status(tenant, order, 3, OrderStatus.SHIPPED, lines))
        assert await item(node, tenant, wid, "A") == (6 * U, 0)

        assert await node.inventory.set_stock_source(tenant, wid, True) == {"warehouse_id": wid, "erp_fed": True}
        other, one = uuid.uuid4(), [line("A", wid, "1")]
        await node.deliver(status(tenant, other, 2, OrderStatus.CONFIRMED, one))
        await node.deliver(status(tenant, other, 3, OrderStatus.SHIPPED, one))
        assert await item(node, tenant, wid, "A") == (6 * U, 0)


async def test_the_stock_source_is_set_over_http_and_bad_input_is_refused(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-2: the supplier says a warehouse's stock comes from the ERP (and back); an unknown warehouse is 404,
    a malformed body 422, a buyer 403, each with the error shape."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"A": "1"})
        url = f"/api/v1/warehouses/{wid}/stock-source"
        r = await client.put(url, json={"erp_fed": True}, headers=bearer(token))
        assert (r.status_code, r.json()) == (200, {"warehouse_id": wid, "erp_fed": True})
        r = await client.put(url, json={"erp_fed": False}, headers=bearer(token))
        assert r.json()["erp_fed"] is False
        for body in ({"erp_fed": "maybe"}, {}, {"erp_fed": True, "extra": 1}):
            r = await client.put(url, json=body, headers=bearer(token))
            assert r.status_code == 422 and "error" in r.json(), (body, r.text)
        r = await client.put(
            f"/api/v1/warehouses/{uuid.uuid4()}/stock-source", json={"erp_fed": True}, headers=bearer(token)
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "warehouse_not_found"
        other = token_for(keys[0], account_id=uuid.uuid4())
        r = await client.put(url, json={"erp_fed": True}, headers=bearer(other))
        assert r.status_code == 404  # another tenant's warehouse is unknown to it
        buyer = token_for(keys[0], account_id=uuid.uuid4(), kind="buyer")
        r = await client.put(url, json={"erp_fed": True}, headers=bearer(buyer))
        assert r.status_code == 403 and "error" in r.json()
