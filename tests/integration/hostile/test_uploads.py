"""Hostile spreadsheets sent to the two upload routes (stock in inventory, order import in orders): each is
refused quickly with a clear 4xx in the error shape, nothing is changed, and the service answers other requests
while it reads a big honest file."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from oms_inventory.app import create_app as inventory_app
from oms_inventory.settings import Settings as InventorySettings
from oms_shared.contracts import WarehouseUpdatedData, WarehouseUpdatedV1, make_event
from tests.integration.inventory.helpers import setup_catalogue, stock_of
from tests.integration.orders.helpers import a_world, orders_app, publish
from tests.support import hostile_files as h
from tests.support.services import WAIT_SCALE, bearer, eventually, running_service, token_for

QUICK = 10.0 * WAIT_SCALE  # seconds, generous for a loaded CI machine: the unbounded reads took hours, the bomb 256 MiB

STOCK = [["warehouse_code", "sku", "on_hand"], ["MAIN", "A", 99]]
ORDER = [["SKU", "Warehouse", "Quantity"], ["A-1", "MAIN", 5]]


def hostile(rows: list[list[Any]], wide_row: list[Any]) -> list[tuple[str, bytes, int, str]]:
    """(what, file, status, error code) for every kind of hostile spreadsheet."""
    return [
        ("rows to the last row of Excel", h.far_cells(rows), 422, "too_many_rows"),
        ("a valid sheet padded with 256 MiB", h.padded(rows, 256), 413, "upload_too_large"),
        ("an entry compressed like a bomb", h.padded(rows, 8), 422, "suspicious_compression"),
        ("too many rows", h.xlsx([rows[0], *([rows[1]] * 10_001)]), 422, "too_many_rows"),
        ("too many columns", h.xlsx([rows[0], wide_row + list(range(60))]), 422, "too_many_columns"),
        ("not a zip", b"PK but not really a zip archive", 422, "not_a_spreadsheet"),
        ("a truncated zip", h.truncated(rows), 422, "not_a_spreadsheet"),
        ("XML entities", h.with_entity(rows), 422, "xml_entities_forbidden"),
        ("too many entries", h.many_entries(rows, 200), 422, "too_many_entries"),
    ]


async def refuses(send: Any, what: str, content: bytes, status: int, code: str) -> None:
    started = time.monotonic()
    r = await send(content)
    elapsed = time.monotonic() - started
    assert r.status_code == status, (what, r.text)
    assert r.json()["error"]["code"] == code, (what, r.text)
    assert r.json()["error"]["message"], what
    assert elapsed < QUICK, (what, elapsed)


async def test_hostile_stock_uploads_are_refused_quickly_and_set_no_stock(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-1: a stock file that lies about its size, unpacks to a bomb or is broken sets nothing."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    app = inventory_app(InventorySettings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"A": "7"})

        async def send(content: bytes) -> httpx.Response:
            files = {"file": ("stock.xlsx", content, "application/octet-stream")}
            return await client.post("/api/v1/stock/upload", files=files, headers=bearer(token))

        lying = h.lying_dimension([*STOCK[:1], ["MAIN", "A", 8]])
        r = await send(lying)  # the <dimension> claims 17 billion cells: the two rows it has are read at once
        assert r.status_code == 200 and r.json()["items"][0]["on_hand"] == "8", r.text
        for what, content, status, code in hostile(STOCK, ["MAIN", "A", 1]):
            await refuses(send, what, content, status, code)
        csv_files = {"file": ("stock.csv", b"warehouse_code,sku,on_hand\n" + b",,\n" * 20_000, "text/csv")}
        r = await client.post("/api/v1/stock/upload", files=csv_files, headers=bearer(token))
        assert r.status_code == 422 and r.json()["error"]["code"] == "too_many_rows", r.text
        assert (await stock_of(client, token, wid, "A"))["on_hand"] == "8"


async def test_inventory_answers_other_requests_while_it_reads_a_big_stock_file(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """The file is read in a worker thread: other calls are answered meanwhile, not after it."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    app = inventory_app(InventorySettings(database_url=database_url, **service_env))
    big = h.xlsx(
        [["warehouse_code", "sku", "on_hand", "name", "unit"]]
        + [["NOPE", f"S-{n}", n, "x" * 40, "pcs"] for n in range(10_000)]
    )
    async with running_service(app) as client:
        await setup_catalogue(client, token, {"A": "7"})
        files = {"file": ("stock.xlsx", big, "application/octet-stream")}
        began = time.monotonic()
        upload = asyncio.create_task(client.post("/api/v1/stock/upload", files=files, headers=bearer(token)))
        waits: list[float] = []  # each: a health check and a 10 ms pause, as another client would make them
        while not upload.done():
            started = time.monotonic()
            assert (await client.get("/health")).status_code == 200
            await asyncio.sleep(0.01)
            waits.append(time.monotonic() - started)
        r = await upload
        took = time.monotonic() - began
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_rows", r.text[:300]
        assert len(waits) >= 3, waits  # the health checks ran during the upload (about 0.6 s of reading) ...
        # ... and none waited for the file to be read: a blocked loop would hold one check for most of the upload
        # (measured against the upload itself, so a busy machine slows both alike).
        assert max(waits) < 0.5 * took, (waits, took)


async def test_hostile_order_imports_are_refused_quickly_and_create_no_order(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-IN-3: an imported sheet that lies about its size, unpacks to a bomb or is broken creates no order."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        await publish(
            kafka,
            make_event(
                WarehouseUpdatedV1,
                tenant_id=uuid.UUID(w.supplier["account_id"]),
                aggregate_id=w.warehouses[0],
                data=WarehouseUpdatedData(warehouse_id=uuid.UUID(w.warehouses[0]), code="MAIN", name="Main"),
            ),
        )

        async def replicated() -> None:
            pl = (await client.get(f"/api/v1/price-lists/{w.price_list_id}", headers=w.sup)).json()
            assert "Main" in [x["name"] for x in pl["warehouses"]]

        await eventually(replicated, timeout=15)

        async def send(content: bytes) -> httpx.Response:
            return await client.post(
                "/api/v1/orders/import",
                headers=w.sup,
                data={"buyer_id": w.buyer_id, "price_list_id": w.price_list_id},
                files={"file": ("order.xlsx", content, "application/octet-stream")},
            )

        for what, content, status, code in hostile(ORDER, ["A-1", "MAIN", 1]):
            await refuses(send, what, content, status, code)
        empty_rows = h.xlsx([ORDER[0], *([[None, None, None]] * 5000), ORDER[1]])  # empty rows count toward the cap
        await refuses(send, "5000 empty rows before the data", empty_rows, 422, "too_many_rows")
        assert (await client.get("/api/v1/orders", headers=w.sup)).json()["total"] == 0
        r = await send(h.lying_dimension(ORDER))
        assert r.status_code == 201 and [x["sku"] for x in r.json()["lines"]] == ["A-1"], r.text
