"""Event builders and a publisher for the analytics integration tests (what orders would publish)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaProducer

from oms_shared.contracts import (
    AccountUpdatedData,
    AccountUpdatedV1,
    BuyerUpdatedData,
    BuyerUpdatedV1,
    Event,
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


class Publisher:
    """Puts events on the real broker the way the outbox relay does."""

    def __init__(self, bootstrap: str) -> None:
        self.producer: AIOKafkaProducer = make_producer(bootstrap)

    async def __aenter__(self) -> Publisher:
        await self.producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.producer.stop()

    async def send(self, *events: Event) -> None:
        for event in events:
            await self.producer.send_and_wait(
                event.TOPIC,
                event.to_json(),
                key=event.partition_key().encode(),
                headers=event.kafka_header_list(),
            )


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=UTC)


def supplier_account(tenant: uuid.UUID, *users: tuple[uuid.UUID, str], seq: int = 1) -> AccountUpdatedV1:
    infos = [UserInfo(user_id=uid, email=f"{name.lower()}@example.com", name=name) for uid, name in users]
    data = AccountUpdatedData(account_id=tenant, kind="supplier", name="Supplier", users=infos)
    return make_event(AccountUpdatedV1, tenant_id=tenant, aggregate_id=str(tenant), data=data, sequence=seq)


def buyer(tenant: uuid.UUID, buyer_id: uuid.UUID, name: str, managers: list[uuid.UUID], seq: int = 1) -> BuyerUpdatedV1:
    data = BuyerUpdatedData(buyer_id=buyer_id, name=name, manager_user_ids=managers)
    return make_event(BuyerUpdatedV1, tenant_id=tenant, aggregate_id=str(buyer_id), data=data, sequence=seq)


def placed(
    tenant: uuid.UUID,
    order_id: uuid.UUID,
    buyer_id: uuid.UUID,
    *,
    number: str,
    price: str,
    quantity: str = "1",
    day: str = "2026-11-02",
    responsible: uuid.UUID | None = None,
    buyer_name: str = "",
) -> OrderPlacedV1:
    line = OrderLine(line_id=uuid.uuid4(), sku="SKU-1", quantity=Decimal(quantity), price=Decimal(price))
    data = OrderPlacedData(
        order_id=order_id,
        number=number,
        buyer_id=buyer_id,
        buyer_name=buyer_name,
        status=OrderStatus.NEW,
        lines=[line],
        total=Decimal(quantity) * Decimal(price),
        responsible_user_id=responsible,
        created_at=at(day),
    )
    return make_event(OrderPlacedV1, tenant_id=tenant, aggregate_id=str(order_id), data=data, sequence=1)


def status_changed(
    tenant: uuid.UUID,
    order_id: uuid.UUID,
    buyer_id: uuid.UUID,
    *,
    to: str,
    seq: int,
    when: datetime,
    number: str = "",
    from_status: str | None = None,
) -> OrderStatusChangedV1:
    data = OrderStatusChangedData(
        order_id=order_id,
        number=number,
        buyer_id=buyer_id,
        from_status=OrderStatus(from_status) if from_status else None,
        to_status=OrderStatus(to),
        by_side=Side.SUPPLIER,
        changed_at=when,
    )
    return make_event(OrderStatusChangedV1, tenant_id=tenant, aggregate_id=str(order_id), data=data, sequence=seq)


def changed(
    tenant: uuid.UUID,
    order_id: uuid.UUID,
    buyer_id: uuid.UUID,
    *,
    kind: str,
    seq: int,
    status: str = "confirmed",
    attributes: dict[str, Any] | None = None,
) -> OrderChangedV1:
    data = OrderChangedData(
        order_id=order_id,
        number="",
        buyer_id=buyer_id,
        kind=kind,
        status=OrderStatus(status),
        attributes=attributes or {},
        changed_at=datetime.now(UTC),
    )
    return make_event(OrderChangedV1, tenant_id=tenant, aggregate_id=str(order_id), data=data, sequence=seq)
