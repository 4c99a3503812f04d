"""The whole pipeline at rising rates: orders/s sustained, events/s beside the raw broker rate, CPU per order.

Run: ``.venv/bin/python bench/pipeline.py [--rates 5,10,20,40] [--duration 10] [--buyers 4] [--replicas 1|2]
[--database postgresql|sqlite] [--p99-bound-ms 2000]``.

Starts the whole local stack (``LocalStack.on_free_ports`` in a temp dir, no ``OMS_*`` variables but the databases:
Tansu, the SMTP catcher, the five services as processes, each on a new PostgreSQL database on the server of
``OMS_TEST_POSTGRES_URL``, dropped at the end). ``--replicas 2`` starts a second process of every service beside
the stack's own (same databases, same consumer groups: the replicas share the topics' partitions; HTTP goes to the
first). Sets up a supplier, ``--buyers`` buyers with buyer records, a warehouse with stock and a price list of four
products (one with no stock, so that orders holding it split), then:

1. places and confirms one warm-up order and reads its events off the topics, to learn an order's event size;
2. measures the raw broker rate with events of that size: batched aiokafka produce (``acks=all``, as the services'
   producer) and plain consume, on a topic of its own on the same broker;
3. drives the pipeline over HTTP at each offered rate of ``--rates`` for ``--duration`` seconds: every order is a
   buyer placing three lines, then the manager acting on it — 10 % rejected, 10 % edited (editing → awaiting
   approval → agreed by the buyer → confirmed), 10 % holding the product without stock (confirmed, so they split),
   20 % confirmed and shipped once reserved, the rest confirmed. An order counts as done when its last step is
   answered and, if confirmed, inventory's ``reserve.updated`` for it is on the topic. A step breaks when orders
   done per second fall under 80 % of the offered rate or the p99 of confirm → ``reserve.updated`` passes
   ``--p99-bound-ms``; the run stops at the first broken step.

The bench reads every business topic with its own consumer: events/s is what the pipeline put on the broker during
the step. Place → e-mail delivered is the first ``sent_at`` of the order's e-mails in notifications'
``GET /api/v1/emails`` (the SMTP catcher accepted it) minus when the bench sent the placing request (one clock).
At the end it waits for analytics to count every order placed. CPU-seconds are ``utime + stime`` from ``/proc`` of
every process of each component (a service's whole process group), and of the PostgreSQL backends connected to the
bench's databases (those alive when sampled); peak RSS is ``VmHWM``. Prints a table and writes
``bench/results/pipeline-<UTC date and time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from orders_place import POSTGRES_URL, Api, Session, databases, pct

from oms_devstack.components import SERVICES
from oms_devstack.stack import LocalStack
from oms_shared.kafka import ensure_topics
from oms_shared.outbox import make_producer
from oms_shared.topics import ALL_TOPICS, RESERVE_UPDATED

RAW_TOPIC = "bench.pipeline.raw"
RAW_MESSAGES = 20_000
IDLE_S = 10.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_LINES = [("BOLT-M8", "Болт М8×40"), ("NUT-M8", "Гайка М8"), ("WASHER-M8", "Шайба М8"), ("GEAR-40", "Шестерня")]
# The throughput targets, judged on this machine.
TARGET_ORDERS_S = 500.0
TARGET_BROKER_SHARE = 0.10
TARGET_CPU_MS_PER_ORDER = 5.0
TARGET_RESERVE_P99_MS = 150.0
TARGET_RSS_IDLE_MB = 150.0
TARGET_RSS_LOAD_MB = 300.0


# -- processes: CPU-seconds and RSS from /proc ----------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(session id, process group, CPU-seconds) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[3]), int(fields[2]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


@dataclass
class Component:
    name: str
    leaders: list[int]  # a process each; every process of its session counts (a service's children too)
    whole_session: bool = True

    def pids(self, every: list[int]) -> list[int]:
        if not self.whole_session:
            return list(self.leaders)
        found = set(self.leaders)
        for pid in every:
            st = _stat(pid)
            if st and st[0] in self.leaders:
                found.add(pid)
        return sorted(found)


@dataclass
class Sample:
    cpu: dict[str, float]
    rss_mb: dict[str, float]  # resident now
    hwm_mb: dict[str, float]  # peak resident so far
    # Transactions each service's database committed or rolled back so far (pg_stat_database; flushed ~1 s late).
    xacts: dict[str, int] = field(default_factory=dict)


class Meter:
    def __init__(self, components: list[Component], pg_databases: dict[str, str]) -> None:
        self.components, self.pg_databases = components, list(pg_databases)
        self.service_of = pg_databases  # database name → service
        self.pg_cpu_seen: dict[int, float] = {}

    async def sample(self) -> Sample:
        every = _all_pids()
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        hwm: dict[str, float] = {}
        for c in self.components:
            pids = c.pids(every)
            cpu[c.name] = sum((st[2] for st in map(_stat, pids) if st), 0.0)
            rss[c.name] = sum(_status_kb(p, "VmRSS") for p in pids) / 1024
            hwm[c.name] = sum(_status_kb(p, "VmHWM") for p in pids) / 1024
        if self.pg_databases:
            conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                rows = await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = ANY($1::text[])", self.pg_databases
                )
                counts = await conn.fetch(
                    "SELECT datname, xact_commit + xact_rollback AS n FROM pg_stat_database"
                    " WHERE datname = ANY($1::text[])",
                    self.pg_databases,
                )
                xacts = {self.service_of[r["datname"]]: int(r["n"]) for r in counts}
            finally:
                await conn.close()
            for row in rows:
                st = _stat(int(row["pid"]))
                if st:
                    self.pg_cpu_seen[int(row["pid"])] = st[2]
            # Backends that exited keep the CPU they were last seen with.
            cpu["postgres"] = sum(self.pg_cpu_seen.values())
            return Sample(cpu, rss, hwm, xacts)
        return Sample(cpu, rss, hwm)


# -- the broker: raw rate and what the pipeline puts on it ---------------------------------------------------


async def raw_rates(bootstrap: str, size: int, n: int) -> tuple[float, float]:
    """Batched produce (acks=all, the services' producer settings) and plain consume of ``n`` events of ``size``."""
    await ensure_topics(bootstrap, [RAW_TOPIC])
    payload = json.dumps({"x": "y" * max(size - 10, 1)}).encode()
    producer = make_producer(bootstrap, client_id="bench-raw")
    await producer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(RAW_TOPIC, payload, key=str(i % 97).encode()) for i in range(n)]
        await asyncio.gather(*futures)
        produce = n / (time.perf_counter() - started)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        RAW_TOPIC,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        seen, started = 0, 0.0
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if batch and not started:
                started = time.perf_counter()
            seen += sum(len(v) for v in batch.values())
        consume = n / max(time.perf_counter() - started, 1e-9)
    finally:
        await consumer.stop()
    return produce, consume


class Watcher:
    """Reads every business topic: counts events (and bytes) as they arrive, resolves waits for reserve.updated."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.arrivals: list[tuple[float, str, int]] = []  # (broker timestamp s, topic, bytes)
        self.reserved_at: dict[str, float] = {}  # order id -> broker timestamp of its first reserve.updated
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            *ALL_TOPICS,
            bootstrap_servers=self.bootstrap,
            group_id=f"bench-watch-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
        )
        await self.consumer.start()
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batch.items():
                for r in records:
                    ts = r.timestamp / 1000
                    self.arrivals.append((ts, tp.topic, len(r.value or b"")))
                    if tp.topic != RESERVE_UPDATED or not r.value:
                        continue
                    order_id = str(json.loads(r.value).get("data", {}).get("order_id"))
                    if order_id not in self.reserved_at:
                        self.reserved_at[order_id] = ts
                        fut = self.waiting.pop(order_id, None)
                        if fut and not fut.done():
                            fut.set_result(ts)

    def expect_reserve(self, order_id: str) -> asyncio.Future[float]:
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        if order_id in self.reserved_at:
            fut.set_result(self.reserved_at[order_id])
        else:
            self.waiting[order_id] = fut
        return fut

    def events_between(self, start: float, end: float) -> int:
        return sum(1 for ts, _, _ in self.arrivals if start <= ts < end)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        await self.consumer.stop()


# -- the load -----------------------------------------------------------------------------------------------


@dataclass
class World:
    urls: dict[str, str]
    manager: dict[str, Any]
    buyers: list[dict[str, Any]]
    price_list: str
    wh: str


@dataclass
class Flow:
    kind: str
    placed_at: float = 0.0  # wall clock when the placing request was sent
    place_ms: float = 0.0
    order_id: str = ""
    confirmed_at: float = 0.0
    reserve_ms: float | None = None
    done_at: float | None = None
    error: str = ""


def set_up(urls: dict[str, str], buyers: int) -> World:
    with httpx.Client(timeout=60) as client:
        api = Api(urls, client)
        supplier = api.sign_up("supplier", "ООО «Поставщик»", "Анна Петрова")
        s = supplier["token"]
        wh: str = api.call(
            "POST", "inventory", "/api/v1/warehouses", token=s, json={"code": "MSK", "name": "Москва"}, expect=201
        )["warehouse_id"]
        products = [{"sku": sku, "name": name, "unit": "шт"} for sku, name in PAGE_LINES]
        api.call("POST", "inventory", "/api/v1/products", token=s, json={"items": products})
        stock = [
            {"warehouse_id": wh, "sku": sku, "on_hand": "0" if sku == "GEAR-40" else "100000000"}
            for sku, _ in PAGE_LINES
        ]
        api.call("PUT", "inventory", "/api/v1/stock", token=s, json={"items": stock})
        people = [api.sign_up("buyer", f"ООО «Покупатель {k}»", f"Покупатель {k}") for k in range(buyers)]
        records = [
            api.call(
                "POST",
                "orders",
                "/api/v1/buyers",
                token=s,
                json={
                    "name": f"ООО «Покупатель {k}»",
                    "inn": f"77{k:08d}",
                    "kpp": "770001001",
                    "buyer_account_id": b["account_id"],
                    "manager_user_ids": [supplier["user_id"]],
                },
                expect=201,
            )["buyer_id"]
            for k, b in enumerate(people)
        ]
        body = {
            "name": "Крепёж опт",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [{"sku": sku, "price": "12.50", "vat_rate": "20"} for sku, _ in PAGE_LINES],
            "buyer_ids": records,
        }
        deadline = time.monotonic() + 120  # the catalogue reaches orders from inventory shortly
        while True:
            try:
                price_list = api.call("POST", "orders", "/api/v1/price-lists", token=s, json=body, expect=201)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        return World(urls, supplier["answer"], [b["answer"] for b in people], price_list["price_list_id"], wh)


def kind_of(k: int) -> str:
    return {0: "reject", 1: "edit", 2: "ship", 3: "ship", 4: "split"}.get(k % 10, "confirm")


class Driver:
    def __init__(self, world: World, watcher: Watcher, client: httpx.AsyncClient) -> None:
        self.w, self.watcher, self.client = world, watcher, client
        self.orders = world.urls["orders"]
        self.manager = Session(self.orders, world.manager)
        self.buyers = [Session(self.orders, b) for b in world.buyers]
        self.today = date.today().isoformat()

    async def call(
        self, who: Session, method: str, path: str, expect: int = 200, etag: str = "", **kw: Any
    ) -> httpx.Response:
        headers = await who.headers(self.client)
        if method != "GET":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        if etag:
            headers["If-Match"] = etag
        r = await self.client.request(method, self.orders + path, headers=headers, **kw)
        if r.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {r.status_code}: {r.text[:300]}")
        return r

    async def move(self, who: Session, flow: Flow, to: str, etag: str) -> str:
        r = await self.call(
            who, "POST", f"/api/v1/orders/{flow.order_id}/transitions", etag=etag, json={"to": to, "comment": "bench"}
        )
        return r.headers.get("etag", "")

    async def confirm(self, flow: Flow, etag: str) -> str:
        reserve = self.watcher.expect_reserve(flow.order_id)
        flow.confirmed_at = time.time()
        etag = await self.move(self.manager, flow, "confirmed", etag)
        at = await asyncio.wait_for(reserve, timeout=120)
        flow.reserve_ms = (at - flow.confirmed_at) * 1000
        return etag

    async def run(self, k: int, flow: Flow) -> None:
        buyer = self.buyers[k % len(self.buyers)]
        third = "GEAR-40" if flow.kind == "split" else "WASHER-M8"
        body = {
            "price_list_id": self.w.price_list,
            "lines": [
                {"sku": "BOLT-M8", "warehouse_id": self.w.wh, "quantity": str(1 + k % 20)},
                {"sku": "NUT-M8", "warehouse_id": self.w.wh, "quantity": str(2 + k % 30)},
                {"sku": third, "warehouse_id": self.w.wh, "quantity": "3"},
            ],
            "desired_shipment_date": self.today,
            "comment": "Доставка до 12:00",
            "one_shipment": False,
        }
        try:
            flow.placed_at = time.time()
            started = time.perf_counter()
            r = await self.call(buyer, "POST", "/api/v1/orders", expect=201, json=body)
            flow.place_ms = (time.perf_counter() - started) * 1000
            order = r.json()
            flow.order_id = order["order_id"]
            etag = r.headers.get("etag") or f'"{order["version"]}"'
            if flow.kind == "reject":
                await self.move(self.manager, flow, "rejected", etag)
            elif flow.kind == "edit":
                first = order["lines"][0]
                r = await self.call(
                    self.manager,
                    "POST",
                    f"/api/v1/orders/{flow.order_id}/lines",
                    etag=etag,
                    json={"edit": [{"line_id": first["line_id"], "quantity": "7"}], "comment": "bench"},
                )
                etag = await self.move(self.manager, flow, "awaiting_approval", r.headers.get("etag", ""))
                etag = await self.move(buyer, flow, "agreed", etag)
                await self.confirm(flow, etag)
            else:
                etag = await self.confirm(flow, etag)
                if flow.kind == "ship":
                    seen = await self.call(self.manager, "GET", f"/api/v1/orders/{flow.order_id}")
                    await self.move(self.manager, flow, "shipped", seen.headers.get("etag", etag))
            flow.done_at = time.time()
        except Exception as exc:  # a failed order is counted and shown; the run goes on
            flow.error = f"{type(exc).__name__}: {exc}"[:300]


@dataclass
class Step:
    offered: float
    flows: list[Flow] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    xacts: dict[str, int] = field(default_factory=dict)
    events: int = 0


async def run_step(driver: Driver, offered: float, duration: float, first_k: int, grace: float) -> Step:
    step = Step(offered)
    n = max(1, round(offered * duration))
    step.start = time.time()
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):  # open loop: an order starts every 1/rate s whether or not the earlier ones are done
        delay = t0 + i / offered - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        flow = Flow(kind_of(first_k + i))
        step.flows.append(flow)
        tasks.append(asyncio.create_task(driver.run(first_k + i, flow)))
    _, pending = await asyncio.wait(tasks, timeout=duration + grace)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for f in step.flows:
        if f.done_at is None and not f.error:
            f.error = "not done within the step and its grace"
    step.end = max([f.done_at for f in step.flows if f.done_at] or [time.time()])
    step.events = driver.watcher.events_between(step.start, step.end)
    return step


async def emails_sent(url: str, token: str) -> dict[str, float]:
    """First ``sent_at`` per order among the e-mails the supplier's outbox shows (wall clock, s)."""
    first: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=60) as client:
        offset = 0
        while True:
            r = await client.get(
                f"{url}/api/v1/emails",
                params={"status": "sent", "limit": 500, "offset": offset},
                headers={"Authorization": f"Bearer {token}"},
            )
            r.raise_for_status()
            items = r.json()["items"]
            for m in items:
                if m.get("order_id") and m.get("sent_at"):
                    at = datetime.fromisoformat(m["sent_at"]).timestamp()
                    first[m["order_id"]] = min(at, first.get(m["order_id"], at))
            if len(items) < 500:
                return first
            offset += 500


async def analytics_count(url: str, token: str, wanted: int, timeout: float) -> tuple[int, float]:
    """Wait until analytics counts ``wanted`` orders today; (count seen, seconds waited)."""
    today = date.today().isoformat()
    started = time.monotonic()
    count = 0
    async with httpx.AsyncClient(timeout=60) as client:
        while time.monotonic() - started < timeout:
            r = await client.get(
                f"{url}/api/v1/summary",
                params={"date_from": today, "date_to": today},
                headers={"Authorization": f"Bearer {token}"},
            )
            if r.status_code == 200:
                count = int(r.json().get("orders_count") or 0)
                if count >= wanted:
                    break
            await asyncio.sleep(0.5)
    return count, time.monotonic() - started


# -- replicas -----------------------------------------------------------------------------------------------


def start_profiles(
    stack: LocalStack, folder: Path | None, rate: float, duration: float
) -> list[subprocess.Popen[bytes]]:
    """py-spy (beside the bench's Python) samples each service's process for the step: folded stacks, one file each."""
    if folder is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).with_name("py-spy"))
    procs = []
    for name, child in stack.children.items():
        out = folder / f"{name}-{rate:g}.folded"
        cmd = [spy, "record", "--nonblocking", "--format", "raw", "-r", "97", "-d", str(int(duration)), "-o", str(out)]
        procs.append(
            subprocess.Popen([*cmd, "-p", str(child.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    return procs


def stop_profiles(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
            p.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_replicas(stack: LocalStack) -> dict[str, subprocess.Popen[bytes]]:
    """A second process of every service: same environment and databases, its own HTTP port."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    for spec in stack.services:
        child = stack.children[spec.name]
        env = dict(child.env)
        ports[spec.name] = free_port()
        env[f"OMS_{spec.env_name}_HTTP_PORT"] = str(ports[spec.name])
        with (stack.log_dir / f"{spec.name}-2.log").open("wb") as log:
            procs[spec.name] = subprocess.Popen(
                child.argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
    deadline = time.monotonic() + 180
    with httpx.Client(timeout=2) as client:
        for name, port in ports.items():
            while True:
                if procs[name].poll() is not None:
                    raise RuntimeError(f"the second {name} exited with {procs[name].returncode}")
                try:
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the second {name} was not ready within 180 s")
                time.sleep(0.3)
    return procs


def stop_replicas(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for p in procs.values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# -- the run ------------------------------------------------------------------------------------------------


async def drive(stack: LocalStack, world: World, meter: Meter, args: argparse.Namespace) -> dict[str, Any]:
    watcher = Watcher(stack.bootstrap)
    await watcher.start()
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=64)
    try:
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            driver = Driver(world, watcher, client)
            print("warm-up: one order placed and confirmed, its events read off the topics", flush=True)
            warm = Flow("confirm")
            await driver.run(5, warm)
            if warm.error:
                raise RuntimeError(f"the warm-up order failed: {warm.error}")
            await asyncio.sleep(3)  # the warm-up's later events (notifications, analytics) reach the topics
            sizes = [b for _, _, b in watcher.arrivals if b]
            size = round(sum(sizes) / len(sizes)) if sizes else 1000
            print(f"raw broker rate: {RAW_MESSAGES} events of {size} bytes", flush=True)
            produce, consume = await raw_rates(stack.bootstrap, size, RAW_MESSAGES)
            raw = 1 / (1 / produce + 1 / consume)  # produce and consume the same event, one after the other
            print(f"  produce {produce:,.0f}/s, consume {consume:,.0f}/s, both {raw:,.0f}/s", flush=True)
            idle = await meter.sample()
            await asyncio.sleep(IDLE_S)  # nothing offered: what the stack burns doing nothing
            idle_end = await meter.sample()
            idle_cpu = {n: (idle_end.cpu[n] - idle.cpu.get(n, 0.0)) * 100 / IDLE_S for n in idle_end.cpu}
            steps: list[Step] = []
            k = 100
            for rate in args.rates:
                spies = start_profiles(stack, args.profile, rate, args.duration)
                before = await meter.sample()
                step = await run_step(driver, rate, args.duration, k, args.grace)
                stop_profiles(spies)
                after = await meter.sample()
                step.cpu = {n: after.cpu[n] - before.cpu.get(n, 0.0) for n in after.cpu}
                step.xacts = {n: after.xacts[n] - before.xacts.get(n, 0) for n in after.xacts}
                k += len(step.flows)
                steps.append(step)
                row = summarize(step, raw, args.p99_bound_ms)
                print(
                    f"  offered {rate:g}/s: done {row['done']}/{row['orders']}, sustained {row['orders_s']:.1f}/s, "
                    f"confirm→reserve p99 {row['reserve_p99_ms']:.0f} ms, CPU {row['cpu_ms_per_order']:.0f} ms/order"
                    f"{' — BROKEN: ' + row['broken'] if row['broken'] else ''}",
                    flush=True,
                )
                if row["broken"]:
                    break
            load = await meter.sample()
            token = driver.manager.access
            mails = await emails_sent(world.urls["notifications"], token)
            placed = sum(1 for s in steps for f in s.flows if f.order_id) + 1
            counted, waited = await analytics_count(world.urls["analytics"], token, placed, 120)
    finally:
        await watcher.stop()
    rows = [summarize(s, raw, args.p99_bound_ms, mails) for s in steps]
    return {
        "event_bytes": size,
        "raw": {"produce_per_s": produce, "consume_per_s": consume, "produce_and_consume_per_s": raw},
        "steps": rows,
        "idle_rss_mb": idle.rss_mb,
        "idle_cpu_pct": idle_cpu,
        "peak_rss_mb": load.hwm_mb,
        "analytics": {"orders_placed": placed, "orders_counted": counted, "waited_s": round(waited, 1)},
    }


def summarize(step: Step, raw: float, bound: float, mails: dict[str, float] | None = None) -> dict[str, Any]:
    done = [f for f in step.flows if f.done_at is not None]
    elapsed = max(step.end - step.start, 1e-9)
    reserve = [f.reserve_ms for f in done if f.reserve_ms is not None]
    place = [f.place_ms for f in done]
    mail = [(mails[f.order_id] - f.placed_at) * 1000 for f in step.flows if mails and f.order_id in mails]
    orders_s = len(done) / elapsed
    cpu_total = sum(step.cpu.values())
    broken = []
    if orders_s < 0.8 * step.offered:
        broken.append(f"sustained {orders_s:.1f}/s < 80 % of {step.offered:g}/s")
    if reserve and pct(reserve, 99) > bound:
        broken.append(f"confirm→reserve p99 {pct(reserve, 99):.0f} ms > {bound:.0f} ms")
    errors = [f.error for f in step.flows if f.error]
    return {
        "offered_per_s": step.offered,
        "orders": len(step.flows),
        "done": len(done),
        "failed": len(errors),
        "first_errors": errors[:3],
        "kinds": {k: sum(1 for f in step.flows if f.kind == k) for k in sorted({f.kind for f in step.flows})},
        "elapsed_s": round(elapsed, 2),
        "orders_s": orders_s,
        "events": step.events,
        "events_s": step.events / elapsed,
        "events_share_of_raw": step.events / elapsed / raw if raw else 0.0,
        "place_p50_ms": pct(place, 50) if place else float("nan"),
        "place_p99_ms": pct(place, 99) if place else float("nan"),
        "reserve_p50_ms": pct(reserve, 50) if reserve else float("nan"),
        "reserve_p99_ms": pct(reserve, 99) if reserve else float("nan"),
        "email_p99_ms": pct(mail, 99) if mail else float("nan"),
        "emails_seen": len(mail),
        "cpu_s": step.cpu,
        "cpu_ms_per_order": cpu_total * 1000 / max(len(done), 1),
        "db_transactions_per_order": {n: round(x / max(len(done), 1), 1) for n, x in step.xacts.items()},
        "broken": "; ".join(broken),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_report(result: dict[str, Any], info: dict[str, str]) -> None:
    raw = result["raw"]
    print(
        f"\nraw broker, {result['event_bytes']} B events: produce {raw['produce_per_s']:,.0f}/s, consume "
        f"{raw['consume_per_s']:,.0f}/s, produce+consume {raw['produce_and_consume_per_s']:,.0f}/s"
    )
    head = (
        f"{'offered/s':>9} {'done':>9} {'orders/s':>8} {'events/s':>8} {'% raw':>6} {'place p50/p99':>15} "
        f"{'conf→reserve p50/p99':>21} {'e-mail p99':>10} {'CPU ms/order':>12}  broke"
    )
    print(head)
    print("-" * len(head))
    for r in result["steps"]:
        print(
            f"{r['offered_per_s']:>9g} {str(r['done']) + '/' + str(r['orders']):>9} {r['orders_s']:>8.1f} "
            f"{r['events_s']:>8.1f} {100 * r['events_share_of_raw']:>5.2f}% "
            f"{r['place_p50_ms']:>7.0f}/{r['place_p99_ms']:<7.0f} "
            f"{r['reserve_p50_ms']:>10.0f}/{r['reserve_p99_ms']:<10.0f} {r['email_p99_ms']:>10.0f} "
            f"{r['cpu_ms_per_order']:>12.1f}  {r['broken'] or '-'}"
        )
    names = sorted({n for r in result["steps"] for n in r["cpu_s"]})
    print(f"\n{'CPU-seconds per step':<22}" + "".join(f"{n[:12]:>13}" for n in names))
    for r in result["steps"]:
        print(f"{'offered ' + format(r['offered_per_s'], 'g') + '/s':<22}" + "".join(
            f"{r['cpu_s'].get(n, 0.0):>13.2f}" for n in names
        ))  # fmt: skip
    for r in result["steps"]:
        per = r.get("db_transactions_per_order") or {}
        if per:
            print(f"{'DB xacts/order ' + format(r['offered_per_s'], 'g') + '/s':<22}" + "".join(
                f"{per[n]:>13.1f}" if n in per else f"{'-':>13}" for n in names
            ))  # fmt: skip
    idle = result.get("idle_cpu_pct") or {}
    print(f"{'idle CPU % of a core':<22}" + "".join(f"{idle[n]:>13.1f}" if n in idle else f"{'-':>13}" for n in names))
    for label, key in (("RSS idle MB", "idle_rss_mb"), ("peak RSS MB", "peak_rss_mb")):
        cells = [f"{result[key][n]:>13.0f}" if n in result[key] else f"{'-':>13}" for n in names]
        print(f"{label:<22}" + "".join(cells))
    a = result["analytics"]
    print(
        f"analytics counted {a['orders_counted']} orders for {a['orders_placed']} placed (split parts count too; "
        f"waited {a['waited_s']} s)"
    )
    print("\ntargets, judged on this run:")
    for name, ok in result["verdicts"].items():
        print(f"  {name}: {ok}")
    for k, v in info.items():
        print(f"{k}: {v}")


def verdicts(result: dict[str, Any], replicas: int) -> dict[str, str]:
    steps = result["steps"]
    best = max(steps, key=lambda r: r["orders_s"])
    unbroken = [r for r in steps if not r["broken"]] or [best]
    services = [s.name for s in SERVICES]
    at50 = [r for r in steps if r["offered_per_s"] >= 50 and r["reserve_p99_ms"] == r["reserve_p99_ms"]]
    idle_max = max(result["idle_rss_mb"].get(n, 0.0) for n in services) / replicas
    peak_max = max(result["peak_rss_mb"].get(n, 0.0) for n in services) / replicas
    return {
        f"orders/s sustained >= {TARGET_ORDERS_S:.0f}": f"{best['orders_s']:.1f} {verdict(best['orders_s'] >= 500)}",
        f"events/s >= {100 * TARGET_BROKER_SHARE:.0f} % of raw": (
            f"{100 * best['events_share_of_raw']:.2f} % {verdict(best['events_share_of_raw'] >= TARGET_BROKER_SHARE)}"
        ),
        f"CPU per order <= {TARGET_CPU_MS_PER_ORDER:.0f} ms (all processes)": (
            f"{min(r['cpu_ms_per_order'] for r in unbroken):.1f} ms "
            f"{verdict(min(r['cpu_ms_per_order'] for r in unbroken) <= TARGET_CPU_MS_PER_ORDER)}"
        ),
        f"confirm→reserve p99 < {TARGET_RESERVE_P99_MS:.0f} ms at 50 orders/s": (
            f"{at50[0]['reserve_p99_ms']:.0f} ms {verdict(at50[0]['reserve_p99_ms'] < TARGET_RESERVE_P99_MS)}"
            if at50
            else "not judged (no step reached 50 orders/s offered)"
        ),
        f"each service RSS < {TARGET_RSS_IDLE_MB:.0f} MB idle": f"max {idle_max:.0f} MB per process "
        f"{verdict(idle_max < TARGET_RSS_IDLE_MB)}",
        f"each service RSS < {TARGET_RSS_LOAD_MB:.0f} MB under load": f"max {peak_max:.0f} MB per process "
        f"{verdict(peak_max < TARGET_RSS_LOAD_MB)}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="5,10,20,40", help="offered orders/s, one step each (comma-separated)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each step")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds a step's last orders may take to finish")
    parser.add_argument("--buyers", type=int, default=4)
    parser.add_argument("--replicas", type=int, choices=[1, 2], default=1)
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--p99-bound-ms", type=float, default=2000.0, help="confirm → reserve.updated p99 bound")
    parser.add_argument(
        "--consumer-batch", type=int, default=None, help="events per consumer transaction (default: the services')"
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="a folder: py-spy samples every service during each step (folded stacks per service and step)",
    )
    args = parser.parse_args(argv)
    args.rates = [float(x) for x in args.rates.split(",") if x.strip()]

    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-pipeline-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    names: dict[str, str] = {}
    if args.database == "postgresql":
        run = uuid.uuid4().hex[:8]
        names = {s.env_name: f"oms_bench_pipe_{s.env_name.lower()}_{run}" for s in SERVICES}
        asyncio.run(databases(list(names.values()), drop=False))
        head = POSTGRES_URL.rpartition("/")[0]
        for env_name, db_name in names.items():
            env[f"OMS_{env_name}_DATABASE_URL"] = f"{head}/{db_name}"
    if args.consumer_batch is not None:
        for s in SERVICES:
            env[f"OMS_{s.env_name}_CONSUMER_BATCH_SIZE"] = str(args.consumer_batch)
    stack = LocalStack.on_free_ports(tmp, env=env)
    replicas: dict[str, subprocess.Popen[bytes]] = {}
    result: dict[str, Any] | None = None
    try:
        stack.start()
        print(f"local stack up in {stack.started_in_s:.1f} s", flush=True)
        if args.replicas == 2:
            replicas = start_replicas(stack)
            print("a second process of every service is up", flush=True)
        components = [
            Component(name, [c.proc.pid, *([replicas[name].pid] if name in replicas else [])])
            for name, c in stack.children.items()
        ]
        if stack.smtp is not None:
            components.append(Component("smtp catcher", [stack.smtp.proc.pid]))
        if stack.broker is not None:
            components.append(Component("broker", [stack.broker.pid], whole_session=False))
        components.append(Component("bench (load + watcher)", [os.getpid()], whole_session=False))
        service_of = {spec.env_name: spec.name for spec in SERVICES}
        meter = Meter(components, {db: service_of[env_name] for env_name, db in names.items()})
        started = time.perf_counter()
        world = set_up(stack.urls, args.buyers)
        print(f"accounts, {args.buyers} buyers, stock and price list in {time.perf_counter() - started:.1f} s")
        result = asyncio.run(drive(stack, world, meter, args))
    finally:
        stop_replicas(replicas)
        stack.stop()
        failed = result is None or any(row["failed"] for row in result["steps"])
        if failed and stack.log_dir.exists():  # the services' logs say why an order failed
            kept = Path(__file__).parent / "results" / f"pipeline-logs-{datetime.now(UTC):%Y-%m-%dT%H%M}"
            shutil.copytree(stack.log_dir, kept, dirs_exist_ok=True)
            print(f"some orders failed: the stack's logs are kept in {kept.relative_to(Path(__file__).parent.parent)}")
        shutil.rmtree(tmp, ignore_errors=True)
        if names:
            asyncio.run(databases(list(names.values()), drop=True))
    assert result is not None
    # The bench's own process is shown but not counted in CPU per order.
    for row in result["steps"]:
        own = row["cpu_s"].get("bench (load + watcher)", 0.0)
        row["cpu_ms_per_order"] -= own * 1000 / max(row["done"], 1)
    result["verdicts"] = verdicts(result, args.replicas)
    result["settings"] = {
        "rates": args.rates,
        "duration_s": args.duration,
        "buyers": args.buyers,
        "replicas": args.replicas,
        "database": args.database,
        "p99_bound_ms": args.p99_bound_ms,
        "consumer_batch": args.consumer_batch,
    }
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info = {
        "stack": f"local: Tansu, SMTP catcher, every service × {args.replicas} process(es), "
        + ("a new PostgreSQL database per service" if names else "SQLite files"),
        "CPU per order": "all stack processes and PostgreSQL backends of the bench databases; the bench's own "
        "process is shown but not counted",
        "machine": f"{os.cpu_count()} CPUs, load average at the end {load}",
    }
    result["info"] = info
    result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_report(result, info)
    out = Path(__file__).parent / "results" / f"pipeline-{datetime.now(UTC):%Y-%m-%dT%H%M}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"saved {out.relative_to(Path(__file__).parent.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
