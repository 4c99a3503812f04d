"""Price lists are built from the product catalogue; orders carry currency, VAT mode, net, VAT and gross."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from oms_inventory.app import create_app as inventory_app
from oms_inventory.settings import Settings as InventorySettings
from oms_shared.topics import ORDER_PLACED
from tests.integration.orders.helpers import a_world, orders_app, place, read_events, register, sign_in
from tests.support.services import eventually, running_service


async def test_a_price_list_takes_names_and_units_from_the_catalogue_and_refuses_an_unknown_sku(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-IN-1: products created in inventory reach orders (product.updated); a price list's lines carry their
    names and units, so an order's lines show them; an SKU the catalogue lacks is refused by name, and nothing
    of the list is written."""
    inventory_env = {
        **service_env,
        "consumer_group": f"inv-{uuid.uuid4().hex[:8]}",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}",
    }
    orders = orders_app(database_url, service_env, keys)
    inventory = inventory_app(InventorySettings(**inventory_env))
    async with running_service(orders) as client, running_service(inventory) as stock:
        supplier = await register(client, "supplier", "Catalogue Supplier")
        sup = await sign_in(client, supplier["email"])
        products = {"items": [{"sku": "PIPE-20", "name": "Труба ПП 20 мм", "unit": "м"}]}
        r = await stock.post("/api/v1/products", json=products, headers=sup)
        assert r.status_code == 200, r.text

        body = {"name": "Опт", "items": [{"sku": "PIPE-20", "price": "35.90", "vat_rate": "20"}]}

        async def created() -> httpx.Response:
            r = await client.post("/api/v1/price-lists", headers=sup, json=body)
            assert r.status_code == 201, r.text  # until the catalogue has reached orders
            return r

        price_list = (await eventually(created)).json()
        assert [(i["sku"], i["name"], i["unit"]) for i in price_list["items"]] == [("PIPE-20", "Труба ПП 20 мм", "м")]

        r = await client.post(
            "/api/v1/price-lists",
            headers=sup,
            json={"name": "Ghosts", "items": [{"sku": "PIPE-20", "price": "1"}, {"sku": "GHOST", "price": "1"}]},
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "unknown_sku" and error["details"] == {"skus": ["GHOST"]}
        assert "GHOST" in error["message"]
        r = await client.get("/api/v1/price-lists", headers=sup)
        assert [p["name"] for p in r.json()["items"]] == ["Опт"]  # the refused list was not written

        # A later rename in the catalogue reaches the next version of the list.
        products = {"items": [{"sku": "PIPE-20", "name": "Труба полипропиленовая 20 мм", "unit": "м"}]}
        assert (await stock.post("/api/v1/products", json=products, headers=sup)).status_code == 200

        async def renamed() -> None:
            url = f"/api/v1/price-lists/{price_list['price_list_id']}"
            seen = await client.get(url, headers=sup)
            r = await client.put(url, headers={**sup, "If-Match": seen.headers["ETag"]}, json=body)
            assert r.status_code == 200, r.text
            assert r.json()["items"][0]["name"] == "Труба полипропиленовая 20 мм"

        await eventually(renamed)


async def test_order_lines_show_catalogue_names(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-IN-1: the lines of a placed order (answer and order.placed) carry the catalogue's names and units."""
    async with running_service(orders_app(database_url, service_env, keys)) as client:
        world = await a_world(client)
        order = (await place(client, world)).json()
        assert [(x["sku"], x["name"], x["unit"]) for x in order["lines"]] == [
            ("A-1", "Bolt", "pcs"),
            ("B-2", "Nut", "kg"),
        ]
        [placed] = await read_events(
            service_env["kafka_bootstrap"], ORDER_PLACED, 1, where=lambda e: str(e.data.order_id) == order["order_id"]
        )
        assert [(x.name, x.unit) for x in placed.data.lines] == [("Bolt", "pcs"), ("Nut", "kg")]


async def test_orders_carry_currency_and_vat_as_the_price_list_says(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-PF-1: an order shows its currency and, per line and in all, the amount without VAT, the VAT and the
    amount with VAT — VAT inside the prices ("в т.ч. НДС 20%", the default) or on top ("НДС сверху"), as its price
    list says; the buyer pays the amount with VAT. The list of orders and order.placed tell the same."""
    async with running_service(orders_app(database_url, service_env, keys)) as client:
        world = await a_world(client)
        included = (await place(client, world)).json()  # 3 × 10.50 + 5 × 2 = 41.50, VAT 20% inside
        assert (included["currency"], included["vat_mode"]) == ("RUB", "included")
        assert [(x["net_amount"], x["vat_amount"], x["gross_amount"]) for x in included["lines"]] == [
            ("26.25", "5.25", "31.5"),
            ("8.33", "1.67", "10"),
        ]
        assert (included["net_total"], included["vat_amount"], included["gross_total"], included["total"]) == (
            "34.58",
            "6.92",
            "41.5",
            "41.5",
        )

        r = await client.post(
            "/api/v1/price-lists",
            headers=world.sup,
            json={
                "name": "Export",
                "currency": "USD",
                "vat_mode": "on_top",
                "warehouse_ids": world.warehouses,
                "items": [
                    {"sku": "A-1", "price": "10.50", "vat_rate": "20"},
                    {"sku": "B-2", "price": "2", "vat_rate": "10"},
                ],
                "buyer_ids": [world.buyer_id],
            },
        )
        assert r.status_code == 201, r.text
        assert (r.json()["currency"], r.json()["vat_mode"]) == ("USD", "on_top")
        world.price_list_id = r.json()["price_list_id"]
        on_top = (await place(client, world)).json()  # 31.50 + 6.30 VAT; 10 + 1 VAT
        assert (on_top["currency"], on_top["vat_mode"]) == ("USD", "on_top")
        assert [(x["net_amount"], x["vat_amount"], x["gross_amount"]) for x in on_top["lines"]] == [
            ("31.5", "6.3", "37.8"),
            ("10", "1", "11"),
        ]
        assert (on_top["net_total"], on_top["vat_amount"], on_top["total"]) == ("41.5", "7.3", "48.8")

        listed = {o["order_id"]: o for o in (await client.get("/api/v1/orders", headers=world.sup)).json()["items"]}
        assert {
            k: listed[on_top["order_id"]][k] for k in ("currency", "vat_mode", "net_total", "vat_amount", "gross_total")
        } == {
            "currency": "USD",
            "vat_mode": "on_top",
            "net_total": "41.5",
            "vat_amount": "7.3",
            "gross_total": "48.8",
        }
        [placed] = await read_events(
            service_env["kafka_bootstrap"], ORDER_PLACED, 1, where=lambda e: str(e.data.order_id) == on_top["order_id"]
        )
        assert (placed.data.currency, placed.data.vat_included) == ("USD", False)
        assert (placed.data.total, placed.data.vat_amount, placed.data.net_total) == (
            Decimal("48.8"),
            Decimal("7.3"),
            Decimal("41.5"),
        )

        r = await client.post("/api/v1/price-lists", headers=world.sup, json={"name": "Bad", "currency": "rubles"})
        assert r.status_code == 422
