"""Notifications end to end: order events on Kafka → in-app notifications → e-mails caught by an SMTP server.

Run: ``python bench/notifications_throughput.py [--orders N] [--staff S]`` (defaults 500 orders, 3 supplier
recipients each). Starts its own Tansu broker and an aiosmtpd catcher, runs the notifications service
in-process on SQLite (and again on PostgreSQL when ``OMS_TEST_POSTGRES_URL`` is set), publishes N
``order.placed`` events at once and measures how fast the notifications and e-mails appear. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import sqlalchemy as sa

from oms_devstack.procs import free_port, stop_groups, tcp_accepts
from oms_devstack.tansu import TansuBroker
from oms_notifications.app import create_app
from oms_notifications.db import emails, notifications, users
from oms_notifications.settings import Settings
from oms_shared.contracts import (
    AccessLevel,
    AccountUpdatedData,
    AccountUpdatedV1,
    Event,
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    UserInfo,
    make_event,
)
from oms_shared.kafka import ensure_topics
from oms_shared.outbox import make_producer
from oms_shared.topics import all_topics_with_dlq


@contextmanager
def smtp_catcher(directory: Path) -> Iterator[int]:
    """The SMTP catcher in its own process, as in the local stack (not competing with the service for the GIL)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oms_devstack.mailcatcher", "--port", str(port), "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not tcp_accepts("127.0.0.1", port):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("the SMTP catcher did not start")
            time.sleep(0.05)
        yield port
    finally:
        stop_groups([proc])


def setup_and_orders(orders: int, staff: int) -> tuple[list[Event], list[Event]]:
    supplier = uuid.uuid4()
    users = [
        UserInfo(
            user_id=uuid.uuid4(),
            email=f"staff{i}@bench.test",
            name=f"Staff {i}",
            is_owner=i == 0,
            access_orders=AccessLevel.FULL,
            locale="ru" if i % 2 == 0 else "en",
        )
        for i in range(staff)
    ]
    account = make_event(
        AccountUpdatedV1,
        tenant_id=supplier,
        aggregate_id=str(supplier),
        data=AccountUpdatedData(account_id=supplier, kind="supplier", name="Bench supplier", users=users),
    )
    placed = []
    for n in range(orders):
        order_id = uuid.uuid4()
        line = OrderLine(line_id=uuid.uuid4(), sku="SKU-1", quantity=Decimal(3), price=Decimal("9.90"))
        placed.append(
            make_event(
                OrderPlacedV1,
                tenant_id=supplier,
                aggregate_id=str(order_id),
                data=OrderPlacedData(
                    order_id=order_id,
                    number=str(10000 + n),
                    buyer_id=uuid.uuid4(),
                    buyer_name="Bench buyer",
                    status=OrderStatus.NEW,
                    lines=[line],
                    total=Decimal("29.70"),
                    created_at=datetime.now(UTC),
                ),
            )
        )
    return [account], placed


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


async def count(app: object, table: sa.Table, *where: object) -> int:
    db = app.state.runtime.db  # type: ignore[attr-defined]
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table).where(*where)) or 0)


async def run(label: str, url: str, bootstrap: str, orders: int, staff: int, workdir: Path) -> dict[str, object]:
    mail_dir = workdir / f"mail-{label}"
    with smtp_catcher(mail_dir) as smtp_port:
        settings = Settings(
            database_url=url,
            kafka_bootstrap=bootstrap,
            consumer_group=f"bench-{uuid.uuid4().hex[:8]}",
            smtp_port=smtp_port,
            email_poll_interval_s=0.05,
            email_batch_size=200,
            log_json=False,
            log_level="WARNING",
            jwt_public_key_file=str(workdir / "none.pem"),
        )
        app = create_app(settings)
        setup, placed = setup_and_orders(orders, staff)
        async with app.router.lifespan_context(app):
            await publish(bootstrap, setup)
            while await count(app, users) < staff:  # noqa: ASYNC110 - polling the service's database
                await asyncio.sleep(0.05)
            expected = orders * staff
            started = time.perf_counter()
            await publish(bootstrap, placed)
            in_app_s = mail_s = 0.0
            deadline = started + 600
            while time.perf_counter() < deadline:
                if not in_app_s and await count(app, notifications) >= expected:
                    in_app_s = time.perf_counter() - started
                if sum(1 for _ in mail_dir.glob("*.eml")) >= expected:
                    mail_s = time.perf_counter() - started
                    break
                await asyncio.sleep(0.05)
            # The catcher has them all; give the sender a moment to record the last batch as sent.
            settle = time.perf_counter() + 10
            while (sent := await count(app, emails, emails.c.status == "sent")) < expected:
                if time.perf_counter() > settle:
                    break
                await asyncio.sleep(0.05)
    return {
        "db": label,
        "orders": orders,
        "notifications": expected,
        "in_app_s": in_app_s,
        "email_s": mail_s,
        "in_app_per_s": expected / in_app_s if in_app_s else 0.0,
        "email_per_s": expected / mail_s if mail_s else 0.0,
        "sent": sent,
    }


async def postgres_url(base: str) -> tuple[str, str]:
    name = f"oms_bench_nt_{uuid.uuid4().hex[:8]}"
    plain = base.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return base.rpartition("/")[0] + "/" + name, name


async def drop_postgres(base: str, name: str) -> None:
    conn = await asyncpg.connect(base.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def on_fresh_broker(label: str, url: str, orders: int, staff: int, workdir: Path) -> dict[str, object]:
    """Each run gets its own broker: a new consumer group reads from the start and must not see another run's events."""
    broker = TansuBroker(die_with_parent=True)
    broker.start()
    try:
        await ensure_topics(broker.bootstrap, all_topics_with_dlq())
        return await run(label, url, broker.bootstrap, orders, staff, workdir)
    finally:
        broker.stop()


async def main_async(orders: int, staff: int) -> int:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ.setdefault("OMS_VAR_DIR", str(workdir / "var"))
        sqlite_url = f"sqlite+aiosqlite:///{workdir / 'nt.db'}"
        results.append(await on_fresh_broker("sqlite", sqlite_url, orders, staff, workdir))
        pg = os.environ.get("OMS_TEST_POSTGRES_URL")
        if pg:
            url, name = await postgres_url(pg)
            try:
                results.append(await on_fresh_broker("postgresql", url, orders, staff, workdir))
            finally:
                await drop_postgres(pg, name)
    print()
    print(f"notifications end to end: {orders} order.placed events x {staff} recipients (in-app + e-mail each)")
    header = (
        f"{'db':<11} {'orders':>7} {'notif.':>7} {'in-app s':>9} {'in-app/s':>9} {'e-mail s':>9} {'e-mail/s':>9}"
        f" {'sent':>6}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    for r in results:
        print(
            f"{r['db']:<11} {r['orders']:>7} {r['notifications']:>7} {r['in_app_s']:>9.2f} {r['in_app_per_s']:>9.0f} "
            f"{r['email_s']:>9.2f} {r['email_per_s']:>9.0f} {r['sent']:>6}"
        )
        ok = ok and r["email_s"] != 0.0
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--staff", type=int, default=3)
    args = parser.parse_args()
    return asyncio.run(main_async(args.orders, args.staff))


if __name__ == "__main__":
    sys.exit(main())
