"""The ERP bridge's 1C exchange (R-ERP-1, R-ERP-2): ``mode=query`` of pending orders and an offers import, each
beside the bare CommerceML codec doing the same work.

Run: ``python bench/erp_exchange.py [ORDERS] [OFFERS]`` (defaults 1,000 orders of 3 lines and 10,000 offers over
2 warehouses). Starts its own Tansu broker and runs the ERP bridge in-process on SQLite, and on PostgreSQL too
when ``OMS_TEST_POSTGRES_URL`` is set (a new database, dropped after); HTTP through ASGI, the consumer and the
outbox relay for real. Orders and buyers reach the replica as ``buyer.updated``, ``order.placed`` and
``order.status_changed`` events; the warehouses as ``warehouse.updated`` events whose codes
are the 1C warehouse ``Ид`` (matched automatically). The offers file is uploaded in pieces of ``file_limit``
(1 MiB here, so a ~6 MB file takes several pieces, as 1C sends it). Prints one table per database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from oms_shared.auth import Principal, generate_keypair, issue_token
from oms_shared.contracts import (
    BuyerUpdatedData,
    BuyerUpdatedV1,
    ErpStockImportedV1,
    Event,
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    WarehouseUpdatedData,
    WarehouseUpdatedV1,
    make_event,
)
from oms_shared.devstack.tansu import TansuBroker
from oms_shared.kafka import ensure_topics
from oms_shared.outbox import make_producer
from oms_shared.topics import all_topics_with_dlq

LOGIN, PASSWORD = "onec-bench", "s3cret-bench-exchange"
FILE_LIMIT = 1024 * 1024
BUYERS = 50
REPEATS = 3
PRICE_TYPE = "b1f0c3a2-0000-4000-8000-000000000001"
WAREHOUSES = [
    ("6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1", "Склад Москва"),
    ("d2a52d49-19c9-11e7-80c2-0cc47ab29cd1", "Склад Новосибирск"),
]


def offers_xml(offers: int) -> bytes:
    """A full offers snapshot as 1C:UT writes it: one price type, two warehouses, stock per warehouse."""
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<КоммерческаяИнформация xmlns="urn:1C.ru:commerceml_2" ВерсияСхемы="2.07" '
        'ДатаФормирования="2026-11-27T12:00:00">\n'
        '<ПакетПредложений СодержитТолькоИзменения="false">\n'
        "<Ид>bench#</Ид><Наименование>Пакет предложений</Наименование><ИдКаталога>bench</ИдКаталога>\n"
        f"<ТипыЦен><ТипЦены><Ид>{PRICE_TYPE}</Ид><Наименование>Оптовая</Наименование><Валюта>RUB</Валюта>"
        "<Налог><Наименование>НДС</Наименование><УчтеноВСумме>true</УчтеноВСумме></Налог></ТипЦены></ТипыЦен>\n"
        "<Склады>"
        + "".join(f"<Склад><Ид>{w}</Ид><Наименование>{n}</Наименование></Склад>" for w, n in WAREHOUSES)
        + "</Склады>\n<Предложения>\n"
    )
    body = []
    for i in range(offers):
        stock = "".join(
            f'<Склад ИдСклада="{w}" КоличествоНаСкладе="{(i * (k + 3)) % 500}"/>' for k, (w, _) in enumerate(WAREHOUSES)
        )
        body.append(
            f"<Предложение><Ид>{uuid.UUID(int=i + 1)}</Ид><Артикул>ART-{i:06d}</Артикул>"
            f"<Наименование>Товар номер {i}, упаковка 10 шт</Наименование>"
            '<БазоваяЕдиница Код="796 " НаименованиеПолное="Штука" МеждународноеСокращение="PCE">шт</БазоваяЕдиница>'
            f"<Цены><Цена><Представление>{100 + i % 900} RUB за PCE</Представление><ИдТипаЦены>{PRICE_TYPE}"
            f"</ИдТипаЦены><ЦенаЗаЕдиницу>{100 + i % 900}.50</ЦенаЗаЕдиницу><Валюта>RUB</Валюта>"
            "<Единица>PCE</Единица><Коэффициент>1</Коэффициент></Цена></Цены>"
            f"<Количество>{sum((i * (k + 3)) % 500 for k in range(len(WAREHOUSES)))}</Количество>{stock}"
            "</Предложение>\n"
        )
    return (head + "".join(body) + "</Предложения>\n</ПакетПредложений>\n</КоммерческаяИнформация>\n").encode()


def order_events(tenant: uuid.UUID, orders: int) -> tuple[list[Event], list[Event], list[Event]]:
    """buyer.updated for the buyers, order.placed (new) and order.status_changed (confirmed) of each order."""
    buyer_ids = [uuid.uuid4() for _ in range(BUYERS)]
    buyers: list[Event] = [
        make_event(
            BuyerUpdatedV1,
            tenant_id=tenant,
            aggregate_id=str(b),
            producer="bench",
            data=BuyerUpdatedData(buyer_id=b, name=f"ООО «Покупатель {n}»", inn=f"77{n:08d}", kpp="770101001"),
        )
        for n, b in enumerate(buyer_ids)
    ]
    placed: list[Event] = []
    confirmed: list[Event] = []
    for n in range(orders):
        oid, buyer = uuid.uuid4(), buyer_ids[n % BUYERS]
        lines = [
            OrderLine(
                line_id=uuid.uuid4(),
                sku=f"ART-{(n * 3 + k) % 10_000:06d}",
                name=f"Товар номер {(n * 3 + k) % 10_000}",
                unit="шт",
                quantity=Decimal(1 + (n + k) % 7),
                price=Decimal("125.50") + k,
                vat_rate=Decimal(20),
            )
            for k in range(3)
        ]
        total = sum((x.price * x.quantity for x in lines), Decimal(0))
        placed.append(
            make_event(
                OrderPlacedV1,
                tenant_id=tenant,
                aggregate_id=str(oid),
                sequence=1,
                producer="bench",
                data=OrderPlacedData(
                    order_id=oid,
                    number=f"B-{n:06d}",
                    buyer_id=buyer,
                    buyer_name="Имя при заказе",
                    status=OrderStatus.NEW,
                    lines=lines,
                    total=total,
                    comment="Доставить до 10:00",
                    created_at=datetime.now(UTC),
                ),
            )
        )
        confirmed.append(
            make_event(
                OrderStatusChangedV1,
                tenant_id=tenant,
                aggregate_id=str(oid),
                sequence=2,
                producer="bench",
                data=OrderStatusChangedData(
                    order_id=oid,
                    number=f"B-{n:06d}",
                    buyer_id=buyer,
                    from_status=OrderStatus.NEW,
                    to_status=OrderStatus.CONFIRMED,
                    by_side=Side.SUPPLIER,
                    total=total,
                    lines=lines,
                    changed_at=datetime.now(UTC),
                ),
            )
        )
    return buyers, placed, confirmed


async def publish(bootstrap: str, events: list[Event]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(
                e.TOPIC,
                e.to_json(),
                key=e.partition_key().encode(),
                headers=e.kafka_header_list(),
            )
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 120) -> None:
    deadline = time.perf_counter() + timeout
    while not await check():
        if time.perf_counter() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class OneC:
    """1C's side of the exchange over HTTP: plain-text answers, the session cookie."""

    def __init__(self, client: httpx.AsyncClient, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.basic = "Basic " + base64.b64encode(f"{LOGIN}:{PASSWORD}".encode()).decode()
        self.cookie = ""
        self.file_limit = 0

    async def request(self, mode: str, content: bytes | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": self.basic} if mode == "checkauth" else {"Cookie": f"oms_exchange={self.cookie}"}
        query = {"type": self.channel, "mode": mode, **params}
        if content is None:
            r = await self.client.get("/exchange/1c", params=query, headers=headers)
        else:
            r = await self.client.post("/exchange/1c", params=query, content=content, headers=headers)
        r.raise_for_status()
        if r.headers["content-type"].startswith("text/plain") and r.text.startswith("failure"):
            raise SystemExit(f"{self.channel}.{mode} failed: {r.text[:500]}")
        return r

    async def start(self) -> None:
        answer = (await self.request("checkauth")).text.split("\n")
        self.cookie = answer[2]
        answer = (await self.request("init")).text.split("\n")
        self.file_limit = int(answer[1].partition("=")[2])


async def run(
    bootstrap: str, tmp: Path, keys: tuple[Path, Path], orders: int, offers: int, database_url: str
) -> dict[str, Any]:
    from oms_erp_bridge import cml, orders_out
    from oms_erp_bridge.app import create_app
    from oms_erp_bridge.db import orders as erp_orders
    from oms_erp_bridge.settings import Settings

    tenant = uuid.uuid4()
    token = issue_token(
        keys[0].read_bytes(),
        Principal(user_id=uuid.uuid4(), account_id=tenant, account_kind="supplier", is_owner=True),
    )
    h = {"Authorization": f"Bearer {token}"}
    settings = Settings(
        database_url=database_url,
        files_dir=str(tmp / f"erp-files-{uuid.uuid4().hex[:6]}"),
        kafka_bootstrap=bootstrap,
        jwt_public_key_file=str(keys[1]),
        consumer_group=f"bench-{uuid.uuid4().hex[:6]}",
        log_json=False,
        log_level="WARNING",
        outbox_poll_interval_s=0.05,
        consumer_retry_backoff_s=0.05,
        file_limit_bytes=FILE_LIMIT,
    )
    app = create_app(settings)
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        db = app.state.runtime.db
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            r = await client.put("/api/v1/erp/connection", json={"login": LOGIN, "password": PASSWORD}, headers=h)
            r.raise_for_status()

            # --- 1. mode=query of N pending confirmed orders ------------------------------------------------
            buyers, placed, confirmed = order_events(tenant, orders)

            async def count(pending: bool) -> int:
                r = await client.get(
                    "/api/v1/erp/orders", params={"pending": str(pending).lower(), "limit": 1}, headers=h
                )
                r.raise_for_status()
                return int(r.json()["total"])

            await publish(bootstrap, buyers + placed)

            async def all_placed() -> bool:  # new orders are not for the ERP yet: count the replica's rows
                async with db.read() as conn:
                    query = (
                        sa.select(sa.func.count()).select_from(erp_orders).where(erp_orders.c.tenant_id == str(tenant))
                    )
                    return int(await conn.scalar(query) or 0) == orders

            await until(all_placed, "the orders in the replica")
            await publish(bootstrap, confirmed)

            async def all_pending() -> bool:
                return await count(True) == orders

            await until(all_pending, "the confirmed orders pending")
            await asyncio.sleep(0.5)  # buyer.updated travels on its own topic: let it land too
            sale = OneC(client, "sale")
            await sale.start()
            times, size = [], 0
            for _ in range(REPEATS):
                t = time.perf_counter()
                r = await sale.request("query")
                times.append(time.perf_counter() - t)
                size = len(r.content)
            if r.content.count("<Документ>".encode()) != orders:
                raise SystemExit(f"query answered {r.content.count('<Документ>'.encode())} documents, not {orders}")
            out["query_s"] = statistics.median(times)
            out["query_first_s"] = times[0]
            out["query_bytes"] = size
            # Baselines: the codec alone on the same orders, and the replica read + conversion alone.
            zone = ZoneInfo("Europe/Moscow")
            reads, writes = [], []
            for _ in range(REPEATS):
                t = time.perf_counter()
                async with db.read() as conn:
                    found = await orders_out.load_orders(conn, str(tenant), pending_only=True)
                docs = [o.to_cml(zone) for o in found]
                reads.append(time.perf_counter() - t)
                t = time.perf_counter()
                cml.write_orders(docs, encoding="utf-8", generated_at=datetime.now(zone))
                writes.append(time.perf_counter() - t)
            out["write_orders_s"] = statistics.median(writes)
            out["load_orders_s"] = statistics.median(reads)
            t = time.perf_counter()
            r = await sale.request("success")
            out["success_s"] = time.perf_counter() - t
            if await count(True) != 0:
                raise SystemExit("orders still pending after mode=success")

            # --- 2. an offers file: upload in pieces, import, stock events on the topic ----------------------
            ids = [uuid.uuid4() for _ in WAREHOUSES]
            await publish(
                bootstrap,
                [
                    make_event(
                        WarehouseUpdatedV1,
                        tenant_id=tenant,
                        aggregate_id=str(wid),
                        producer="bench",
                        data=WarehouseUpdatedData(warehouse_id=wid, code=code, name=f"OMS {name}"),
                    )
                    for wid, (code, name) in zip(ids, WAREHOUSES, strict=True)
                ],
            )

            async def warehouses_in() -> bool:
                r = await client.get("/api/v1/erp/warehouses", headers=h)
                return r.status_code == 200 and r.json()["total"] == len(WAREHOUSES)

            await until(warehouses_in, "the warehouses")
            data = offers_xml(offers)
            reader = AIOKafkaConsumer(
                ErpStockImportedV1.TOPIC,
                bootstrap_servers=bootstrap,
                group_id=f"bench-r-{uuid.uuid4().hex[:6]}",
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                session_timeout_ms=6000,
                heartbeat_interval_ms=2000,
                fetch_max_wait_ms=20,
                max_partition_fetch_bytes=8 * 1024 * 1024,
            )
            await reader.start()
            try:
                catalog = OneC(client, "catalog")
                await catalog.start()
                pieces = 0
                t = time.perf_counter()
                for start in range(0, len(data), catalog.file_limit):
                    await catalog.request("file", data[start : start + catalog.file_limit], filename="offers.xml")
                    pieces += 1
                out["upload_s"] = time.perf_counter() - t
                calls = 0
                t0 = time.perf_counter()
                while True:
                    calls += 1
                    answer = (await catalog.request("import", filename="offers.xml")).text
                    if answer.startswith("success"):
                        break
                imported_at = time.perf_counter()
                out["import_s"] = imported_at - t0
                items = 0
                events = 0
                deadline = time.perf_counter() + 120
                while items < offers * len(WAREHOUSES) and time.perf_counter() < deadline:
                    batch = await reader.getmany(timeout_ms=50)
                    for records in batch.values():
                        for rec in records:
                            event = json.loads(rec.value)
                            if event["tenant_id"] == str(tenant):
                                events += 1
                                items += len(event["data"]["items"])
                on_topic = time.perf_counter()
            finally:
                await reader.stop()
            if items != offers * len(WAREHOUSES):
                raise SystemExit(f"{items} stock items on the topic, {offers * len(WAREHOUSES)} expected")
            out.update(
                file_bytes=len(data),
                pieces=pieces,
                import_calls=calls,
                events=events,
                items=items,
                to_topic_s=on_topic - t0,
                after_answer_s=on_topic - imported_at,
                import_answer=answer.split("\n")[1] if "\n" in answer else answer,
            )
            parses = []
            for _ in range(REPEATS):
                t = time.perf_counter()
                parsed = cml.parse_offers(cml.load(data, max_bytes=settings.max_file_bytes))
                parses.append(time.perf_counter() - t)
            if len(parsed.offers) != offers:
                raise SystemExit(f"the baseline parsed {len(parsed.offers)} offers")
            out["parse_s"] = statistics.median(parses)
    return out


async def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    offers = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, all_topics_with_dlq())
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["OMS_VAR_DIR"] = tmp
            keys = generate_keypair(Path(tmp) / "keys")
            runs = {
                "SQLite": await run(
                    broker.bootstrap, Path(tmp), keys, orders, offers, f"sqlite+aiosqlite:///{tmp}/erp.db"
                )
            }
            pg = os.environ.get("OMS_TEST_POSTGRES_URL", "")
            if pg:
                name = f"oms_bench_erp_{uuid.uuid4().hex[:8]}"
                await pg_admin(pg, f'CREATE DATABASE "{name}"')
                try:
                    url = pg.rpartition("/")[0] + "/" + name
                    runs["PostgreSQL"] = await run(broker.bootstrap, Path(tmp), keys, orders, offers, url)
                finally:
                    await pg_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        broker.stop()
    for db, r in runs.items():
        report(db, r, orders, offers)


async def pg_admin(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def report(db: str, r: dict[str, Any], orders: int, offers: int) -> None:
    ms = 1000
    rows = [
        (f"[sale] mode=query, {orders} orders x 3 lines, ms (median of {REPEATS})", f"{r['query_s'] * ms:,.1f}"),
        ("[sale]   the first query, ms", f"{r['query_first_s'] * ms:,.1f}"),
        ("[sale]   answer size, bytes", f"{r['query_bytes']:,}"),
        ("[sale]   orders/s", f"{orders / r['query_s']:,.0f}"),
        ("[sale] baseline: cml.write_orders alone, ms", f"{r['write_orders_s'] * ms:,.1f}"),
        ("[sale]   replica read + to_cml alone, ms", f"{r['load_orders_s'] * ms:,.1f}"),
        ("[sale] mode=success (marks them taken), ms", f"{r['success_s'] * ms:,.1f}"),
        (f"[catalog] offers file, {offers} offers x 2 warehouses, bytes", f"{r['file_bytes']:,}"),
        (f"[catalog] upload in {r['pieces']} pieces of {FILE_LIMIT // 1024} KiB, ms", f"{r['upload_s'] * ms:,.1f}"),
        (f"[catalog] mode=import ({r['import_calls']} call(s)), ms", f"{r['import_s'] * ms:,.1f}"),
        ("[catalog]   offers/s", f"{offers / r['import_s']:,.0f}"),
        ("[catalog]   stock items/s", f"{r['items'] / r['import_s']:,.0f}"),
        (f"[catalog] import -> {r['events']} erp.stock_imported on topic, ms", f"{r['to_topic_s'] * ms:,.1f}"),
        ("[catalog]   of which after the import answered, ms", f"{r['after_answer_s'] * ms:,.1f}"),
        ("[catalog] baseline: cml.load + parse_offers alone, ms", f"{r['parse_s'] * ms:,.1f}"),
    ]
    print(f"\nERP bridge 1C exchange: {orders} orders, {offers} offers; in-process service, {db}, Tansu broker")
    print(f"  import answer: {r['import_answer']}")
    width = max(len(m) for m, _ in rows) + 2
    print(f"{'measure':<{width}}{'value':>14}")
    for measure, value in rows:
        print(f"{measure:<{width}}{value:>14}")


if __name__ == "__main__":
    asyncio.run(main())
