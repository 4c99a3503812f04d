"""Idempotency-Key after a crash: a service killed mid-request never leaves a key stuck or an effect doubled.

The orders service runs as a process on PostgreSQL; the test holds row and table locks with its own connection
to stop the request at the moment it wants, kills the process with SIGKILL there, starts it again and retries.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.orders.helpers import World, a_world
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.processes import ServiceProcess
from tests.support.services import eventually

pytestmark = needs_postgres

LEASE_S = 3


@pytest.fixture
async def orders_on_postgres(
    kafka: str, keys: tuple[Path, Path], tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, str, str]]:
    async with fresh_postgres_databases(1) as urls:
        service = ServiceProcess(
            "orders",
            tmp_path / "var",
            {
                "OMS_KAFKA_BOOTSTRAP": kafka,
                "OMS_JWT_PUBLIC_KEY_FILE": str(keys[1]),
                "OMS_ORDERS_JWT_PRIVATE_KEY_FILE": str(keys[0]),
                "OMS_ORDERS_DATABASE_URL": urls[0],
                "OMS_ORDERS_IDEMPOTENCY_LEASE_S": str(LEASE_S),
                "OMS_LOG_LEVEL": "WARNING",
            },
        )
        await asyncio.to_thread(service.start)
        try:
            yield service, urls[0].replace("postgresql+asyncpg://", "postgresql://"), kafka
        finally:
            await asyncio.to_thread(service.stop)


def order_body(world: World) -> dict[str, Any]:
    return {
        "price_list_id": world.price_list_id,
        "lines": [{"sku": "A-1", "warehouse_id": world.warehouses[0], "quantity": 2}],
    }


async def waiting_locks(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))


async def orders_of(conn: asyncpg.Connection, world: World) -> list[str]:
    rows = await conn.fetch("SELECT id FROM orders WHERE supplier_id = $1", world.supplier["account_id"])
    return [str(r["id"]) for r in rows]


async def send_in_background(url: str, headers: dict[str, str], body: dict[str, Any]) -> asyncio.Task[Any]:
    async def send() -> Any:
        async with httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as client:
            try:
                return await client.post("/api/v1/orders", headers=headers, json=body)
            except httpx.HTTPError as exc:  # the process was killed under the request
                return exc

    return asyncio.create_task(send())


async def test_a_placement_killed_inside_its_transaction_is_placed_once_by_the_retry(
    orders_on_postgres: tuple[ServiceProcess, str, str],
) -> None:
    """R-IN-1: the process dies while the order's transaction waits (nothing committed); the retry with the same
    Idempotency-Key answers 409 with Retry-After while the dead claim's lease runs, then places the order —
    exactly one order, and the retries after that replay it."""
    service, pg_url, kafka = orders_on_postgres
    async with httpx.AsyncClient(base_url=service.url, timeout=30, trust_env=False) as client:
        world = await a_world(client, kafka=kafka)
    headers = {**world.buy, "Idempotency-Key": f"place-{uuid.uuid4()}"}
    body = order_body(world)
    locker = await asyncpg.connect(pg_url)
    watcher = await asyncpg.connect(pg_url)
    try:
        tx = locker.transaction()
        await tx.start()
        await locker.execute("LOCK TABLE orders IN EXCLUSIVE MODE")  # reads go on, the order's INSERT waits
        request = await send_in_background(service.url, headers, body)
        await eventually(lambda: waiting_locks(watcher), timeout=30)
        await asyncio.to_thread(service.kill)
        await tx.rollback()
        assert isinstance(await request, httpx.HTTPError)
        await asyncio.to_thread(service.start)
        async with httpx.AsyncClient(base_url=service.url, timeout=30, trust_env=False) as client:
            early = await client.post("/api/v1/orders", headers=headers, json=body)
            if early.status_code == 409:  # the dead claim's lease has not run out yet
                assert early.json()["error"]["code"] == "request_in_progress"
                assert 1 <= int(early.headers["retry-after"]) <= LEASE_S

            async def retried() -> httpx.Response:
                r = await client.post("/api/v1/orders", headers=headers, json=body)
                assert r.status_code == 201, r.text
                return r

            placed = await eventually(retried, timeout=LEASE_S + 20, interval=0.5)
            again = await client.post("/api/v1/orders", headers=headers, json=body)
            assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
            assert again.json()["order_id"] == placed.json()["order_id"]
        assert await orders_of(watcher, world) == [placed.json()["order_id"]]
    finally:
        await locker.close()
        await watcher.close()


async def test_an_order_committed_before_the_kill_is_not_placed_again_and_the_retry_gets_it(
    orders_on_postgres: tuple[ServiceProcess, str, str],
) -> None:
    """R-IN-1: the order commits, then the process dies before the key's answer is saved (the test holds that
    write back); the retry with the same Idempotency-Key gets the order that was placed — no second order, no
    permanent 409 — and so does every retry after it."""
    service, pg_url, kafka = orders_on_postgres
    async with httpx.AsyncClient(base_url=service.url, timeout=30, trust_env=False) as client:
        world = await a_world(client, kafka=kafka)
    key = f"place-{uuid.uuid4()}"
    headers = {**world.buy, "Idempotency-Key": key}
    body = order_body(world)
    locker = await asyncpg.connect(pg_url)
    sharer = await asyncpg.connect(pg_url)
    watcher = await asyncpg.connect(pg_url)
    try:
        lock = locker.transaction()
        await lock.start()
        await locker.execute("LOCK TABLE orders IN EXCLUSIVE MODE")
        request = await send_in_background(service.url, headers, body)
        await eventually(lambda: waiting_locks(watcher), timeout=30)
        # The claim is committed; share-lock its row so that the answer's final write waits for us.
        share = sharer.transaction()
        await share.start()
        held = await sharer.fetch("SELECT key FROM idempotency_keys WHERE key = $1 FOR SHARE", key)
        assert len(held) == 1
        await lock.rollback()  # the order's transaction goes on and commits

        async def committed_and_stuck() -> bool:
            return len(await orders_of(watcher, world)) == 1 and await waiting_locks(watcher) > 0

        await eventually(committed_and_stuck, timeout=30)
        await asyncio.to_thread(service.kill)
        await share.rollback()
        await request
        [order_id] = await orders_of(watcher, world)
        assert await watcher.fetchval("SELECT status_code FROM idempotency_keys WHERE key = $1", key) is None
        await asyncio.to_thread(service.start)
        async with httpx.AsyncClient(base_url=service.url, timeout=30, trust_env=False) as client:
            retry = await client.post("/api/v1/orders", headers=headers, json=body)
            assert retry.status_code == 201, retry.text
            assert retry.headers["idempotent-replayed"] == "true"
            assert retry.json()["order_id"] == order_id
            assert retry.json()["lines"][0]["sku"] == "A-1"
            again = await client.post("/api/v1/orders", headers=headers, json=body)
            assert again.status_code == 201 and again.json()["order_id"] == order_id
        assert await orders_of(watcher, world) == [order_id]
    finally:
        for conn in (locker, sharer, watcher):
            await conn.close()
