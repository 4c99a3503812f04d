"""Stock from uploads (CSV, .xlsx) and from the ERP (full snapshot or changes, Integration reserves)."""

from __future__ import annotations

import io
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import sqlalchemy as sa

from oms_inventory.app import create_app
from oms_inventory.db import stock
from oms_inventory.settings import Settings
from oms_shared.contracts import ErpStockImportedData, ErpStockImportedV1, ErpStockItem, OrderStatus, make_event
from oms_shared.topics import RESERVE_UPDATED
from tests.integration.inventory.helpers import TopicReader, a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, running_service, token_for


def xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    sheet = wb.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def erp_event(tenant: uuid.UUID, mode: str, items: list[ErpStockItem]) -> ErpStockImportedV1:
    return make_event(
        ErpStockImportedV1,
        tenant_id=tenant,
        aggregate_id=f"erp-{uuid.uuid4()}",
        producer="erp-bridge",
        data=ErpStockImportedData(mode=mode, items=items),  # type: ignore[arg-type]
    )


async def test_uploads_are_validated_per_row_and_the_erp_sets_stock_and_integration_reserves(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-1, R-RSV-5: CSV/.xlsx uploads apply all rows or none; the ERP's stock and Integration reserves are
    applied (changes or a full snapshot) and, when the ERP reports less stock, the newest order reserve gives way."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    h = bearer(token)
    app = create_app(Settings(database_url=database_url, reconcile_interval_s=0.2, **service_env))
    async with running_service(app) as client, TopicReader(kafka, RESERVE_UPDATED) as reserves:
        wid = await setup_catalogue(client, token, {"A": "1"})

        csv_ok = b"warehouse_code;sku;on_hand;name;unit\nMAIN;A;7\nMAIN;B;2,5;Bolt;kg\n"
        r = await client.post("/api/v1/stock/upload", files={"file": ("stock.csv", csv_ok, "text/csv")}, headers=h)
        assert r.status_code == 200, r.text
        assert {(i["sku"], i["on_hand"]) for i in r.json()["items"]} == {("A", "7"), ("B", "2.5")}

        bad = xlsx([["warehouse_code", "sku", "on_hand"], ["MAIN", "A", 100], ["NOPE", "A", 1], ["MAIN", "ZZZ", -1]])
        r = await client.post(
            "/api/v1/stock/upload", files={"file": ("stock.xlsx", bad, "application/octet-stream")}, headers=h
        )
        assert r.status_code == 422, r.text
        assert {(d["row"], d["code"]) for d in r.json()["error"]["details"]} == {
            (3, "unknown_warehouse"),
            (4, "unknown_sku"),
            (4, "negative_quantity"),
        }
        assert (await stock_of(client, token, wid, "A"))["on_hand"] == "7"
        good = xlsx([["Warehouse_Code", "SKU", "On_Hand"], ["MAIN", "A", 9]])
        r = await client.post(
            "/api/v1/stock/upload", files={"file": ("s.xlsx", good, "application/octet-stream")}, headers=h
        )
        assert r.status_code == 200 and r.json()["items"][0]["on_hand"] == "9"
        r = await client.post("/api/v1/stock/upload", files={"file": ("s.pdf", b"%PDF", "application/pdf")}, headers=h)
        assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_file_type"
        r = await client.post("/api/v1/stock/upload", files={"file": ("s.xlsx", b"junk", "application/pdf")}, headers=h)
        assert r.status_code == 422 and r.json()["error"]["code"] == "not_a_spreadsheet"

        # Lists are for a UI: filter, sort and page on the server.
        r = await client.get("/api/v1/stock", params={"sort": "-on_hand", "limit": 1}, headers=h)
        assert r.json()["total"] == 2 and [i["sku"] for i in r.json()["items"]] == ["A"]
        r = await client.get("/api/v1/stock", params={"q": "bol", "offset": 0}, headers=h)
        assert [i["sku"] for i in r.json()["items"]] == ["B"]
        assert (await client.get("/api/v1/stock", params={"sort": "price"}, headers=h)).json()["error"]["code"] == (
            "invalid_sort"
        )
        r = await client.get("/api/v1/products", params={"sort": "-sku", "limit": 1, "offset": 1}, headers=h)
        assert r.json() == {
            "items": [{"sku": "A", "name": "Product A", "unit": "pcs"}],
            "total": 2,
            "limit": 1,
            "offset": 1,
        }

        # ERP changes: stock and an Integration reserve.
        await send(
            kafka,
            erp_event(
                tenant,
                "changes",
                [
                    ErpStockItem(
                        warehouse_id=uuid.UUID(wid), sku="A", on_hand=Decimal(10), integration_reserved=Decimal(3)
                    ),
                    ErpStockItem(warehouse_id=uuid.uuid4(), sku="A", on_hand=Decimal(5)),
                ],
            ),
        )

        async def a_is(expected: dict[str, str]) -> None:
            item = await stock_of(client, token, wid, "A")
            assert {k: item[k] for k in expected} == expected, item

        await eventually(lambda: a_is({"on_hand": "10", "reserved": "3", "available": "7"}), timeout=15)
        order_id = uuid.uuid4()
        await send(kafka, status_event(tenant, order_id, OrderStatus.CONFIRMED, [a_line("A", wid, "8")]))
        await eventually(lambda: a_is({"reserved": "10", "available": "0"}), timeout=15)
        r = await client.get("/api/v1/stock/reserves", params={"warehouse_id": wid, "sku": "A"}, headers=h)
        assert {(x["kind"], x["reserved"]) for x in r.json()["holders"]} == {("order", "7"), ("integration", "3")}

        # A full snapshot: A shrinks (the order reserve gives way), B is not in it any more.
        await send(
            kafka,
            erp_event(
                tenant,
                "full",
                [
                    ErpStockItem(
                        warehouse_id=uuid.UUID(wid), sku="A", on_hand=Decimal(5), integration_reserved=Decimal(3)
                    ),
                ],
            ),
        )
        await eventually(lambda: a_is({"on_hand": "5", "reserved": "5", "available": "0"}), timeout=15)
        assert (await stock_of(client, token, wid, "B"))["on_hand"] == "0"
        r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=h)
        assert r.json()["lines"][0]["reserved"] == "2" and r.json()["lines"][0]["shortage"] == "6"

        async def adjusted() -> None:
            msgs = [m for m, _ in await reserves.poll() if m["aggregate_id"] == str(order_id)]
            assert [m["data"]["reason"] for m in msgs] == ["reserved", "adjusted"], msgs

        await eventually(adjusted, timeout=15)
        assert (await client.get("/api/v1/reserves/drift", headers=h)).json()["total"] == 0

        # The reconciler notices a projection that no longer matches the ledger.
        async with app.state.runtime.db.transaction() as tx:
            await tx.conn.execute(sa.update(stock).where(stock.c.sku == "A").values(reserved=stock.c.reserved - 1000))
        drift = (await client.get("/api/v1/reserves/drift", headers=h)).json()
        assert [(d["sku"], d["reserved"], d["ledger"]) for d in drift["items"]] == [("A", "4", "5")]

        async def exported() -> None:  # by the reconciler loop, which checks every tenant
            assert "oms_inventory_reserve_drift_items 1.0" in (await client.get("/metrics")).text

        await eventually(exported, timeout=15)

        # Stock from an ERP that does not report reserves (1C's offers) leaves the Integration reserve alone.
        async def b_is(on_hand: str, reserved: str) -> None:
            item = await stock_of(client, token, wid, "B")
            assert (item["on_hand"], item["reserved"]) == (on_hand, reserved), item

        item = ErpStockItem(warehouse_id=uuid.UUID(wid), sku="B", on_hand=Decimal(4), integration_reserved=Decimal(2))
        await send(kafka, erp_event(tenant, "changes", [item]))
        await eventually(lambda: b_is("4", "2"), timeout=15)
        await send(kafka, erp_event(tenant, "changes", [ErpStockItem(warehouse_id=uuid.UUID(wid), sku="B", on_hand=6)]))
        await eventually(lambda: b_is("6", "2"), timeout=15)
