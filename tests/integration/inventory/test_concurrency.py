"""Many confirmations racing for scarce stock, consumed by two inventory instances in one consumer group."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from oms_shared.contracts import OrderStatus
from oms_shared.topics import RESERVE_UPDATED
from tests.integration.inventory.helpers import TopicReader, a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, running_service, token_for

ORDERS = 24


def processed(metrics: str) -> float:
    for line in metrics.splitlines():
        if line.startswith("oms_consumer_events_total{") and 'event_type="order.status_changed"' in line:
            if 'outcome="processed"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_two_instances_never_reserve_more_than_on_hand_and_answer_every_order(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-RSV-2, R-RSV-1: N concurrent confirmations competing for the same scarce items, consumed by two
    inventory instances in one consumer group sharing one database: reserved never exceeds on hand, the
    scarce stock is fully used, every order gets a definite reserve.updated, ledger and projection agree."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    env = {**service_env, "consumer_max_attempts": 10}
    first = create_app(Settings(database_url=database_url, **env))
    second = create_app(Settings(database_url=database_url, **env))
    async with running_service(first) as client:
        wid = await setup_catalogue(client, token, {"S": "10", "T": "5"})
        async with running_service(second) as client2, TopicReader(kafka, RESERVE_UPDATED) as reserves:
            orders = [uuid.uuid4() for _ in range(ORDERS)]
            events = [
                status_event(tenant, o, OrderStatus.CONFIRMED, [a_line("S", wid, "2"), a_line("T", wid, "1.5")])
                for o in orders
            ]
            await asyncio.gather(*(send(kafka, e) for e in events))

            async def all_answered() -> dict[str, dict[str, Any]]:
                answers = {m["aggregate_id"]: m for m, _ in await reserves.poll() if m["data"]["reason"] == "reserved"}
                assert len(answers) == ORDERS, f"{len(answers)} of {ORDERS} answered"
                return answers

            answers = await eventually(all_answered, timeout=60)
            per_sku: dict[str, Decimal] = {"S": Decimal(0), "T": Decimal(0)}
            for m in answers.values():
                for line in m["data"]["lines"]:
                    per_sku[line["sku"]] += Decimal(line["reserved"])
                    assert Decimal(line["reserved"]) + Decimal(line["shortage"]) == Decimal(line["requested"])
            assert per_sku == {"S": Decimal(10), "T": Decimal(5)}
            assert sum(1 for m in answers.values() if m["data"]["fully_reserved"]) <= 5
            for sku, on_hand in (("S", "10"), ("T", "5")):
                item = await stock_of(client2, token, wid, sku)
                assert (item["on_hand"], item["reserved"], item["available"]) == (on_hand, on_hand, "0")
            counts = [processed((await c.get("/metrics")).text) for c in (client, client2)]
            assert sum(counts) == ORDERS and all(n > 0 for n in counts), counts
            assert (await client.get("/api/v1/reserves/drift", headers=bearer(token))).json()["total"] == 0
