"""Console pages on the local stack over PostgreSQL: p50/p95 of the order page and of a list page of 50 orders,
and the service calls each page makes; target p95 < 150 ms.

Run: ``.venv/bin/python bench/console_pages.py [--reps 50] [--orders 50] [--sqlite]``. Creates five fresh
PostgreSQL databases on the server of ``OMS_TEST_POSTGRES_URL`` (default
``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``; dropped at the end; ``--sqlite`` uses SQLite files
instead), starts the whole local stack with them (broker, SMTP catcher, the five services and the console as
processes, free ports, every other ``OMS_*`` variable left out), signs up a supplier and a buyer, creates stock and a
price list, places ``--orders`` orders through the orders API, then signs in to the console as the supplier's owner
(its sign-in form, cookies as a browser keeps them) and times ``GET /orders`` (a list page of 50 orders) and
``GET /orders/{id}`` (an order page) ``--reps`` times each after a warm-up. The console answers with
``X-OMS-Service-Calls`` (``OMS_CONSOLE_DEBUG_HEADERS=true``): the number of service calls the page made. Baselines,
measured the same way in the same run: the orders API's own list call (``GET /api/v1/orders?limit=50``) and order
call, with the same user's token. Exit code 0 when both pages are under the target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from oms_devstack.stack import LocalStack
from oms_devstack.story import Actor, Story, _create_price_list, _register_buyer, _sign_up

TARGET_MS = 150.0
WARM_UP = 5
SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")
POSTGRES_URL = os.environ.get("OMS_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _databases(names: list[str], create: bool) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for name in names:
            if create:
                await admin.execute(f'CREATE DATABASE "{name}"')
            else:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def set_up(story: Story, orders: int) -> tuple[Actor, list[str]]:
    """A supplier with stock and a price list, a buyer, and ``orders`` placed orders (ids, newest last)."""
    supplier = _sign_up(story, "supplier", "ООО «Поставщик»", "Анна Петрова")
    buyer = _sign_up(story, "buyer", "ООО «Покупатель»", "Борис Иванов")
    wh = story.call(
        "POST", "inventory", "/api/v1/warehouses", actor=supplier, json={"code": "MSK", "name": "Москва"}, expect=201
    ).json()["warehouse_id"]
    products = [{"sku": f"SKU-{n}", "name": f"Товар {n}", "unit": "шт"} for n in range(5)]
    story.call("POST", "inventory", "/api/v1/products", actor=supplier, json={"items": products})
    story.call(
        "PUT",
        "inventory",
        "/api/v1/stock",
        actor=supplier,
        json={"items": [{"warehouse_id": wh, "sku": p["sku"], "on_hand": "1000000"} for p in products]},
    )
    buyer_rec = _register_buyer(story, supplier, buyer, "ООО «Покупатель»", "7700000001", "770001001")
    pl = _create_price_list(
        story,
        supplier,
        {
            "name": "Опт",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [{"sku": p["sku"], "price": "10.00", "vat_rate": "20"} for p in products],
            "buyer_ids": [buyer_rec["buyer_id"]],
        },
    )["price_list_id"]
    placed: list[str] = []
    for n in range(orders):

        def place(n: int = n) -> str | None:
            answer = story.call(
                "POST",
                "orders",
                "/api/v1/orders",
                actor=buyer,
                json={
                    "price_list_id": pl,
                    "lines": [
                        {"sku": p["sku"], "warehouse_id": wh, "quantity": str(1 + (n + i) % 7)}
                        for i, p in enumerate(products[:3])
                    ],
                    "comment": f"bench {n}",
                    "one_shipment": False,
                },
                expect=(201, 422),
            )
            return str(answer.json()["order_id"]) if answer.status_code == 201 else None

        # The first order waits until inventory has the price list (422 until then).
        placed.append(story.wait_for("an order to be placed", place))
    return supplier, placed


def console_session(console: str, supplier: Actor) -> httpx.Client:
    """Signed in through the console's form, the cookies kept as a browser keeps them."""
    client = httpx.Client(base_url=console, timeout=30, trust_env=False)
    page = client.get("/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    token = found.group(1) if found else str(client.cookies.get("oms_csrf"))
    answer = client.post(
        "/login",
        data={"csrf_token": token, "email": supplier.email, "password": supplier.password, "next": "/orders"},
        headers={"Origin": console},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"console sign-in answered {answer.status_code}: {answer.text[:500]}")
    return client


def timed(reps: int, call: Callable[[], httpx.Response]) -> tuple[list[float], list[int]]:
    for _ in range(WARM_UP):
        call()
    times: list[float] = []
    calls: list[int] = []
    for _ in range(reps):
        started = time.perf_counter()
        answer = call()
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.request.url} answered {answer.status_code}: {answer.text[:300]}")
        calls.append(int(answer.headers.get("X-OMS-Service-Calls", "-1")))
    return times, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env["OMS_CONSOLE_DEBUG_HEADERS"] = "true"
    names = [f"oms_bench_console_{uuid.uuid4().hex[:8]}_{s.replace('-', '_')}" for s in SERVICES]
    if not args.sqlite:
        asyncio.run(_databases(names, create=True))
        head = POSTGRES_URL.rpartition("/")[0]
        for service, name in zip(SERVICES, names, strict=True):
            env[f"OMS_{service.replace('-', '_').upper()}_DATABASE_URL"] = f"{head}/{name}"
    work = Path(tempfile.mkdtemp(prefix="oms-bench-console-"))
    stack = LocalStack.on_free_ports(work / "var", env=env)
    try:
        stack.start()
        print(f"stack up in {stack.started_in_s:.1f} s ({'SQLite' if args.sqlite else 'PostgreSQL'})", flush=True)
        api = httpx.Client(timeout=30, trust_env=False)
        story = Story(stack.urls, api, say=lambda _text: None)
        supplier, placed = set_up(story, args.orders)
        print(f"{len(placed)} orders placed", flush=True)
        console = console_session(stack.url("console"), supplier)
        order_id = placed[len(placed) // 2]
        orders_url = stack.url("orders")

        def api_get(path: str) -> httpx.Response:
            if time.monotonic() > supplier.token_expires_at - 15:
                story.renew(supplier)
            return api.get(orders_url + path, headers=supplier.auth)

        list_page = timed(args.reps, lambda: console.get("/orders"))
        order_page = timed(args.reps, lambda: console.get(f"/orders/{order_id}"))
        api_list = timed(args.reps, lambda: api_get("/api/v1/orders?limit=50"))
        api_order = timed(args.reps, lambda: api_get(f"/api/v1/orders/{order_id}"))
        rows = [
            ("console GET /orders (list page, 50 orders)", *list_page),
            ("console GET /orders/{id} (order page)", *order_page),
            ("baseline: orders API GET /api/v1/orders?limit=50", *api_list),
            ("baseline: orders API GET /api/v1/orders/{id}", *api_order),
        ]
        console.close()
        api.close()
    finally:
        stack.stop()
        shutil.rmtree(work, ignore_errors=True)
        if not args.sqlite:
            asyncio.run(_databases(names, create=False))

    print(f"\n{args.reps} requests each after {WARM_UP} warm-up; target: console pages p95 < {TARGET_MS:.0f} ms\n")
    print(f"| {'page':<50} | p50 ms | p95 ms | service calls | verdict  |")
    print(f"|{'-' * 52}|--------|--------|---------------|----------|")
    ok = True
    for name, times, calls in rows:
        p95 = pct(times, 95)
        is_page = name.startswith("console")
        verdict = ("PASS" if p95 < TARGET_MS else "FAIL") if is_page else "baseline"
        ok = ok and (verdict != "FAIL")
        spread = f"{min(calls)}" if min(calls) == max(calls) else f"{min(calls)}–{max(calls)}"
        shown = spread if is_page else "—"
        print(f"| {name:<50} | {pct(times, 50):6.1f} | {p95:6.1f} | {shown:>13} | {verdict:<8} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
