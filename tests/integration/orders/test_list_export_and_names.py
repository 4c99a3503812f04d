"""What the order list and the order page name for a person (not ids), and the list as Excel (R-UI-3, R-UI-4)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook

from oms_orders.handlers import listing
from oms_orders.handlers.catalog import apply_warehouse
from oms_shared.contracts import WarehouseUpdatedData, WarehouseUpdatedV1, make_event
from tests.integration.orders.helpers import World, a_world, catalogue, if_match, orders_app, place, register, sign_in
from tests.support.services import running_service


async def name_warehouse(app: object, w: World, warehouse_id: str, name: str) -> None:
    """The warehouse as inventory's ``warehouse.updated`` names it, applied as the consumer would."""
    event = make_event(
        WarehouseUpdatedV1,
        tenant_id=uuid.UUID(w.supplier["account_id"]),
        aggregate_id=warehouse_id,
        data=WarehouseUpdatedData(warehouse_id=uuid.UUID(warehouse_id), code=name[:4].upper(), name=name),
        producer="inventory",
    )
    async with app.state.runtime.db.transaction() as tx:  # type: ignore[attr-defined]
        await apply_warehouse(event, tx)


def sheet_rows(content: bytes) -> list[list[object]]:
    ws = load_workbook(io.BytesIO(content)).active
    assert ws is not None
    return [list(r) for r in ws.iter_rows(values_only=True)]


async def test_the_order_and_its_list_row_name_the_responsible_manager_and_the_warehouses(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-4, R-PF-1, R-PF-3: the order page shows the responsible manager by name and each line's warehouse by
    name; the list row names the responsible too, and the list filters by the responsible employee."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        await name_warehouse(app, w, w.warehouses[0], "Main warehouse")
        await name_warehouse(app, w, w.warehouses[1], "North warehouse")
        placed = await place(client, w)
        assert placed.status_code == 201, placed.text
        assert placed.json()["responsible_user_name"] == "Supplier Co owner"
        url = f"/api/v1/orders/{placed.json()['order_id']}"
        for side in (w.sup, w.buy):
            order = (await client.get(url, headers=side)).json()
            assert order["responsible_user_name"] == "Supplier Co owner"
            assert {x["sku"]: x["warehouse_name"] for x in order["lines"]} == {
                "A-1": "Main warehouse",
                "B-2": "North warehouse",
            }
        rows = (await client.get("/api/v1/orders", headers=w.sup)).json()["items"]
        assert [r["responsible_user_name"] for r in rows] == ["Supplier Co owner"]
        mine = {"responsible_user_id": w.supplier["user_id"]}
        assert (await client.get("/api/v1/orders", headers=w.sup, params=mine)).json()["total"] == 1
        nobody = {"responsible_user_id": str(uuid.uuid4())}
        assert (await client.get("/api/v1/orders", headers=w.sup, params=nobody)).json()["items"] == []


async def test_the_excel_export_holds_exactly_the_orders_the_list_shows(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-UI-3, R-LS-1: the export honours the list's filters and sort, names buyer, status and responsible in the
    language asked for, gives money as numbers; too many matching orders are refused with a clear 422. The list
    itself sums its money columns over every matching order."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        placed = []
        for quantity in (1, 2, 3):
            r = await place(client, w, lines=[{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": quantity}])
            assert r.status_code == 201, r.text
            placed.append(r.json())
        r = await client.post(
            f"/api/v1/orders/{placed[1]['order_id']}/transitions",
            headers={**w.sup, **if_match(placed[1])},
            json={"to": "confirmed"},
        )
        assert r.status_code == 200, r.text

        r = await client.get("/api/v1/orders/export.xlsx", headers=w.sup, params={"sort": "total", "lang": "en"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
        rows = sheet_rows(r.content)
        header = rows[0]
        assert header[:3] == ["Number", "Created", "Buyer"]
        numbers = [row[header.index("Number")] for row in rows[1:]]
        listed = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": "total"})).json()["items"]
        assert numbers == [x["number"] for x in listed] == ["1001", "1002", "1003"]
        # The list sums its money columns over every matching order, not just the page.
        one = (await client.get("/api/v1/orders", headers=w.sup, params={"limit": 1})).json()
        assert one["sums"] == [{"currency": "RUB", "total": "63", "paid_amount": "0"}]
        confirmed = (await client.get("/api/v1/orders", headers=w.sup, params={"status": "confirmed"})).json()
        assert confirmed["sums"] == [{"currency": "RUB", "total": "21", "paid_amount": "0"}]
        first = dict(zip(header, rows[1], strict=True))
        assert (first["Buyer"], first["Status"], first["Responsible"]) == ("Buyer LLC", "New", "Supplier Co owner")
        assert first["Total"] == 10.5 and first["Currency"] == "RUB"

        r = await client.get("/api/v1/orders/export.xlsx", headers=w.buy, params={"status": "confirmed"})
        assert r.status_code == 200, r.text
        rows = sheet_rows(r.content)
        assert rows[0][0] == "Номер"  # Russian unless asked otherwise
        assert [(row[0], row[5]) for row in rows[1:]] == [("1002", "Подтвержден")]

        r = await client.get("/api/v1/orders/export.xlsx", headers=w.sup, params={"status": "shipped"})
        assert r.status_code == 200 and sheet_rows(r.content)[1:] == []
        r = await client.get("/api/v1/orders/export.xlsx", headers=w.sup, params={"sort": "colour"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_sort")

        monkeypatch.setattr(listing, "EXPORT_MAX_ROWS", 2)
        r = await client.get("/api/v1/orders/export.xlsx", headers=w.sup)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "export_too_large"
        assert r.json()["error"]["details"] == {"max_rows": 2}


async def test_the_buyers_catalogue_pages_and_searches_a_price_list_by_name_or_sku(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-2, R-STK-2: a buyer reads a price list open to it a page at a time, each line with product name, SKU,
    unit, price and VAT rate, with the list's currency, VAT mode and warehouses by name; ``q`` finds lines by name
    (any case, "ё" as "е", Cyrillic too) or SKU; a list not open to the caller is unknown (404)."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        await name_warehouse(app, w, w.warehouses[0], "Main warehouse")
        url = f"/api/v1/price-lists/{w.price_list_id}/items"
        r = await client.get(url, headers=w.buy, params={"limit": 2})
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["total"], page["limit"], page["offset"]) == (3, 2, 0)
        assert page["items"] == [
            {"sku": "A-1", "name": "Bolt", "unit": "pcs", "price": "10.5", "vat_rate": "20"},
            {"sku": "B-2", "name": "Nut", "unit": "kg", "price": "2", "vat_rate": "20"},
        ]
        assert (page["name"], page["supplier_name"], page["currency"], page["vat_mode"]) == (
            "Wholesale",
            "Supplier Co",
            "RUB",
            "included",
        )
        assert page["warehouses"] == [
            {"warehouse_id": w.warehouses[0], "name": "Main warehouse"},
            {"warehouse_id": w.warehouses[1], "name": ""},  # not known here yet
        ]
        rest = (await client.get(url, headers=w.buy, params={"limit": 2, "offset": 2})).json()
        assert [i["sku"] for i in rest["items"]] == ["C-3"] and rest["total"] == 3

        async def found(q: str) -> list[str]:
            r = await client.get(url, headers=w.buy, params={"q": q})
            assert r.status_code == 200, r.text
            assert r.json()["total"] == len(r.json()["items"])
            return [i["sku"] for i in r.json()["items"]]

        assert await found("WASH") == ["C-3"]
        assert await found("b-2") == ["B-2"]
        assert await found("nothing like it") == []

        # A line named in Cyrillic, found whatever the case and the "ё".
        await catalogue(client, w.supplier["account_id"], [("D-4", "Шайба Ёлочная", "pcs")])
        r = await client.post(
            "/api/v1/price-lists",
            headers=w.sup,
            json={
                "name": "Retail",
                "warehouse_ids": w.warehouses,
                "items": [
                    {"sku": "D-4", "price": "3", "vat_rate": "10"},
                    {"sku": "A-1", "price": "12", "vat_rate": "20"},
                ],
                "buyer_ids": [w.buyer_id],
            },
        )
        assert r.status_code == 201, r.text
        retail = f"/api/v1/price-lists/{r.json()['price_list_id']}/items"
        r = await client.get(retail, headers=w.buy, params={"q": "ЕЛОЧН"})
        assert [(i["sku"], i["name"], i["vat_rate"]) for i in r.json()["items"]] == [("D-4", "Шайба Ёлочная", "10")]

        stranger = await register(client, "buyer", "Stranger LLC")
        r = await client.get(url, headers=await sign_in(client, stranger["email"]))
        assert (r.status_code, r.json()["error"]["code"]) == (404, "price_list_not_found")


async def test_an_order_page_lists_its_parts_and_a_part_names_its_order(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-4, R-SPL-1, R-ED-2: an order shows its parts by number, status and total (no call per part), and a
    part shows the number of the order it belongs to."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        lines = [
            {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 1},
            {"sku": "C-3", "warehouse_id": w.warehouses[1], "quantity": 3},
        ]
        order = (await place(client, w, lines=lines)).json()
        c3 = order["lines"][1]["line_id"]
        r = await client.post(
            f"/api/v1/orders/{order['order_id']}/parts", headers={**w.sup, **if_match(order)}, json={"line_ids": [c3]}
        )
        assert r.status_code == 201, r.text
        part = r.json()
        assert (part["parent_order_id"], part["parent_order_number"], part["parts"]) == (order["order_id"], "1001", [])
        for side in (w.sup, w.buy):
            source = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=side)).json()
            assert source["parent_order_number"] is None
            assert source["parts"] == [
                {"order_id": part["order_id"], "number": "1001-1", "status": "new", "total": "3.75", "currency": "RUB"}
            ]
