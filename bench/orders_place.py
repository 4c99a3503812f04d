"""Placing an order on the local stack: p50/p95/p99 and orders/s of ``POST /api/v1/orders``; target p95 < 50 ms.

Run: ``.venv/bin/python bench/orders_place.py [--orders 500] [--concurrency 8] [--database postgresql|sqlite]``.
Starts the whole local stack (Tansu broker, SMTP catcher, the five services as processes) on free ports in a
temporary directory, with every ``OMS_*`` variable of the environment left out, exactly as ``oms up`` would run it,
each service on its own new PostgreSQL database on the server of ``OMS_TEST_POSTGRES_URL`` (dropped at the end;
``--database sqlite``: SQLite files, as ``oms up`` does by default). Signs up a
supplier and a buyer, creates a warehouse with stock (inventory), a buyer record and a price list of two products
(orders), as the demo story does, then places ``--orders`` orders of two lines over HTTP one after another and
``--orders`` more from ``--concurrency`` clients at once. The baseline, measured in the same run the same way:
``GET /health`` of orders. Every request carries an ``Idempotency-Key``, as the demo's writes do. Diagnostics (not
the target): the same placing without the key, and a second stack with only the orders service (so no consumer
of ``order.placed`` competes for the CPU); ``--no-diagnostics`` skips the second stack. ``--before-orders-src DIR``
also measures, in the same run, the whole stack with the orders service's code from ``DIR`` (an earlier
``services/orders/src``, e.g. from ``git archive``) for a before/after comparison. Access tokens live a minute:
the clients renew theirs with the session's refresh token as a browser would. On PostgreSQL each run also samples
how many of the orders database's backends wait on a lock (the serial point of a shared counter shows there).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from oms_shared.contracts import ProductUpdatedData, ProductUpdatedV1, make_event
from oms_shared.devstack.components import SERVICES
from oms_shared.devstack.stack import LocalStack
from oms_shared.outbox import make_producer

TARGET_MS = 50.0
WARM_UP = 10
SETTLE_S = 5.0
RENEW_AFTER_S = 40.0  # access tokens live 60 s
POSTGRES_URL = os.environ.get("OMS_TEST_POSTGRES_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PRODUCTS = [("BOLT-M8", "Болт М8×40", "шт"), ("NUT-M8", "Гайка М8", "шт")]


class Session:
    """An access token renewed with the refresh token before it expires (as the console does)."""

    def __init__(self, orders_url: str, answer: dict[str, Any]) -> None:
        self.orders_url = orders_url
        self.access, self.refresh = answer["access_token"], answer["refresh_token"]
        self.taken = time.monotonic()
        self.lock = asyncio.Lock()

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        if time.monotonic() - self.taken > RENEW_AFTER_S:
            async with self.lock:
                if time.monotonic() - self.taken > RENEW_AFTER_S:
                    r = await client.post(
                        f"{self.orders_url}/api/v1/auth/refresh", json={"refresh_token": self.refresh}
                    )
                    r.raise_for_status()
                    body = r.json()
                    self.access, self.refresh, self.taken = (
                        body["access_token"],
                        body["refresh_token"],
                        time.monotonic(),
                    )
        return {"Authorization": f"Bearer {self.access}"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Api:
    def __init__(self, urls: dict[str, str], client: httpx.Client) -> None:
        self.urls, self.client = urls, client

    def call(
        self, method: str, service: str, path: str, *, token: str = "", expect: int = 200, **kwargs: Any
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method != "GET":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        response = self.client.request(method, self.urls[service] + path, headers=headers, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {service}{path} answered {response.status_code}: {response.text[:500]}")
        body: dict[str, Any] = response.json() if response.content else {}
        return body

    def sign_up(self, kind: str, company: str, person: str) -> dict[str, Any]:
        suffix = uuid.uuid4().hex[:8]
        email, password = f"{kind}-{suffix}@example.com", f"bench-{suffix}-pass"
        owner = {"email": email, "password": password, "name": person, "locale": "ru"}
        body = {"kind": kind, "name": company, "inn": "77" + str(int(suffix, 16) % 10**8).zfill(8), "owner": owner}
        created = self.call("POST", "orders", "/api/v1/accounts", json=body, expect=201)
        token = self.call("POST", "orders", "/api/v1/auth/token", json={"email": email, "password": password})
        return {
            "account_id": created["account_id"],
            "user_id": created["user_id"],
            "token": token["access_token"],
            "answer": token,
        }


def set_up(urls: dict[str, str], bootstrap: str) -> tuple[dict[str, Any], str, str]:
    """Supplier, buyer, warehouse with stock, buyer record, price list; returns (buyer's sign-in answer, price list,
    warehouse).

    Without inventory in the stack the warehouse is only an id (orders accepts ids it has not replicated yet), and
    the products reach orders as inventory would send them: ``product.updated`` on the broker.
    """
    with httpx.Client(timeout=30) as client:
        api = Api(urls, client)
        supplier = api.sign_up("supplier", "ООО «Поставщик»", "Анна Петрова")
        buyer = api.sign_up("buyer", "ООО «Покупатель»", "Борис Иванов")
        s = supplier["token"]
        if "inventory" in urls:
            wh = set_up_inventory(api, s)
        else:
            wh = str(uuid.uuid4())
            asyncio.run(publish_products(bootstrap, supplier["account_id"]))
        buyer_rec = api.call(
            "POST",
            "orders",
            "/api/v1/buyers",
            token=s,
            json={
                "name": "ООО «Покупатель»",
                "inn": "7700000001",
                "kpp": "770001001",
                "buyer_account_id": buyer["account_id"],
                "manager_user_ids": [supplier["user_id"]],
            },
            expect=201,
        )
        body = {
            "name": "Крепёж опт",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [
                {"sku": "BOLT-M8", "price": "12.50", "vat_rate": "20"},
                {"sku": "NUT-M8", "price": "3.20", "vat_rate": "20"},
            ],
            "buyer_ids": [buyer_rec["buyer_id"]],
        }
        # A price list is built from the supplier's catalogue, which orders hears of from inventory shortly.
        deadline = time.monotonic() + 60
        while True:
            try:
                price_list = api.call("POST", "orders", "/api/v1/price-lists", token=s, json=body, expect=201)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        return buyer["answer"], price_list["price_list_id"], wh


async def publish_products(bootstrap: str, supplier_id: str) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for sku, name, unit in PRODUCTS:
            event = make_event(
                ProductUpdatedV1,
                tenant_id=uuid.UUID(supplier_id),
                aggregate_id=sku,
                data=ProductUpdatedData(sku=sku, name=name, unit=unit),
                producer="inventory",
            )
            await producer.send_and_wait(
                event.TOPIC, event.to_json(), key=event.partition_key().encode(), headers=event.kafka_header_list()
            )
    finally:
        await producer.stop()


def set_up_inventory(api: Api, token: str) -> str:
    wh: str = api.call(
        "POST", "inventory", "/api/v1/warehouses", token=token, json={"code": "MSK", "name": "Москва"}, expect=201
    )["warehouse_id"]
    products = [{"sku": sku, "name": name, "unit": unit} for sku, name, unit in PRODUCTS]
    api.call("POST", "inventory", "/api/v1/products", token=token, json={"items": products})
    stock = [
        {"warehouse_id": wh, "sku": "BOLT-M8", "on_hand": "100000"},
        {"warehouse_id": wh, "sku": "NUT-M8", "on_hand": "100000"},
    ]
    api.call("PUT", "inventory", "/api/v1/stock", token=token, json={"items": stock})
    return wh


async def timed_runs(
    n: int, concurrency: int, request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], expect: int
) -> tuple[list[float], float, int]:
    """``n`` requests from ``concurrency`` clients; returns latencies (ms), wall time (s) and failures."""
    times: list[float] = []
    failures = 0
    counter = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for k in range(WARM_UP):  # connections open, code paths warm; not counted
            await request(client, -1 - k)

        async def worker() -> None:
            nonlocal failures
            for k in counter:
                started = time.perf_counter()
                response = await request(client, k)
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != expect:
                    failures += 1
                    if failures <= 3:
                        print(f"  unexpected {response.status_code}: {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return times, wall, failures


async def measure(
    urls: dict[str, str],
    signed_in: dict[str, Any],
    price_list: str,
    wh: str,
    n: int,
    concurrency: int,
    whole: bool,
    label: str,
    orders_db: str | None = None,
) -> list[Any]:
    orders_url = urls["orders"]
    session = Session(orders_url, signed_in)
    today = date.today().isoformat()

    def order_body(k: int) -> dict[str, Any]:
        return {
            "price_list_id": price_list,
            "lines": [
                {"sku": "BOLT-M8", "warehouse_id": wh, "quantity": str(1 + abs(k) % 20)},
                {"sku": "NUT-M8", "warehouse_id": wh, "quantity": str(2 + abs(k) % 30)},
            ],
            "desired_shipment_date": today,
            "comment": "Доставка до 12:00",
            "one_shipment": False,
        }

    async def place(client: httpx.AsyncClient, k: int) -> httpx.Response:
        headers = {**await session.headers(client), "Idempotency-Key": uuid.uuid4().hex}
        return await client.post(f"{orders_url}/api/v1/orders", json=order_body(k), headers=headers)

    async def place_without_key(client: httpx.AsyncClient, k: int) -> httpx.Response:
        return await client.post(
            f"{orders_url}/api/v1/orders", json=order_body(k), headers=await session.headers(client)
        )

    async def health(client: httpx.AsyncClient, _k: int) -> httpx.Response:
        return await client.get(f"{orders_url}/health")

    c = concurrency
    runs: list[tuple[str, Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]], int, int, float | None]]
    if whole:
        runs = [
            ("baseline: GET /health of orders, sequential", health, 200, 1, None),
            ("place an order (POST /api/v1/orders), sequential", place, 201, 1, TARGET_MS),
            ("diagnostic: place, sequential, no Idempotency-Key", place_without_key, 201, 1, None),
            (f"baseline: GET /health of orders, {c} clients", health, 200, c, None),
            (f"place an order, {c} concurrent clients", place, 201, c, TARGET_MS),
        ]
    else:
        runs = [
            ("diagnostic: orders alone: place, sequential", place, 201, 1, None),
            (f"diagnostic: orders alone: place, {c} clients", place, 201, c, None),
        ]
    rows: list[Any] = []
    for name, request, expect, workers, target in runs:
        await asyncio.sleep(SETTLE_S)  # let the consumers of the previous run's events catch up
        sampler = LockSampler(orders_db) if orders_db else None
        if sampler:
            await sampler.start()
        try:
            times, wall, failures = await timed_runs(n, workers, request, expect)
        finally:
            waits = await sampler.stop() if sampler else ""
        name = label + name
        rows.append((name, times, n / wall, failures, target, waits))
        print(f"  {name}: p95 {pct(times, 95):.1f} ms, {n / wall:.0f}/s, lock waits {waits}", flush=True)
    return rows


class LockSampler:
    """How many of the orders database's backends wait on a lock, sampled every 20 ms while a run goes on."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+asyncpg://", "postgresql://")
        self.samples: list[int] = []
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.conn = await asyncpg.connect(self.url)
        self.task = asyncio.create_task(self.sample())

    async def sample(self) -> None:
        while True:
            waiting = await self.conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            self.samples.append(int(waiting))
            await asyncio.sleep(0.02)

    async def stop(self) -> str:
        assert self.task is not None
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass
        await self.conn.close()
        if not self.samples:
            return "-"
        return f"{sum(self.samples) / len(self.samples):.1f}/{max(self.samples)}"


def print_table(rows: list[Any], info: dict[str, str]) -> None:
    widths = [60, 5, 8, 8, 8, 8, 9, 6, 12, 11]
    head = ["scenario", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "per s", "fail", "target", "lock waits"]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    print("\n" + line(head))
    print("-" * (sum(widths) + 2 * len(widths)))
    for name, times, rate, failures, target, waits in rows:
        verdict = f"<{target:.0f} {'PASS' if pct(times, 95) < target and not failures else 'FAIL'}" if target else ""
        print(
            line(
                [
                    name[:60],
                    str(len(times)),
                    f"{pct(times, 50):.1f}",
                    f"{pct(times, 95):.1f}",
                    f"{pct(times, 99):.1f}",
                    f"{max(times):.1f}",
                    f"{rate:.0f}",
                    str(failures),
                    verdict,
                    waits or "-",
                ]
            )
        )
    for k, v in info.items():
        print(f"{k}: {v}")


async def databases(names: list[str], *, drop: bool) -> None:
    """Create (or drop) the benchmark's PostgreSQL databases on the server of ``POSTGRES_URL``."""
    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for name in names:
            if drop:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def run_stack(
    services: list[str] | None,
    n: int,
    concurrency: int,
    *,
    database: str,
    orders_src: str | None = None,
    label: str = "",
) -> list[Any]:
    """Start a local stack (all services, or only ``services``) in a temp dir, measure, stop, clean up.

    ``orders_src``: run the orders service from that source folder (put first on its ``PYTHONPATH``)."""
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-place-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    if orders_src:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (orders_src, env.get("PYTHONPATH", "")) if p)
    names: dict[str, str] = {}
    if database == "postgresql":
        run = uuid.uuid4().hex[:8]
        names = {s.env_name: f"oms_bench_place_{s.env_name.lower()}_{run}" for s in SERVICES}
        asyncio.run(databases(list(names.values()), drop=False))
        head = POSTGRES_URL.rpartition("/")[0]
        for env_name, db_name in names.items():
            env[f"OMS_{env_name}_DATABASE_URL"] = f"{head}/{db_name}"
    stack = LocalStack.on_free_ports(tmp, env=env, services=services)
    try:
        stack.start()
        print(f"local stack up in {stack.started_in_s:.1f} s: {stack.urls}", flush=True)
        started = time.perf_counter()
        signed_in, price_list, wh = set_up(stack.urls, stack.bootstrap)
        print(f"accounts, warehouse, buyer record and price list in {time.perf_counter() - started:.1f} s")
        return asyncio.run(
            measure(
                stack.urls,
                signed_in,
                price_list,
                wh,
                n,
                concurrency,
                whole=services is None,
                label=label,
                orders_db=env.get("OMS_ORDERS_DATABASE_URL"),
            )
        )
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if names:
            asyncio.run(databases(list(names.values()), drop=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=500, help="orders per run (sequential, then concurrent)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--no-diagnostics", dest="diagnostics", action="store_false", help="skip the orders-alone stack"
    )
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--before-orders-src", metavar="DIR", help="also measure the whole stack with the orders code of DIR (before)"
    )
    args = parser.parse_args(argv)
    rows: list[Any] = []
    if args.before_orders_src:
        print(f"before: the whole local stack with the orders service of {args.before_orders_src}:")
        rows += run_stack(
            None,
            args.orders,
            args.concurrency,
            database=args.database,
            orders_src=args.before_orders_src,
            label="before: ",
        )
    print("the whole local stack (broker, SMTP catcher, five services):")
    rows += run_stack(None, args.orders, args.concurrency, database=args.database)
    if args.diagnostics:
        print("diagnostic: the same stack with only the orders service (no consumers of order.placed):")
        rows += run_stack(["orders"], args.orders, args.concurrency, database=args.database)
    where = (
        f"a new PostgreSQL database per service on {POSTGRES_URL.rpartition('@')[2]}"
        if args.database == "postgresql"
        else "SQLite databases in a temp dir"
    )
    print_table(
        rows,
        {
            "stack": f"local: Tansu broker, SMTP catcher, service processes, {where} (no other OMS_* variables)",
            "orders": "two lines each, price list without auto-confirm (the order stays 'new'); "
            f"{WARM_UP} warm-up requests per run not counted, {SETTLE_S:.0f} s pause before each run; every placing "
            "request has an Idempotency-Key "
            "except the row that says otherwise",
            "lock waits": "orders database backends waiting on a lock during the run, mean/max of samples every "
            "20 ms (PostgreSQL only)",
            "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        },
    )
    ok = all(pct(times, 95) < target and not failures for _, times, _, failures, target, _ in rows if target)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
