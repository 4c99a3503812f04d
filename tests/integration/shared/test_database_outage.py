"""A consumer rides out a database outage: events wait in place, nothing is dead-lettered, /ready says so."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest

from oms_erp_bridge.app import MIGRATIONS
from oms_erp_bridge.db import metadata
from oms_erp_bridge.settings import Settings
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import Tx
from oms_shared.service import ServiceRuntime
from oms_shared.topics import STOCK_UPDATED, dlq
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.kafka import read_topic, send_event, started_producer
from tests.support.services import eventually, running_service
from tests.support.tcpproxy import TcpProxy

pytestmark = needs_postgres

OUTAGE_S = 10.0


def stock_event(sku: str) -> StockUpdatedV1:
    warehouse = uuid.UUID(int=1)
    return make_event(
        StockUpdatedV1,
        tenant_id=uuid.UUID(int=7),
        aggregate_id=f"{warehouse}:{sku}",
        data={"warehouse_id": warehouse, "sku": sku, "on_hand": 1, "reserved": 0, "available": 1},
    )


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}" if auth else f"127.0.0.1:{port}"))


async def test_events_consumed_while_the_database_is_down_wait_and_are_applied_once_after_it_returns(
    service_env: dict[str, object], kafka: str
) -> None:
    """A 10 s database outage (a failover) while events arrive: nothing goes to the dead-letter topic, every
    event is applied exactly once when the database is back, and /ready answers 503 during the outage and 200
    after it (before, three tries 0.05/0.1 s apart dead-lettered everything consumed in that window)."""
    async with fresh_postgres_databases(1) as (direct_url,):
        target = urlsplit(direct_url)
        proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
        await proxy.start()
        plain = direct_url.replace("postgresql+asyncpg://", "postgresql://")
        admin = await asyncpg.connect(plain)
        await admin.execute("CREATE TABLE applied (sku TEXT PRIMARY KEY, times INT NOT NULL)")
        runtime = ServiceRuntime(
            Settings(
                database_url=through(direct_url, proxy.port),
                **{**service_env, "consumer_transient_backoff_s": 0.2, "consumer_transient_backoff_max_s": 1.0},
            ),
            metadata,
            MIGRATIONS,
            title="outage",
        )

        async def apply(event: StockUpdatedV1, tx: Tx) -> None:
            await tx.conn.execute(
                sa.text(
                    "INSERT INTO applied (sku, times) VALUES (:sku, 1) "
                    "ON CONFLICT (sku) DO UPDATE SET times = applied.times + 1"
                ),
                {"sku": event.data.sku},
            )

        runtime.consumer.on(StockUpdatedV1, apply)
        app = runtime.build_app()
        producer = await started_producer(kafka)
        try:
            async with running_service(app) as client:
                before = [stock_event(f"BEFORE-{i}") for i in range(5)]
                for event in before:
                    await send_event(producer, event)

                async def count() -> int:
                    return int(await admin.fetchval("SELECT count(*) FROM applied"))

                async def all_before() -> None:
                    assert await count() == 5

                await eventually(all_before)
                assert (await client.get("/ready")).status_code == 200

                await proxy.cut()
                outage_started = asyncio.get_running_loop().time()
                during = [stock_event(f"DURING-{i}") for i in range(20)]
                for event in during:
                    await send_event(producer, event)

                async def held_and_not_ready() -> None:
                    answer = await client.get("/ready")
                    assert answer.status_code == 503, answer.text
                    assert answer.json()["database"] == "unavailable"
                    assert runtime.consumer.database_unavailable, "the consumer holds the event it is on"
                    kafka_consumer = runtime.consumer._kafka_consumer()
                    assert kafka_consumer.paused(), "nothing is fetched ahead meanwhile"

                await eventually(held_and_not_ready, timeout=30)
                while asyncio.get_running_loop().time() - outage_started < OUTAGE_S:
                    await held_and_not_ready()  # stays so for the whole outage
                    await asyncio.sleep(0.5)
                await proxy.restore()

                async def all_applied() -> None:
                    assert await count() == 25

                await eventually(all_applied, timeout=60)

                async def ready_again() -> None:
                    assert (await client.get("/ready")).status_code == 200

                await eventually(ready_again, timeout=30)
                assert not runtime.consumer.database_unavailable
                assert not runtime.consumer._kafka_consumer().paused()
            rows = await admin.fetch("SELECT sku, times FROM applied")
            assert {r["sku"] for r in rows} == {e.data.sku for e in before + during}
            assert all(r["times"] == 1 for r in rows), [tuple(r) for r in rows if r["times"] != 1]
            metrics = generate_latest(runtime.registry).decode()
            dead_lettered = [line for line in metrics.splitlines() if line.startswith("oms_dlq_messages_total{")]
            assert dead_lettered and all(line.endswith(" 0.0") for line in dead_lettered), dead_lettered
            assert 'kind="unavailable"' in metrics
            assert await read_topic(kafka, dlq(STOCK_UPDATED), expect=1, timeout=3) == []
        finally:
            await producer.stop()
            await admin.close()
            await proxy.stop()


async def test_serialization_failures_and_deadlocks_are_retried_past_the_attempt_limit_not_dead_lettered(
    kafka: str,
) -> None:
    """A handler that loses a race five times in a row (PostgreSQL answers 40001, then 40P01 — more failures
    than ``max_attempts``) is tried again until it goes through: applied once, nothing dead-lettered; a bug in
    the same handler still goes to the dead-letter topic after the bounded attempts."""
    from oms_shared.consumer import ConsumerMetrics, EventConsumer
    from oms_shared.db import Database, create_engine, messaging_tables
    from oms_shared.service import make_broker
    from oms_shared.settings import ServiceSettings

    async with fresh_postgres_databases(1) as (url,):
        meta = sa.MetaData()
        messaging_tables(meta)
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(meta.create_all)
            await conn.execute(sa.text("CREATE TABLE applied (sku TEXT PRIMARY KEY, times INT NOT NULL)"))
        db = Database(engine, meta)
        registry = CollectorRegistry()
        consumer = EventConsumer(
            service="race",
            db=db,
            metrics=ConsumerMetrics(registry, "race"),
            max_attempts=3,
            retry_backoff_s=0.01,
            transient_backoff_s=0.01,
        )
        tries: dict[str, int] = {}

        async def apply(event: StockUpdatedV1, tx: Tx) -> None:
            sku = event.data.sku
            tries[sku] = tries.get(sku, 0) + 1
            if sku == "RACY" and tries[sku] <= 5:
                code = "40001" if tries[sku] % 2 else "40P01"
                await tx.conn.execute(
                    sa.text(f"DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '{code}'; END $$")
                )
            if sku == "BUGGY":
                raise RuntimeError("handler bug")
            await tx.conn.execute(
                sa.text(
                    "INSERT INTO applied (sku, times) VALUES (:sku, 1) "
                    "ON CONFLICT (sku) DO UPDATE SET times = applied.times + 1"
                ),
                {"sku": sku},
            )

        consumer.on(StockUpdatedV1, apply)
        broker = make_broker(ServiceSettings(service_name="race", kafka_bootstrap=kafka), registry)
        consumer.attach(broker, group_id=f"race-{uuid.uuid4().hex[:6]}")
        await broker.start()
        producer = await started_producer(kafka)
        try:
            for sku in ("RACY", "BUGGY", "AFTER"):
                await send_event(producer, stock_event(sku))

            async def after_applied() -> None:
                async with db.read() as conn:
                    rows = {r.sku: r.times for r in await conn.execute(sa.text("SELECT sku, times FROM applied"))}
                assert rows == {"RACY": 1, "AFTER": 1}

            await eventually(after_applied)
            dead = await read_topic(kafka, dlq(STOCK_UPDATED), expect=2, timeout=5)
        finally:
            await producer.stop()
            await broker.stop()
            await db.dispose()
    assert tries["RACY"] == 6 and tries["BUGGY"] == 3
    assert [json.loads(r.value)["data"]["sku"] for r in dead] == ["BUGGY"]
