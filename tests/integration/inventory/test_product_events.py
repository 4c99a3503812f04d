"""Inventory tells the other services its product catalogue (product.updated): orders builds price lists from it."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import ErpStockImportedData, ErpStockImportedV1, ErpStockItem, make_event
from oms_shared.topics import PRODUCT_UPDATED
from tests.integration.inventory.helpers import TopicReader, send, setup_catalogue, stock_of
from tests.support.services import bearer, eventually, running_service, token_for


def erp_stock(tenant: uuid.UUID, wid: str, name: str, on_hand: str = "5") -> ErpStockImportedV1:
    item = ErpStockItem(warehouse_id=uuid.UUID(wid), sku="PIPE-20", name=name, unit="м", on_hand=on_hand)
    return make_event(
        ErpStockImportedV1,
        tenant_id=tenant,
        aggregate_id=f"erp-{uuid.uuid4()}",
        producer="erp-bridge",
        data=ErpStockImportedData(mode="changes", items=[item]),
    )


async def test_products_from_the_api_and_from_the_erp_are_published_when_they_change(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-3: a product created or renamed, by a user or by the ERP's stock, is published with its name and
    unit (keyed by SKU); ERP stock that changes no product's name publishes none."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client, TopicReader(kafka, PRODUCT_UPDATED) as products:
        wid = await setup_catalogue(client, token, {"A": "1"})

        def mine(messages: list[tuple[dict[str, Any], dict[str, str]]]) -> list[tuple[str, str, str]]:
            return [
                (m["data"]["sku"], m["data"]["name"], m["data"]["unit"])
                for m, _ in messages
                if m.get("tenant_id") == str(tenant)
            ]

        async def seen(want: list[tuple[str, str, str]]) -> None:
            assert mine(await products.poll()) == want

        async def stock_is(on_hand: str) -> None:
            assert (await stock_of(client, token, wid, "PIPE-20"))["on_hand"] == on_hand

        await eventually(lambda: seen([("A", "Product A", "pcs")]))
        await send(kafka, erp_stock(tenant, wid, "Труба ПП 20"))
        await eventually(lambda: seen([("A", "Product A", "pcs"), ("PIPE-20", "Труба ПП 20", "м")]))
        await send(kafka, erp_stock(tenant, wid, "Труба ПП 20", on_hand="7"))  # the same product: nothing to tell
        await eventually(lambda: stock_is("7"))
        await send(kafka, erp_stock(tenant, wid, "Труба ПП 20 мм"))
        want = [("A", "Product A", "pcs"), ("PIPE-20", "Труба ПП 20", "м"), ("PIPE-20", "Труба ПП 20 мм", "м")]
        await eventually(lambda: seen(want))
        r = await client.get("/api/v1/products", headers=bearer(token))
        assert {(p["sku"], p["name"]) for p in r.json()["items"]} == {("A", "Product A"), ("PIPE-20", "Труба ПП 20 мм")}
