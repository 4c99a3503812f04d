"""Helpers of the catalog-channel tests: the app, a scripted 1C, warehouses from events, the stock topic."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from oms_erp_bridge.app import create_app
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import ErpStockImportedV1, WarehouseUpdatedData, WarehouseUpdatedV1, make_event
from tests.support.kafka import send_event, started_producer
from tests.support.services import WAIT_SCALE, bearer, eventually

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "erp"
LOGIN, PASSWORD = "onec-catalog", "s3cret-exchange"


def sample(prefix: str) -> bytes:
    """The bytes of a sample file in tests/fixtures/erp by its number (``"09"``)."""
    (path,) = FIXTURES.glob(f"{prefix}_*.xml")
    return path.read_bytes()


def catalog_app(database_url: str, tmp_path: Path, service_env: dict[str, object], **settings: Any) -> FastAPI:
    return create_app(
        Settings(database_url=database_url, files_dir=str(tmp_path / "erp"), **service_env, **settings)  # type: ignore[arg-type]
    )


async def connect(client: httpx.AsyncClient, token: str, login: str = LOGIN) -> None:
    """The supplier sets the login and password 1C will use."""
    r = await client.put("/api/v1/erp/connection", json={"login": login, "password": PASSWORD}, headers=bearer(token))
    assert r.status_code == 200, r.text


async def add_warehouses(bootstrap: str, tenant: uuid.UUID, *rows: tuple[str, str]) -> list[str]:
    """Publish ``warehouse.updated`` for new warehouses (code, name), as inventory does; returns their ids."""
    ids = [uuid.uuid4() for _ in rows]
    producer = await started_producer(bootstrap)
    try:
        for warehouse_id, (code, name) in zip(ids, rows, strict=True):
            data = WarehouseUpdatedData(warehouse_id=warehouse_id, code=code, name=name)
            event = make_event(WarehouseUpdatedV1, tenant_id=tenant, aggregate_id=str(warehouse_id), data=data)
            await send_event(producer, event)
    finally:
        await producer.stop()
    return [str(i) for i in ids]


async def wait_warehouses(client: httpx.AsyncClient, token: str, count: int) -> list[dict[str, Any]]:
    """The bridge's warehouses once ``count`` of them arrived from the events."""

    async def arrived() -> list[dict[str, Any]]:
        r = await client.get("/api/v1/erp/warehouses", headers=bearer(token))
        assert r.status_code == 200, r.text
        assert r.json()["total"] == count, r.json()
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    result: list[dict[str, Any]] = await eventually(arrived)
    return result


async def stock_events(bootstrap: str, expect: int, settle: float = 1.0) -> list[dict[str, Any]]:
    """The ``erp.stock_imported`` events on the broker: waits for ``expect`` of them, then ``settle`` seconds more
    so that an unexpected extra one shows (partitions are read in no particular order)."""
    consumer = AIOKafkaConsumer(
        ErpStockImportedV1.TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20 * WAIT_SCALE
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            found += [json.loads(r.value) for records in batch.values() for r in records]
            if len(found) >= expect:
                deadline = min(deadline, loop.time() + settle)
    finally:
        await consumer.stop()
    return found


def items_of(events: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(warehouse_id, sku) → item, over all events given."""
    return {(i["warehouse_id"], i["sku"]): i for e in events for i in e["data"]["items"]}


class OneC:
    """Plays 1C:UT's side of the catalog exchange over HTTP, as it does it: plain text, a cookie per session."""

    def __init__(self, client: httpx.AsyncClient, login: str = LOGIN, password: str = PASSWORD) -> None:
        self.client = client
        self.basic = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
        self.cookie = ""

    async def call(self, mode: str, content: bytes | None = None, **params: str) -> list[str]:
        """One call; the answer's lines (HTTP 200 always)."""
        headers = {"Authorization": self.basic} if mode == "checkauth" else {"Cookie": f"oms_exchange={self.cookie}"}
        query = {"type": "catalog", "mode": mode, **params}
        if content is None:
            r = await self.client.get("/exchange/1c", params=query, headers=headers)
        else:
            r = await self.client.post("/exchange/1c", params=query, content=content, headers=headers)
        assert r.status_code == 200, r.text
        return r.text.split("\n")

    async def start(self) -> None:
        """checkauth, then init."""
        answer = await self.call("checkauth")
        assert answer[:2] == ["success", "oms_exchange"], answer
        self.cookie = answer[2]
        answer = await self.call("init")
        assert answer[0] == "zip=no" and answer[1].startswith("file_limit="), answer

    async def send(self, filename: str, data: bytes, pieces: int = 1) -> None:
        """``mode=file`` in ``pieces`` POSTs of the same name (the bridge appends them)."""
        size = -(-len(data) // pieces)
        for start in range(0, len(data), size):
            answer = await self.call("file", data[start : start + size], filename=filename)
            assert answer[0] == "success", answer

    async def import_file(self, filename: str, max_calls: int = 50) -> list[list[str]]:
        """``mode=import`` repeated while the answer is ``progress``; every answer."""
        answers = []
        for _ in range(max_calls):
            answers.append(await self.call("import", filename=filename))
            if answers[-1][0] != "progress":
                return answers
        raise AssertionError(f"still progress after {max_calls} calls: {answers[-3:]}")
