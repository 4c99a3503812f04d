"""Builders and broker helpers for the inventory integration tests."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from oms_shared.contracts import (
    Event,
    OrderLine,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    PriceListItem,
    PriceListUpdatedData,
    PriceListUpdatedV1,
    Side,
    make_event,
)
from oms_shared.outbox import make_producer
from tests.support.services import bearer


async def send(bootstrap: str, *events: Event) -> None:
    """Put events on the broker as the producing service would."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                event.TOPIC,
                event.to_json(),
                key=event.partition_key().encode(),
                headers=event.kafka_header_list(),
            )
    finally:
        await producer.stop()


async def send_raw(bootstrap: str, topic: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, body, key=b"junk", headers=[(k, v.encode()) for k, v in (headers or {}).items()]
        )
    finally:
        await producer.stop()


class TopicReader:
    """Reads a topic from the beginning (Tansu's end offsets are unreliable) and keeps what it saw."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=f"reader-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
        )
        self.messages: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> list[tuple[dict[str, Any], dict[str, str]]]:
        batch = await self.consumer.getmany(timeout_ms=300)
        for records in batch.values():
            for r in records:
                headers = {k: v.decode() for k, v in (r.headers or [])}
                try:
                    body = json.loads(r.value)
                except ValueError:
                    body = {"raw": r.value.decode(errors="replace")}
                self.messages.append((body, headers))
        return self.messages


def price_list_event(
    tenant: uuid.UUID,
    warehouse_ids: list[str],
    skus: list[str],
    *,
    price_list_id: uuid.UUID | None = None,
    buyer_account_ids: list[uuid.UUID] | None = None,
) -> PriceListUpdatedV1:
    pid = price_list_id or uuid.uuid4()
    return make_event(
        PriceListUpdatedV1,
        tenant_id=tenant,
        aggregate_id=str(pid),
        producer="orders",
        data=PriceListUpdatedData(
            price_list_id=pid,
            name="Main",
            warehouse_ids=[uuid.UUID(w) for w in warehouse_ids],
            items=[PriceListItem(sku=s, name=f"Product {s}", price=Decimal("10")) for s in skus],
            buyer_account_ids=buyer_account_ids or [],
        ),
    )


def a_line(sku: str, warehouse_id: str, quantity: str, line_id: uuid.UUID | None = None) -> OrderLine:
    return OrderLine(
        line_id=line_id or uuid.uuid4(), sku=sku, warehouse_id=uuid.UUID(warehouse_id), quantity=Decimal(quantity)
    )


def status_event(
    tenant: uuid.UUID,
    order_id: uuid.UUID,
    to_status: OrderStatus,
    lines: list[OrderLine],
    *,
    changed_at: datetime | None = None,
) -> OrderStatusChangedV1:
    return make_event(
        OrderStatusChangedV1,
        tenant_id=tenant,
        aggregate_id=str(order_id),
        producer="orders",
        data=OrderStatusChangedData(
            order_id=order_id,
            number="1001",
            buyer_id=uuid.uuid4(),
            from_status=OrderStatus.NEW,
            to_status=to_status,
            by_side=Side.SUPPLIER,
            lines=lines,
            changed_at=changed_at or datetime.now(UTC),
        ),
    )


async def setup_catalogue(
    client: httpx.AsyncClient,
    token: str,
    stock: dict[str, str],
    *,
    code: str = "MAIN",
    units: dict[str, str] | None = None,
) -> str:
    """A warehouse with products (in pieces unless ``units`` says otherwise) and on-hand stock; returns its id."""
    r = await client.post("/api/v1/warehouses", json={"code": code, "name": f"Warehouse {code}"}, headers=bearer(token))
    assert r.status_code == 201, r.text
    wid: str = r.json()["warehouse_id"]
    r = await client.post(
        "/api/v1/products",
        json={"items": [{"sku": s, "name": f"Product {s}", "unit": (units or {}).get(s, "pcs")} for s in stock]},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        "/api/v1/stock",
        json={"items": [{"warehouse_id": wid, "sku": s, "on_hand": q} for s, q in stock.items()]},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    return wid


async def stock_of(client: httpx.AsyncClient, token: str, wid: str, sku: str) -> dict[str, str]:
    r = await client.get("/api/v1/stock", params={"warehouse_id": wid, "sku": sku}, headers=bearer(token))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 1, items
    return dict(items[0])


def availability_of(body: dict[str, Any], sku: str) -> str:
    item = next(i for i in body["items"] if i["sku"] == sku)
    return str(item["total_available"])
