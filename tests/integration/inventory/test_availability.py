"""Availability of a price list across its warehouses, in list order and by pages; stock events after a reserve."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import OrderStatus, PriceListItem
from oms_shared.topics import STOCK_UPDATED
from tests.integration.inventory.helpers import (
    TopicReader,
    a_line,
    price_list_event,
    send,
    setup_catalogue,
    status_event,
)
from tests.support.services import bearer, eventually, running_service, token_for


async def test_availability_lists_every_line_per_warehouse_in_list_order_and_pages(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-2: each price-list line shows on hand, reserved and available on every linked warehouse and
    the total, in the list's own order; an item a warehouse does not stock shows zeros; a line without a
    name shows the product's; ``limit``/``offset`` return a page with the full total; a reserve lowers
    availability and its ``stock.updated`` carries the expected incoming quantity."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client, TopicReader(kafka, STOCK_UPDATED) as stock_events:
        main = await setup_catalogue(client, token, {"Z-9": "7", "A-1": "10", "M-5": "2.5"}, units={"M-5": "kg"})
        second = await setup_catalogue(client, token, {"A-1": "4"}, code="SECOND")
        pl = price_list_event(tenant, [main, second], ["Z-9", "A-1", "M-5"])
        pl.data.items[2] = PriceListItem(sku="M-5", name="", price=Decimal("1"))  # no name in the list
        await send(kafka, pl)
        url = f"/api/v1/price-lists/{pl.data.price_list_id}/availability"

        async def listed(**params: int) -> dict[str, Any]:
            r = await client.get(url, params=params, headers=bearer(token))
            assert r.status_code == 200, r.text
            return dict(r.json())

        body = await eventually(listed, timeout=15)
        assert body["total"] == 3 and body["warehouse_ids"] == [main, second]
        assert [i["sku"] for i in body["items"]] == ["Z-9", "A-1", "M-5"]
        z9, a1, m5 = body["items"]
        assert z9["warehouses"][1] == {"warehouse_id": second, "on_hand": "0", "reserved": "0", "available": "0"}
        assert z9["total_available"] == "7"
        assert [w["available"] for w in a1["warehouses"]] == ["10", "4"] and a1["total_available"] == "14"
        assert m5["name"] == "Product M-5" and m5["total_available"] == "2.5"

        page = await listed(limit=2, offset=1)
        assert [i["sku"] for i in page["items"]] == ["A-1", "M-5"]
        assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
        assert (await listed(offset=5))["items"] == [] and (await listed(offset=5))["total"] == 3
        r = await client.get(url, params={"limit": 0}, headers=bearer(token))
        assert r.status_code == 422

        r = await client.post(
            "/api/v1/incoming",
            json={"items": [{"warehouse_id": main, "sku": "A-1", "quantity": "5"}]},
            headers=bearer(token),
        )
        assert r.status_code == 201, r.text
        await send(kafka, status_event(tenant, uuid.uuid4(), OrderStatus.CONFIRMED, [a_line("A-1", main, "4")]))

        async def reserved() -> None:
            assert (await listed(limit=1, offset=1))["items"][0]["total_available"] == "10"

        await eventually(reserved, timeout=15)

        async def announced() -> None:
            seen = [
                b["data"]
                for b, _ in await stock_events.poll()
                if b["data"]["sku"] == "A-1" and b["data"]["warehouse_id"] == main
            ]
            assert seen and Decimal(seen[-1]["reserved"]) == 4 and Decimal(seen[-1]["incoming"]) == 5, seen
            assert Decimal(seen[-1]["available"]) == 6

        await eventually(announced, timeout=15)


async def test_buyers_read_availability_of_the_price_lists_open_to_them(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-2: a buyer account the price list is open to (``pricelist.updated`` names it) reads the list's
    availability per warehouse and in total — what it can order, without the supplier's on-hand and reserve
    figures; a buyer it is not open to, and another supplier, get 403; a newer snapshot that no longer names
    the buyer closes the list to it."""
    tenant, buyer, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer_token = token_for(keys[0], account_id=buyer, kind="buyer")
    stranger_token = token_for(keys[0], account_id=stranger, kind="buyer")
    other_supplier = token_for(keys[0], account_id=uuid.uuid4())
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        main = await setup_catalogue(client, token, {"A-1": "10", "B-2": "3"})
        pl = price_list_event(tenant, [main], ["A-1", "B-2"], buyer_account_ids=[buyer])
        await send(kafka, pl)
        url = f"/api/v1/price-lists/{pl.data.price_list_id}/availability"

        async def as_buyer() -> dict[str, Any]:
            r = await client.get(url, headers=bearer(buyer_token))
            assert r.status_code == 200, r.text
            return dict(r.json())

        body = await eventually(as_buyer, timeout=15)
        assert [(i["sku"], i["total_available"]) for i in body["items"]] == [("A-1", "10"), ("B-2", "3")]
        assert body["items"][0]["warehouses"] == [{"warehouse_id": main, "available": "10"}]
        page = (await client.get(url, params={"limit": 1, "offset": 1}, headers=bearer(buyer_token))).json()
        assert [i["sku"] for i in page["items"]] == ["B-2"] and page["total"] == 2

        for other in (stranger_token, other_supplier):
            r = await client.get(url, headers=bearer(other))
            assert r.status_code == 404 and r.json()["error"]["code"] == "price_list_not_found", r.text

        await send(kafka, price_list_event(tenant, [main], ["A-1", "B-2"], price_list_id=pl.data.price_list_id))

        async def shut() -> None:
            r = await client.get(url, headers=bearer(buyer_token))
            assert r.status_code == 404, r.text

        await eventually(shut, timeout=15)
        r = await client.get(url, headers=bearer(token))
        assert r.status_code == 200 and r.json()["items"][0]["warehouses"][0]["on_hand"] == "10"


async def test_the_total_is_over_all_the_suppliers_warehouses_and_the_lists_own_total_is_beside_it(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-2: a line shows availability on the list's warehouses, ``total_available`` over all the supplier's
    warehouses (500 in Moscow on the list + 300 in St Petersburg off it = 800) and ``total_available_in_list``
    over the list's own (500), to the supplier and to the buyer, whole and by pages; reserves count, and
    another supplier's stock of the same SKU does not."""
    tenant, buyer = uuid.uuid4(), uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer_token = token_for(keys[0], account_id=buyer, kind="buyer")
    rival = token_for(keys[0], account_id=uuid.uuid4())
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        msk = await setup_catalogue(client, token, {"A-1": "500", "B-2": "5"}, code="MSK")
        spb = await setup_catalogue(client, token, {"A-1": "300"}, code="SPB")
        await setup_catalogue(client, rival, {"A-1": "1000"}, code="MSK")
        pl = price_list_event(tenant, [msk], ["A-1", "B-2"], buyer_account_ids=[buyer])
        await send(kafka, pl)
        url = f"/api/v1/price-lists/{pl.data.price_list_id}/availability"

        async def totals(who: str, **params: int) -> list[tuple[str, str, str]]:
            r = await client.get(url, params=params, headers=bearer(who))
            assert r.status_code == 200, r.text
            return [(i["sku"], i["total_available"], i["total_available_in_list"]) for i in r.json()["items"]]

        async def listed() -> None:
            assert await totals(token) == [("A-1", "800", "500"), ("B-2", "5", "5")]

        await eventually(listed, timeout=15)
        assert await totals(buyer_token) == [("A-1", "800", "500"), ("B-2", "5", "5")]
        assert await totals(token, limit=1) == [("A-1", "800", "500")]
        assert await totals(buyer_token, limit=1, offset=1) == [("B-2", "5", "5")]

        await send(kafka, status_event(tenant, uuid.uuid4(), OrderStatus.CONFIRMED, [a_line("A-1", spb, "100")]))

        async def reserved_off_the_list() -> None:
            assert (await totals(token))[0] == ("A-1", "700", "500")

        await eventually(reserved_off_the_list, timeout=15)


async def test_a_buyer_reads_the_warehouses_by_name_and_the_availability_of_one_catalogue_page(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-UI-2, R-STK-2: the buyer's catalogue names the list's warehouses (not ids) and asks for the availability of
    exactly the SKUs on its page (``sku`` repeated), in the list's order, with the totals; too many SKUs is 422."""
    tenant, buyer = uuid.uuid4(), uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer_token = token_for(keys[0], account_id=buyer, kind="buyer")
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        msk = await setup_catalogue(client, token, {"A-1": "5", "B-2": "6", "C-3": "7"}, code="MSK")
        spb = await setup_catalogue(client, token, {"B-2": "1"}, code="SPB")
        pl = price_list_event(tenant, [msk, spb], ["A-1", "B-2", "C-3"], buyer_account_ids=[buyer])
        await send(kafka, pl)
        url = f"/api/v1/price-lists/{pl.data.price_list_id}/availability"

        async def page() -> dict[str, Any]:
            r = await client.get(url, params={"sku": ["C-3", "B-2", "X-0"]}, headers=bearer(buyer_token))
            assert r.status_code == 200, r.text
            return dict(r.json())

        body = await eventually(page, timeout=15)
        assert body["warehouses"] == [
            {"warehouse_id": msk, "name": "Warehouse MSK"},
            {"warehouse_id": spb, "name": "Warehouse SPB"},
        ]
        assert body["total"] == 2
        assert [(i["sku"], i["name"], i["total_available"]) for i in body["items"]] == [
            ("B-2", "Product B-2", "7"),
            ("C-3", "Product C-3", "7"),
        ]
        assert body["items"][0]["warehouses"] == [
            {"warehouse_id": msk, "available": "6"},
            {"warehouse_id": spb, "available": "1"},
        ]
        r = await client.get(url, params={"sku": [f"S-{n}" for n in range(501)]}, headers=bearer(buyer_token))
        assert r.status_code == 422, r.text
