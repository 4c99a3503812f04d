"""Builders for the orders integration tests: accounts, sign-in, buyers, price lists, broker reads."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from oms_orders.app import create_app
from oms_orders.handlers.catalog import apply_product
from oms_orders.settings import Settings
from oms_shared.contracts import Event, ProductUpdatedData, ProductUpdatedV1, make_event, parse_event
from oms_shared.outbox import make_producer
from tests.support.services import WAIT_SCALE, bearer, eventually


def orders_app(database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], **extra: Any) -> Any:
    return create_app(Settings(database_url=database_url, jwt_private_key_file=str(keys[0]), **service_env, **extra))


async def register(client: httpx.AsyncClient, kind: str, name: str, **owner: str) -> dict[str, str]:
    email = owner.get("email") or f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com"
    r = await client.post(
        "/api/v1/accounts",
        json={
            "kind": kind,
            "name": name,
            "inn": "7701234567",
            "owner": {"email": email, "password": "secret-pass-1", "name": f"{name} owner"},
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    body["email"] = email
    return body


async def sign_in(client: httpx.AsyncClient, email: str, password: str = "secret-pass-1") -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["access_token"])


# The products of the world's catalogue: (SKU, name, unit).
CATALOGUE = [("A-1", "Bolt", "pcs"), ("B-2", "Nut", "kg"), ("C-3", "Washer", "pcs")]


async def catalogue(
    client: httpx.AsyncClient, supplier_id: str, items: list[tuple[str, str, str]], kafka: str | None = None
) -> None:
    """Give the orders service the supplier's products as inventory's ``product.updated`` would, so that price
    lists can be built from them: to an in-process service through the handler its consumer runs (one
    transaction), to a service in its own process through the broker (``kafka``; it applies them shortly)."""
    events = [
        make_event(
            ProductUpdatedV1,
            tenant_id=uuid.UUID(supplier_id),
            aggregate_id=sku,
            data=ProductUpdatedData(sku=sku, name=name, unit=unit),
            producer="inventory",
        )
        for sku, name, unit in items
    ]
    app = getattr(client._transport, "app", None)
    if app is None:
        assert kafka, "a service in its own process hears of products through the broker: pass kafka"
        for event in events:
            await publish(kafka, event)
        return
    async with app.state.runtime.db.transaction() as tx:
        for event in events:
            await apply_product(event, tx)


@dataclass
class World:
    """A supplier with a price list over two warehouses and a buyer account that may order from it."""

    supplier: dict[str, str]
    buyer_account: dict[str, str]
    sup: dict[str, str]
    buy: dict[str, str]
    buyer_id: str
    price_list_id: str
    warehouses: list[str] = field(default_factory=list)


async def a_world(client: httpx.AsyncClient, *, auto_confirm: bool = False, kafka: str | None = None) -> World:
    """The world through the API; ``kafka``: the broker of an orders service running in its own process."""
    supplier = await register(client, "supplier", "Supplier Co")
    buyer_account = await register(client, "buyer", "Buyer LLC")
    sup = await sign_in(client, supplier["email"])
    buy = await sign_in(client, buyer_account["email"])
    r = await client.post(
        "/api/v1/buyers",
        headers=sup,
        json={
            "name": "Buyer LLC",
            "inn": "7707654321",
            "buyer_account_id": buyer_account["account_id"],
            "manager_user_ids": [supplier["user_id"]],
        },
    )
    assert r.status_code == 201, r.text
    buyer_id = r.json()["buyer_id"]
    await catalogue(client, supplier["account_id"], CATALOGUE, kafka)
    warehouses = [str(uuid.uuid4()), str(uuid.uuid4())]
    body = {
        "name": "Wholesale",
        "warehouse_ids": warehouses,
        "auto_confirm": auto_confirm,
        "items": [
            {"sku": "A-1", "price": "10.50", "vat_rate": "20"},
            {"sku": "B-2", "price": "2", "vat_rate": "20"},
            {"sku": "C-3", "price": "1.25", "vat_rate": "20"},
        ],
        "buyer_ids": [buyer_id],
    }

    async def created() -> httpx.Response:
        r = await client.post("/api/v1/price-lists", headers=sup, json=body)
        assert r.status_code == 201, r.text  # through the broker, the products arrive shortly
        return r

    r = await eventually(created, timeout=30)
    return World(supplier, buyer_account, sup, buy, buyer_id, r.json()["price_list_id"], warehouses)


async def place(
    client: httpx.AsyncClient, world: World, lines: list[dict[str, Any]] | None = None, **extra: Any
) -> httpx.Response:
    lines = lines or [
        {"sku": "A-1", "warehouse_id": world.warehouses[0], "quantity": "3"},
        {"sku": "B-2", "warehouse_id": world.warehouses[1], "quantity": 5},
    ]
    return await client.post(
        "/api/v1/orders", headers=world.buy, json={"price_list_id": world.price_list_id, "lines": lines, **extra}
    )


def if_match(order: dict[str, Any]) -> dict[str, str]:
    return {"If-Match": f'"{order["version"]}"'}


async def publish(bootstrap: str, event: Event) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            event.TOPIC,
            event.to_json(),
            key=event.partition_key().encode(),
            headers=event.kafka_header_list(),
        )
    finally:
        await producer.stop()


async def read_events(bootstrap: str, topic: str, want: int, timeout: float = 15.0, where: Any = None) -> list[Event]:
    """Read ``want`` matching events from the start of ``topic`` (unique group, earliest)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"t-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    found: list[Event] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout * WAIT_SCALE
        while len(found) < want and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = parse_event(record.value, {k: v.decode() for k, v in record.headers})
                    if where is None or where(event):
                        found.append(event)
    finally:
        await consumer.stop()
    return found


def dump(response: httpx.Response) -> str:
    return json.dumps(response.json(), indent=1)[:2000]
