"""Helpers of the orders-channel tests (names start with ``sale_``): the app, orders and buyers from events, a
scripted 1C speaking ``type=sale``, 1C's own orders document, and the ``erp.order_changed`` topic."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from oms_erp_bridge.app import create_app
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import (
    BuyerUpdatedData,
    BuyerUpdatedV1,
    ErpOrderChangedV1,
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
    make_event,
)
from tests.support.kafka import read_topic, send_event, started_producer
from tests.support.services import bearer, eventually

SALE_PASSWORD = "s3cret-orders-exchange"


def sale_auth(auth: str | dict[str, str]) -> dict[str, str]:
    """Headers for the ERP API: a token (the owner's) or ready headers (e.g. ``sale_basic(login)``)."""
    return dict(auth) if isinstance(auth, dict) else bearer(auth)


def sale_basic(login: str, password: str = SALE_PASSWORD) -> dict[str, str]:
    """The ERP's own credential: the exchange login and password as HTTP Basic (ADR 012)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def sale_app(database_url: str, tmp_path: Path, service_env: dict[str, object], **options: object) -> FastAPI:
    values = {"database_url": database_url, "files_dir": str(tmp_path / "erp"), **service_env, **options}
    return create_app(Settings(**values))  # type: ignore[arg-type]


async def sale_connect(
    client: httpx.AsyncClient,
    token: str,
    *,
    encoding: str = "utf-8",
    status_map: dict[str, str] | None = None,
    timezone: str = "Europe/Moscow",
) -> str:
    """The supplier sets the login and password 1C will use; returns the (unique) login."""
    login = f"onec-{uuid.uuid4().hex[:8]}"
    body = {
        "login": login,
        "password": SALE_PASSWORD,
        "encoding": encoding,
        "status_map": status_map or {},
        "timezone": timezone,
    }
    r = await client.put("/api/v1/erp/connection", json=body, headers=bearer(token))
    assert r.status_code == 200, r.text
    return login


@dataclass
class SaleOrder:
    """An order as orders would publish it: its id, number, buyer and lines (prices VAT included)."""

    tenant: uuid.UUID
    number: str
    buyer_id: uuid.UUID
    lines: list[OrderLine]
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)

    @property
    def total(self) -> Decimal:
        return sum((x.price * x.quantity for x in self.lines), Decimal(0))

    def line(self, sku: str) -> OrderLine:
        return next(x for x in self.lines if x.sku == sku)


def sale_order(tenant: uuid.UUID, number: str, buyer_id: uuid.UUID, *lines: tuple[str, str, str]) -> SaleOrder:
    """An order with lines (sku, quantity, price), VAT 20 %."""
    return SaleOrder(
        tenant,
        number,
        buyer_id,
        [
            OrderLine(
                line_id=uuid.uuid4(),
                sku=sku,
                name=f"Товар «{sku}»",
                unit="шт",
                quantity=Decimal(quantity),
                price=Decimal(price),
                vat_rate=Decimal(20),
            )
            for sku, quantity, price in lines
        ],
    )


def sale_buyer_updated(tenant: uuid.UUID, buyer_id: uuid.UUID, name: str, inn: str, kpp: str = "") -> BuyerUpdatedV1:
    data = BuyerUpdatedData(buyer_id=buyer_id, name=name, inn=inn, kpp=kpp)
    return make_event(BuyerUpdatedV1, tenant_id=tenant, aggregate_id=str(buyer_id), data=data, producer="orders")


def sale_placed(order: SaleOrder, status: OrderStatus = OrderStatus.NEW) -> OrderPlacedV1:
    data = OrderPlacedData(
        order_id=order.order_id,
        number=order.number,
        buyer_id=order.buyer_id,
        buyer_name="Имя при заказе",
        status=status,
        lines=order.lines,
        total=order.total,
        comment="Доставить до 10:00",
        created_at=datetime.now(UTC),
    )
    return make_event(
        OrderPlacedV1,
        tenant_id=order.tenant,
        aggregate_id=str(order.order_id),
        sequence=1,
        data=data,
        producer="orders",
    )


def sale_status_changed(order: SaleOrder, to_status: OrderStatus, sequence: int = 2) -> OrderStatusChangedV1:
    data = OrderStatusChangedData(
        order_id=order.order_id,
        number=order.number,
        buyer_id=order.buyer_id,
        from_status=OrderStatus.NEW,
        to_status=to_status,
        by_side=Side.SUPPLIER,
        total=order.total,
        lines=order.lines,
        changed_at=datetime.now(UTC),
    )
    return make_event(
        OrderStatusChangedV1,
        tenant_id=order.tenant,
        aggregate_id=str(order.order_id),
        sequence=sequence,
        data=data,
        producer="orders",
    )


def sale_changed(order: SaleOrder, sequence: int, kind: str, **attributes: object) -> OrderChangedV1:
    """A supplier's change in OMS (e.g. kind ``shipment_date`` with ``new=...``): the ERP has to learn it."""
    data = OrderChangedData(
        order_id=order.order_id,
        number=order.number,
        buyer_id=order.buyer_id,
        kind=kind,
        status=OrderStatus.CONFIRMED,
        by_side=Side.SUPPLIER,
        attributes=attributes,
        changed_at=datetime.now(UTC),
    )
    return make_event(
        OrderChangedV1, tenant_id=order.tenant, aggregate_id=str(order.order_id), sequence=sequence, data=data
    )


async def sale_wait_version(
    client: httpx.AsyncClient, token: str | dict[str, str], order: SaleOrder, version: int
) -> dict[str, Any]:
    """The order's JSON once the replica reached ``version``."""

    async def arrived() -> dict[str, Any]:
        r = await client.get("/api/v1/erp/orders", params={"pending": "false"}, headers=sale_auth(token))
        assert r.status_code == 200, r.text
        (item,) = [i for i in r.json()["items"] if i["order_id"] == str(order.order_id)]
        assert item["version"] == version, item
        return dict(item)

    result: dict[str, Any] = await eventually(arrived)
    return result


async def sale_publish(bootstrap: str, *events: Event) -> None:
    """Put events on the broker as the orders service would."""
    producer = await started_producer(bootstrap)
    try:
        for event in events:
            await send_event(producer, event)
    finally:
        await producer.stop()


async def sale_wait_pending(
    client: httpx.AsyncClient, token: str | dict[str, str], numbers: set[str], *, with_inn: bool = True
) -> list[dict[str, Any]]:
    """The JSON list of pending orders once exactly ``numbers`` wait (and their buyers arrived, if asked)."""

    async def arrived() -> list[dict[str, Any]]:
        r = await client.get("/api/v1/erp/orders", params={"pending": "true"}, headers=sale_auth(token))
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        assert {i["number"] for i in items} == numbers, items
        assert not with_inn or all(i["buyer"]["inn"] for i in items), items
        return items

    result: list[dict[str, Any]] = await eventually(arrived)
    return result


async def sale_changes(bootstrap: str, expect: int, timeout: float = 20) -> list[dict[str, Any]]:
    """The ``erp.order_changed`` events on the broker, oldest first (waits for ``expect`` of them)."""
    records = await read_topic(bootstrap, ErpOrderChangedV1.TOPIC, expect=expect, timeout=timeout)
    return [json.loads(r.value) for r in records]


class SaleOneC:
    """Plays 1C:UT's side of the orders exchange over HTTP: plain-text answers, a cookie per session."""

    def __init__(self, client: httpx.AsyncClient, login: str, password: str = SALE_PASSWORD) -> None:
        self.client = client
        self.basic = "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()
        self.cookie = ""

    async def request(self, mode: str, content: bytes | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": self.basic} if mode == "checkauth" else {}
        if self.cookie and mode != "checkauth":
            headers["Cookie"] = f"oms_exchange={self.cookie}"
        query = {"type": "sale", "mode": mode, **params}
        if content is None:
            r = await self.client.get("/exchange/1c", params=query, headers=headers)
        else:
            r = await self.client.post("/exchange/1c", params=query, content=content, headers=headers)
        assert r.status_code == 200, r.text
        return r

    async def call(self, mode: str, content: bytes | None = None, **params: str) -> list[str]:
        """One call; the answer's lines."""
        return (await self.request(mode, content, **params)).text.split("\n")

    async def start(self) -> None:
        """checkauth (Basic → cookie), then init."""
        answer = await self.call("checkauth")
        assert answer[:2] == ["success", "oms_exchange"], answer
        self.cookie = answer[2]
        answer = await self.call("init")
        assert answer[0] == "zip=no" and answer[1].startswith("file_limit="), answer

    async def send(self, filename: str, data: bytes, pieces: int = 1) -> list[list[str]]:
        """``mode=file`` in ``pieces`` POSTs of the same name (appended by the bridge); every answer."""
        size = -(-len(data) // pieces)
        return [await self.call("file", data[i : i + size], filename=filename) for i in range(0, len(data), size)]


def sale_document_xml(
    order_id: str,
    number: str,
    *,
    number_1c: str,
    version: str,
    lines: list[tuple[str, str, str]],
    requisites: dict[str, str],
    total: str,
    operation: str = "Заказ товара",
) -> str:
    """1C's orders document for one of our orders as 1C:UT writes it back: lines (product Ид, quantity, price)
    with VAT included, requisites such as ``Отгружен``; ``Номер1С`` as given (1C pads it with spaces)."""
    goods = "".join(
        f"<Товар><Ид>{sku}</Ид><Артикул>{sku}</Артикул><Наименование>Товар {sku}</Наименование>"
        f'<БазоваяЕдиница Код="796 " НаименованиеПолное="Штука">шт</БазоваяЕдиница>'
        f"<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу><Количество>{quantity}</Количество>"
        f"<Сумма>{Decimal(price) * Decimal(quantity)}</Сумма>"
        f"<Налоги><Налог><Наименование>НДС</Наименование><УчтеноВСумме>true</УчтеноВСумме></Налог></Налоги>"
        f"</Товар>"
        for sku, quantity, price in lines
    )
    values = "".join(
        f"<ЗначениеРеквизита><Наименование>{k}</Наименование><Значение>{v}</Значение></ЗначениеРеквизита>"
        for k, v in requisites.items()
    )
    return (
        f"<Документ><Ид>{order_id}</Ид><НомерВерсии>{version}</НомерВерсии><Номер>{number}</Номер>"
        f"<Номер1С>{number_1c}</Номер1С><Дата>2024-05-01</Дата><Дата1С>2024-05-01</Дата1С>"
        f"<ХозОперация>{operation}</ХозОперация><Роль>Продавец</Роль><Валюта>RUB</Валюта><Курс>1</Курс>"
        f"<Сумма>{total}</Сумма><Товары>{goods}</Товары><ЗначенияРеквизитов>{values}</ЗначенияРеквизитов>"
        f"</Документ>"
    )


def sale_file(*documents: str, encoding: str = "windows-1251") -> bytes:
    """A whole orders file around ``documents``, encoded as its declaration says."""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f'<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.08" '
        f'ДатаФормирования="2024-05-01T12:00:00">{"".join(documents)}</КоммерческаяИнформация>\n'
    )
    return text.encode("cp1251" if encoding == "windows-1251" else "utf-8")


async def sale_log(client: httpx.AsyncClient, token: str, **params: str) -> list[tuple[str, str, str]]:
    """The exchange log, oldest first: (kind, outcome, detail)."""
    r = await client.get("/api/v1/erp/exchanges", params={"limit": "200", **params}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return [(i["kind"], i["outcome"], i["detail"]) for i in reversed(r.json()["items"])]
