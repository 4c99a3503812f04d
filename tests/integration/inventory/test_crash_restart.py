"""An inventory process killed mid-batch and restarted: no reserve lost or doubled, ledger equals projection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from oms_devstack.procs import free_port
from oms_shared.contracts import OrderStatus
from oms_shared.topics import RESERVE_UPDATED
from tests.integration.inventory.helpers import TopicReader, a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, token_for

ORDERS = 40


@contextmanager
def inventory_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oms_inventory.main"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_a_killed_process_resumes_without_losing_or_doubling_reserves(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-RSV-2: kill -9 in the middle of a burst of confirmations, restart: every order is answered, every
    reserve is counted once, and the reserved projection equals the ledger."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    h = bearer(token)
    port = free_port()
    env = {
        **os.environ,
        "OMS_INVENTORY_DATABASE_URL": database_url,
        "OMS_INVENTORY_KAFKA_BOOTSTRAP": kafka,
        "OMS_INVENTORY_HTTP_PORT": str(port),
        "OMS_INVENTORY_CONSUMER_GROUP": str(service_env["consumer_group"]),
        "OMS_INVENTORY_JWT_PUBLIC_KEY_FILE": str(keys[1]),
        "OMS_INVENTORY_OUTBOX_POLL_INTERVAL_S": "0.1",
        "OMS_INVENTORY_LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "inventory.log"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

        async def ready() -> None:
            try:
                r = await client.get("/ready")
            except httpx.TransportError as exc:
                raise AssertionError(f"not up yet: {exc}") from exc
            assert r.status_code == 200, r.text

        async with TopicReader(kafka, RESERVE_UPDATED) as reserves:
            with inventory_process(env, log) as proc:
                await eventually(ready, timeout=30)
                wid = await setup_catalogue(client, token, {"S": "30", "T": "1000"})
                lines = {
                    o: [a_line("S", wid, "1"), a_line("T", wid, "2")] for o in (uuid.uuid4() for _ in range(ORDERS))
                }
                await send(kafka, *(status_event(tenant, o, OrderStatus.CONFIRMED, ls) for o, ls in lines.items()))

                async def some_answered() -> None:
                    assert any(m["data"]["reason"] == "reserved" for m, _ in await reserves.poll())

                await eventually(some_answered, timeout=20)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            with inventory_process(env, log):
                await eventually(ready, timeout=30)

                async def all_answered() -> None:
                    answered = {
                        m["aggregate_id"] for m, _ in await reserves.poll() if m["data"]["reason"] == "reserved"
                    }
                    assert answered >= {str(o) for o in lines}, f"{len(answered)} of {ORDERS}"

                await eventually(all_answered, timeout=40)
                s = await stock_of(client, token, wid, "S")
                t = await stock_of(client, token, wid, "T")
                assert (s["reserved"], t["reserved"]) == ("30", str(2 * ORDERS)), (s, t)
                for sku, item in (("S", s), ("T", t)):
                    r = await client.get("/api/v1/stock/reserves", params={"warehouse_id": wid, "sku": sku}, headers=h)
                    held = sum(Decimal(x["reserved"]) for x in r.json()["holders"])
                    assert held == Decimal(item["reserved"])
                assert (await client.get("/api/v1/reserves/drift", headers=h)).json()["total"] == 0
