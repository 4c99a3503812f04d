"""Builders of the events orders publishes, a publisher, and probes for the notifications tests."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from oms_shared.contracts import (
    AccessLevel,
    AccountUpdatedData,
    AccountUpdatedV1,
    BuyerUpdatedData,
    BuyerUpdatedV1,
    Event,
    LineChange,
    OrderChangedData,
    OrderChangedV1,
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    UserInfo,
    make_event,
)
from oms_shared.outbox import make_producer
from tests.support.services import WAIT_SCALE, bearer, token_for

Send = Callable[[Event], Awaitable[None]]


@asynccontextmanager
async def publisher(kafka: str) -> AsyncIterator[Send]:
    """Put events on the broker exactly as the orders relay does."""
    producer = make_producer(kafka)
    await producer.start()

    async def send(event: Event) -> None:
        await producer.send_and_wait(
            event.TOPIC,
            event.to_json(),
            key=event.partition_key().encode(),
            headers=event.kafka_header_list(),
        )

    try:
        yield send
    finally:
        await producer.stop()


@dataclass
class Person:
    user_id: uuid.UUID
    account_id: uuid.UUID
    kind: str
    email: str
    name: str
    locale: str = "ru"
    owner: bool = False
    access_orders: AccessLevel = AccessLevel.NONE
    restricted: bool = False

    def info(self) -> UserInfo:
        return UserInfo(
            user_id=self.user_id,
            email=self.email,
            name=self.name,
            locale=self.locale,
            is_owner=self.owner,
            access_orders=self.access_orders,
            access_buyers=self.access_orders,
            restricted_to_own_buyers=self.restricted,
        )

    def headers(self, private_key: Path) -> dict[str, str]:
        access = {"orders": self.access_orders.value, "buyers": self.access_orders.value}
        token = token_for(
            private_key,
            account_id=self.account_id,
            kind=self.kind,
            owner=self.owner,
            access=access,
            restricted=self.restricted,
            user_id=self.user_id,
        )
        return bearer(token)


def _person(account_id: uuid.UUID, kind: str, label: str, **kw: Any) -> Person:
    user_id = uuid.uuid4()
    return Person(user_id, account_id, kind, f"{label}-{user_id.hex[:6]}@example.test", label.title(), **kw)


@dataclass
class World:
    """A supplier with its staff, one buyer company with two users, and a second buyer of the supplier."""

    supplier_id: uuid.UUID = field(default_factory=uuid.uuid4)
    buyer_account_id: uuid.UUID = field(default_factory=uuid.uuid4)
    buyer_id: uuid.UUID = field(default_factory=uuid.uuid4)
    other_buyer_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def __post_init__(self) -> None:
        s, b = self.supplier_id, self.buyer_account_id
        self.owner = _person(s, "supplier", "owner", owner=True, access_orders=AccessLevel.FULL)
        self.full = _person(s, "supplier", "full", access_orders=AccessLevel.FULL, locale="en")
        self.reader = _person(s, "supplier", "reader", access_orders=AccessLevel.READ)
        self.manager = _person(s, "supplier", "manager", access_orders=AccessLevel.CHANGE, restricted=True)
        self.other_manager = _person(s, "supplier", "othermgr", access_orders=AccessLevel.FULL, restricted=True)
        self.buyer1 = _person(b, "buyer", "buyerone", owner=True, access_orders=AccessLevel.FULL)
        self.buyer2 = _person(b, "buyer", "buyertwo", access_orders=AccessLevel.FULL, locale="en")

    @property
    def supplier_staff(self) -> list[Person]:
        return [self.owner, self.full, self.reader, self.manager, self.other_manager]

    def setup_events(self) -> list[Event]:
        return [
            make_event(
                AccountUpdatedV1,
                tenant_id=self.supplier_id,
                aggregate_id=str(self.supplier_id),
                data=AccountUpdatedData(
                    account_id=self.supplier_id,
                    kind="supplier",
                    name="Поставщик",
                    users=[p.info() for p in self.supplier_staff],
                ),
            ),
            make_event(
                AccountUpdatedV1,
                tenant_id=self.buyer_account_id,
                aggregate_id=str(self.buyer_account_id),
                data=AccountUpdatedData(
                    account_id=self.buyer_account_id,
                    kind="buyer",
                    name="ООО Покупатель",
                    users=[self.buyer1.info(), self.buyer2.info()],
                ),
            ),
            make_event(
                BuyerUpdatedV1,
                tenant_id=self.supplier_id,
                aggregate_id=str(self.buyer_id),
                data=BuyerUpdatedData(
                    buyer_id=self.buyer_id,
                    buyer_account_id=self.buyer_account_id,
                    name="ООО Покупатель",
                    manager_user_ids=[self.manager.user_id],
                ),
            ),
            make_event(
                BuyerUpdatedV1,
                tenant_id=self.supplier_id,
                aggregate_id=str(self.other_buyer_id),
                data=BuyerUpdatedData(
                    buyer_id=self.other_buyer_id, name="ИП Другой", manager_user_ids=[self.other_manager.user_id]
                ),
            ),
        ]

    def order_placed(self, number: str = "1024", **over: Any) -> OrderPlacedV1:
        order_id = over.pop("order_id", uuid.uuid4())
        lines = [
            OrderLine(line_id=uuid.uuid4(), sku="SKU-1", name="Болт", quantity=Decimal("10"), price=Decimal("2.50")),
            OrderLine(line_id=uuid.uuid4(), sku="SKU-2", name="Гайка", quantity=Decimal("4"), price=Decimal("1.25")),
        ]
        values: dict[str, Any] = {
            "order_id": order_id,
            "number": number,
            "buyer_id": self.buyer_id,
            "buyer_account_id": self.buyer_account_id,
            "buyer_name": "ООО Покупатель",
            "status": OrderStatus.NEW,
            "lines": lines,
            "total": Decimal("30.00"),
            "placed_by_user_id": self.buyer1.user_id,
            "placed_by_side": Side.BUYER,
            "created_at": datetime.now(UTC),
        }
        values.update(over)
        return make_event(
            OrderPlacedV1, tenant_id=self.supplier_id, aggregate_id=str(order_id), data=OrderPlacedData(**values)
        )

    def status_changed(self, placed: OrderPlacedV1, to: OrderStatus, by: Person, **over: Any) -> OrderStatusChangedV1:
        d = placed.data
        values: dict[str, Any] = {
            "order_id": d.order_id,
            "number": d.number,
            "buyer_id": d.buyer_id,
            "buyer_account_id": d.buyer_account_id,
            "from_status": d.status,
            "to_status": to,
            "by_user_id": by.user_id,
            "by_side": Side.SUPPLIER if by.kind == "supplier" else Side.BUYER,
            "changed_at": datetime.now(UTC),
        }
        values.update(over)
        return make_event(
            OrderStatusChangedV1,
            tenant_id=self.supplier_id,
            aggregate_id=str(d.order_id),
            data=OrderStatusChangedData(**values),
        )

    def changed(
        self,
        placed: OrderPlacedV1,
        kind: str,
        by: Person | None,
        *,
        line_changes: list[LineChange] | None = None,
        **attributes: Any,
    ) -> OrderChangedV1:
        d = placed.data
        return make_event(
            OrderChangedV1,
            tenant_id=self.supplier_id,
            aggregate_id=str(d.order_id),
            data=OrderChangedData(
                order_id=d.order_id,
                number=d.number,
                buyer_id=d.buyer_id,
                buyer_account_id=d.buyer_account_id,
                kind=kind,
                status=OrderStatus.CONFIRMED,
                by_user_id=by.user_id if by else None,
                by_side=Side.SYSTEM if by is None else (Side.SUPPLIER if by.kind == "supplier" else Side.BUYER),
                line_changes=line_changes or [],
                attributes=attributes,
                changed_at=datetime.now(UTC),
            ),
        )


async def inbox(client: httpx.AsyncClient, who: Person, keys: Path, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/notifications", params=params, headers=who.headers(keys))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def processed(client: httpx.AsyncClient, event_type: str, outcome: str = "processed") -> float:
    """How many events of a type the consumer has applied (from /metrics; ``outcome`` another outcome)."""
    text = (await client.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("oms_consumer_events_total{") and f'event_type="{event_type}"' in line:
            if f'outcome="{outcome}"' in line:
                total += float(line.rsplit(" ", 1)[1])
    return total


async def metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def dead_letters(kafka: str, *topics: str, timeout: float = 15.0) -> dict[str, list[dict[str, str]]]:
    """Headers of the messages on each topic's dead-letter topic (waits until every one has at least one)."""
    consumer = AIOKafkaConsumer(
        *(t + ".dlq" for t in topics),
        bootstrap_servers=kafka,
        group_id=f"dlq-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    found: dict[str, list[dict[str, str]]] = {t: [] for t in topics}
    try:
        deadline = asyncio.get_running_loop().time() + timeout * WAIT_SCALE
        while not all(found.values()) and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    found[r.topic.removesuffix(".dlq")].append({k: v.decode() for k, v in (r.headers or [])})
    finally:
        await consumer.stop()
    return found
