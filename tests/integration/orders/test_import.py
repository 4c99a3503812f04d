"""Excel import by a manager (R-IN-3): template, every row validated, all or nothing, then the approval loop."""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from oms_shared.contracts import WarehouseUpdatedData, WarehouseUpdatedV1, make_event
from tests.integration.orders.helpers import a_world, if_match, orders_app, publish
from tests.support.services import eventually, running_service


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def test_manager_imports_an_order_from_excel_and_the_buyer_agrees(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-IN-3: good rows become an order in Editing; each bad row is listed with its reason; nothing half-imported."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        for warehouse_id, code, name in ((w.warehouses[0], "MAIN", "Main"), (w.warehouses[1], "SOUTH", "South")):
            await publish(
                kafka,
                make_event(
                    WarehouseUpdatedV1,
                    tenant_id=uuid.UUID(w.supplier["account_id"]),
                    aggregate_id=warehouse_id,
                    data=WarehouseUpdatedData(warehouse_id=uuid.UUID(warehouse_id), code=code, name=name),
                ),
            )

        async def replicated() -> None:
            pl = (await client.get(f"/api/v1/price-lists/{w.price_list_id}", headers=w.sup)).json()
            assert [x["name"] for x in pl["warehouses"]] == ["Main", "South"]

        await eventually(replicated, timeout=15)

        r = await client.get("/api/v1/imports/template.xlsx")
        assert r.status_code == 200
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None and [c.value for c in sheet[1]] == ["Артикул", "Склад", "Количество"]
        r = await client.get("/api/v1/imports/template.xlsx", headers={"Accept-Language": "en-GB,en;q=0.9"})
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None and [c.value for c in sheet[1]] == ["SKU", "Warehouse", "Quantity"]

        async def send(content: bytes, name: str = "order.xlsx") -> Any:
            return await client.post(
                "/api/v1/orders/import",
                headers=w.sup,
                data={"buyer_id": w.buyer_id, "price_list_id": w.price_list_id},
                files={"file": (name, content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")},
            )

        header = ["SKU", "Warehouse", "Quantity"]
        bad_rows = [
            header,
            ["A-1", "MAIN", 5],
            ["ZZZ", "MAIN", 1],  # unknown SKU
            ["B-2", "MAIN", "ten"],  # text in quantity
            ["B-2", "SOUTH", -3],  # negative
            ["C-3", "NORTH", 2],  # unknown warehouse
            ["A-1", "MAIN", 1],  # duplicate of row 2
            ["C-3", "SOUTH", 0],  # zero
            ["A-1", "SOUTH", 1.5],  # a fraction of a unit counted in pieces
            ["C-3", "MAIN", "0.0004"],  # finer than the quantity scale (thousandths)
        ]
        r = await send(xlsx(bad_rows))
        assert r.status_code == 422, r.text
        details = r.json()["error"]["details"]
        assert [d["row"] for d in details] == [3, 4, 5, 6, 7, 8, 9, 10]
        assert "counted whole" in details[6]["reasons"][0] and "3 decimal places" in details[7]["reasons"][0]
        assert "not in this price list" in details[0]["reasons"][0]
        assert "not a number" in details[1]["reasons"][0]
        assert "unknown" in details[3]["reasons"][0]
        assert "twice" in details[4]["reasons"][0]
        for content, code in (
            (xlsx([["Article", "Qty"], ["A-1", 1]]), "invalid_import"),  # wrong columns
            (b"this is not a spreadsheet at all", "not_a_spreadsheet"),
            (xlsx([header] + [[f"A-{n}", "MAIN", 1] for n in range(10_000)]), "too_many_rows"),
        ):
            r = await send(content)
            assert r.status_code == 422 and r.json()["error"]["code"] == code, r.text
        assert (await client.get("/api/v1/orders", headers=w.sup)).json()["total"] == 0  # all or nothing

        r = await send(xlsx([header, ["A-1", "MAIN", 5], ["B-2", "south", "2.5"], ["C-3", w.warehouses[1], 4]]))
        assert r.status_code == 201, r.text
        order = r.json()
        assert order["status"] == "editing" and order["history"][0]["by_side"] == "supplier"
        assert [(x["sku"], x["quantity"]) for x in order["lines"]] == [("A-1", "5"), ("B-2", "2.5"), ("C-3", "4")]
        # A buyer cannot import; another supplier's buyer id is refused.
        r = await client.post(
            "/api/v1/orders/import",
            headers=w.buy,
            data={"buyer_id": w.buyer_id, "price_list_id": w.price_list_id},
            files={"file": ("o.xlsx", xlsx([header, ["A-1", "MAIN", 1]]), "application/octet-stream")},
        )
        assert r.status_code == 403
        # The manager sends it to the buyer; the buyer agrees.
        url = f"/api/v1/orders/{order['order_id']}/transitions"
        r = await client.post(url, headers={**w.sup, **if_match(order)}, json={"to": "awaiting_approval"})
        assert r.status_code == 200
        r = await client.post(url, headers=w.buy, json={"to": "agreed"})
        assert r.status_code == 200 and r.json()["status"] == "agreed"


async def test_the_template_of_a_price_list_lists_its_products_and_warehouses_in_the_users_language(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-IN-3: a manager downloads the template of the chosen price list — its SKUs, names, units and prices, a
    quantity column per warehouse of the list, headers in the user's language (their profile's locale, or the one
    asked for); filled in, it imports as an order with a line per filled cell. A buyer gets no template."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        for warehouse_id, code, name in ((w.warehouses[0], "MAIN", "Москва"), (w.warehouses[1], "SPB", "Петербург")):
            await publish(
                kafka,
                make_event(
                    WarehouseUpdatedV1,
                    tenant_id=uuid.UUID(w.supplier["account_id"]),
                    aggregate_id=warehouse_id,
                    data=WarehouseUpdatedData(warehouse_id=uuid.UUID(warehouse_id), code=code, name=name),
                ),
            )

        async def replicated() -> None:
            pl = (await client.get(f"/api/v1/price-lists/{w.price_list_id}", headers=w.sup)).json()
            assert [x["name"] for x in pl["warehouses"]] == ["Москва", "Петербург"]

        await eventually(replicated, timeout=15)
        url = f"/api/v1/price-lists/{w.price_list_id}/import-template.xlsx"
        r = await client.get(url, headers=w.sup)
        assert r.status_code == 200, r.text
        sheet = load_workbook(io.BytesIO(r.content)).active
        assert sheet is not None
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
        assert rows == [
            ["Артикул", "Наименование", "Ед. изм.", "Цена", "Москва [MAIN]", "Петербург [SPB]"],
            ["A-1", "Bolt", "pcs", 10.5, None, None],
            ["B-2", "Nut", "kg", 2, None, None],
            ["C-3", "Washer", "pcs", 1.25, None, None],
        ]
        # The user's own language: their profile says English.
        r = await client.patch(f"/api/v1/users/{w.supplier['user_id']}", headers=w.sup, json={"locale": "en"})
        assert r.status_code == 200, r.text
        english = load_workbook(io.BytesIO((await client.get(url, headers=w.sup)).content)).active
        assert english is not None and [c.value for c in english[1]][:4] == ["SKU", "Name", "Unit", "Price"]
        asked = load_workbook(io.BytesIO((await client.get(url, headers=w.sup, params={"lang": "ru"})).content)).active
        assert asked is not None and asked["A1"].value == "Артикул"
        assert (await client.get(url, headers=w.buy)).status_code == 403

        rows[1][4], rows[1][5], rows[3][5] = 5, 2, 10  # 5 in Moscow and 2 in St Petersburg; C-3: 10 there
        r = await client.post(
            "/api/v1/orders/import",
            headers=w.sup,
            data={"buyer_id": w.buyer_id, "price_list_id": w.price_list_id},
            files={
                "file": ("order.xlsx", xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            },
        )
        assert r.status_code == 201, r.text
        lines = [(x["sku"], x["name"], x["warehouse_id"], x["quantity"]) for x in r.json()["lines"]]
        assert lines == [
            ("A-1", "Bolt", w.warehouses[0], "5"),
            ("A-1", "Bolt", w.warehouses[1], "2"),
            ("C-3", "Washer", w.warehouses[1], "10"),
        ]
        rows[2][4] = "много"  # a bad cell is reported with its sheet row
        r = await client.post(
            "/api/v1/orders/import",
            headers=w.sup,
            data={"buyer_id": w.buyer_id, "price_list_id": w.price_list_id},
            files={
                "file": ("order.xlsx", xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
            },
        )
        assert r.status_code == 422, r.text
        assert [d["row"] for d in r.json()["error"]["details"]] == [3]
