"""What the fault tests share: a thread placing, confirming and rejecting orders over HTTP while faults happen, the
HTTP calls that ride out a service (or its database) being down, and the audit of every effect an order has in every
service once the system has settled (tests/faults/test_*.py)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import httpx

from oms_devstack.mailcatcher import read_mailbox
from oms_devstack.stack import LocalStack
from oms_devstack.story import Actor, Story, chapter_thin_slice
from oms_shared.dlq import DeadLetter, read_dead_letters
from tests.support.services import WAIT_SCALE

SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")

ORDERS = int(os.environ.get("OMS_FAULTS_ORDERS", "24"))

# How long one HTTP call keeps retrying while its service is down (a restart takes seconds).
RETRY_S = 90.0 * WAIT_SCALE
SETTLE_S = 150.0 * WAIT_SCALE
STOCK = Decimal(100_000)


def service_env(database_urls: list[str]) -> dict[str, str]:
    """The environment of the five services: one database each (in ``SERVICES`` order), short e-mail leases."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    for service, url in zip(SERVICES, database_urls, strict=True):
        env[f"OMS_{service.replace('-', '_').upper()}_DATABASE_URL"] = url
    # An e-mail whose sender was killed mid-batch is taken over after its claim's lease; an e-mail retried
    # while the SMTP server was down waits at most the retry cap. Both shortened so the run stays short.
    env["OMS_NOTIFICATIONS_SMTP_TIMEOUT_S"] = "3"
    env["OMS_NOTIFICATIONS_EMAIL_CLAIM_LEASE_S"] = "20"
    env["OMS_NOTIFICATIONS_EMAIL_RETRY_MAX_S"] = "5"
    return env


@dataclass
class Scene:
    """What the thin slice left: the supplier and buyer signed in, their price list and warehouse, plenty of stock."""

    story: Story
    api: Api
    supplier: Actor
    buyer: Actor
    price_list_id: str
    warehouse_id: str
    thin: Placed

    def load(self, faults: int, orders: int = ORDERS) -> Load:
        return Load(self.api, self.supplier, self.buyer, self.price_list_id, self.warehouse_id, faults, orders)


def set_the_scene(story: Story) -> Scene:
    """The demo's thin slice (sign-ups, warehouse, products, buyer, price list, one confirmed order), then stock
    enough for any load."""
    chapter_thin_slice(story)
    supplier: Actor = story.facts["supplier"]
    wh = story.facts["warehouse_id"]
    api = Api(story)
    api.call(
        "PUT",
        "inventory",
        "/api/v1/stock",
        supplier,
        json={"items": [{"warehouse_id": wh, "sku": s, "on_hand": str(STOCK)} for s in ("BOLT-M8", "NUT-M8")]},
    )
    thin = Placed(story.facts["order_id"], story.facts["number"], Decimal(0),
                  {"BOLT-M8": Decimal(10), "NUT-M8": Decimal(25)}, "confirmed", "confirmed")  # fmt: skip
    return Scene(story, api, supplier, story.facts["buyer"], story.facts["price_list_id"], wh, thin)


def wait_until(what: str, check: Callable[[], Any], timeout_s: float, tick: Callable[[], None] = lambda: None) -> Any:
    """Poll ``check`` (calling ``tick`` between polls: supervision) until it is truthy."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        tick()
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s:.0f} s (last: {last!r})")
        time.sleep(0.2)


@dataclass
class Placed:
    order_id: str
    number: str
    total: Decimal
    lines: dict[str, Decimal]
    # What the load did with it: "confirmed", "rejected" (from new) or "confirmed,rejected".
    plan: str
    status: str = "new"


@dataclass
class Load:
    """The orders a thread places and confirms or rejects, paced by the faults the test has done."""

    api: Api
    supplier: Actor
    buyer: Actor
    price_list_id: str
    warehouse_id: str
    faults: int
    orders: int = ORDERS
    placed: list[Placed] = field(default_factory=list)
    done_faults: int = 0
    stopped: bool = False
    error: BaseException | None = None
    lock: threading.Condition = field(default_factory=threading.Condition)

    def slice_end(self, faults_done: int) -> int:
        """How many orders may be placed once ``faults_done`` faults are over: the orders are cut into one slice
        per fault (and one more), and the load waits at a slice's end until the fault before it is over."""
        return min(self.orders, (faults_done + 2) * self.orders // (self.faults + 1))

    def trigger(self, fault: int) -> int:
        """The fault comes halfway through its slice: the rest of the slice is placed while the service is down
        (or, for orders, retried until it is back), and the events of the first half are still travelling."""
        return max(1, (2 * fault + 3) * self.orders // (2 * (self.faults + 1)))

    def may_place(self, i: int) -> bool:
        return self.stopped or i < self.slice_end(self.done_faults)

    def placed_at_least(self, count: int) -> bool:
        return len(self.placed) >= count

    def run(self) -> None:
        try:
            for i in range(self.orders):
                with self.lock:
                    self.lock.wait_for(partial(self.may_place, i))
                    if self.stopped:
                        return
                self.one(i)
        except BaseException as exc:  # reported by the test's thread
            self.error = exc

    def one(self, i: int) -> None:
        lines = {"BOLT-M8": Decimal(1 + i % 5)}
        if i % 3:
            lines["NUT-M8"] = Decimal(2 + i % 4)
        plan = {2: "confirmed,rejected", 5: "rejected"}.get(i % 6, "confirmed")
        body = {
            "price_list_id": self.price_list_id,
            "lines": [{"sku": s, "warehouse_id": self.warehouse_id, "quantity": str(q)} for s, q in lines.items()],
            "comment": f"fault load {i}",
        }
        order = self.api.call("POST", "orders", "/api/v1/orders", self.buyer, expect=(201,), json=body).json()
        placed = Placed(order["order_id"], order["number"], Decimal(str(order["total"])), lines, plan)
        with self.lock:
            self.placed.append(placed)
            self.lock.notify_all()
        for to in plan.split(","):
            placed.status = self.api.transition(self.supplier, placed.order_id, to)


class Api:
    """HTTP calls that ride out a service being down: the same Idempotency-Key until the answer comes."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.retried = 0
        # What the retried calls met: an HTTP status, or the transport error's name (the service was down).
        self.retried_on: Counter[str] = Counter()

    def call(
        self,
        method: str,
        service: str,
        path: str,
        actor: Actor,
        *,
        expect: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if method != "GET":
            all_headers["Idempotency-Key"] = uuid.uuid4().hex
        url = self.story.urls[service] + path
        deadline = time.monotonic() + RETRY_S
        last: object = None
        while True:
            self._fresh(actor)
            try:
                response = self.story.client.request(
                    method, url, headers={**actor.auth, **all_headers}, timeout=30.0, **kwargs
                )
            except httpx.TransportError as exc:
                last = exc
                self.retried_on[type(exc).__name__] += 1
            else:
                if response.status_code in expect:
                    return response
                in_progress = response.status_code == 409 and "request_in_progress" in response.text
                if response.status_code < 500 and not in_progress:
                    raise AssertionError(f"{method} {service}{path} answered {response.status_code}: {response.text}")
                last = f"{response.status_code} {response.text[:300]}"
                self.retried_on[str(response.status_code)] += 1
            self.retried += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {service}{path}: no answer within {RETRY_S:.0f} s (last: {last})")
            time.sleep(0.25)

    def _fresh(self, actor: Actor) -> None:
        """Renew the access token before it lapses (orders may be down: retried like any call)."""
        if not actor.refresh_token or time.monotonic() < actor.token_expires_at - 20:
            return
        deadline = time.monotonic() + RETRY_S
        while True:
            try:
                response = self.story.client.post(
                    self.story.urls["orders"] + "/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token}
                )
            except httpx.TransportError as exc:
                self.retried_on[type(exc).__name__] += 1
            else:
                if response.status_code == 200:
                    actor.signed_in(response.json())
                    return
                if response.status_code < 500:
                    raise AssertionError(f"renewing a token answered {response.status_code}: {response.text}")
                self.retried_on[str(response.status_code)] += 1
            self.retried += 1
            if time.monotonic() > deadline:
                raise AssertionError("could not renew a token")
            time.sleep(0.25)

    def transition(self, actor: Actor, order_id: str, to: str) -> str:
        """Move the order to ``to`` with the version just read; a version changed meanwhile (the reserve came in)
        is read again."""
        while True:
            seen = self.call("GET", "orders", f"/api/v1/orders/{order_id}", actor)
            if seen.json()["status"] == to:
                return to
            answer = self.call(
                "POST",
                "orders",
                f"/api/v1/orders/{order_id}/transitions",
                actor,
                expect=(200, 409, 412),
                headers={"If-Match": seen.headers["etag"]},
                json={"to": to, "comment": "fault load"},
            )
            if answer.status_code == 200:
                status: str = answer.json()["status"]
                assert status == to, answer.text
                return status


class Audit:
    """What every order must have left in every service once the system has settled."""

    def __init__(
        self,
        api: Api,
        stack: LocalStack,
        supplier: Actor,
        buyer: Actor,
        orders: list[Placed],
        tick: Callable[[], None],
    ) -> None:
        self.api, self.stack, self.supplier, self.buyer, self.orders, self.tick = (
            api,
            stack,
            supplier,
            buyer,
            orders,
            tick,
        )
        self.results: dict[str, str] = {}
        # What the dead-letter topics must hold at the end: nothing, unless a test put poison there on purpose.
        self.dead_letters_check = "no dead letters"
        self.dead_letters: Callable[[list[DeadLetter]], None] = _no_dead_letters

    def get(self, service: str, path: str, actor: Actor | None = None, **params: Any) -> Any:
        return self.api.call("GET", service, path, actor or self.supplier, params=params).json()

    def check(self, what: str, check: Callable[[], None]) -> None:
        """Until ``check`` stops failing (effects travel through the broker), then record it as passed."""
        last: list[AssertionError] = []

        def holds() -> bool:
            try:
                check()
            except AssertionError as exc:
                last[:] = [exc]
                return False
            return True

        try:
            wait_until(what, holds, SETTLE_S, self.tick)
        except AssertionError:
            self.results[what] = "FAIL"
            raise AssertionError(f"audit: {what}: {last[0] if last else '?'}") from None
        self.results[what] = "ok"

    def run(self) -> dict[str, str]:
        self.check("every service drained (no outbox backlog, nothing parked, no lag)", self.drained)
        self.check("orders: each placed once, in the status the load left", self.orders_once)
        self.check("inventory: reserves per order", self.reserves_per_order)
        self.check("inventory: stock reserved = confirmed quantities", self.stock_totals)
        self.check("notifications: in-app once per person and event", self.in_app)
        self.check("notifications: every e-mail sent", self.emails_sent)
        self.check("smtp: every e-mail received exactly once", self.mailbox)
        self.check("analytics: counts and sums = recount", self.analytics)
        self.check("erp-bridge: every order confirmed once is there for the ERP, once", self.erp_queue)
        dead = asyncio.run(read_dead_letters(self.stack.bootstrap))
        try:
            self.dead_letters(dead)
        except AssertionError:
            self.results[self.dead_letters_check] = "FAIL"
            raise
        self.results[self.dead_letters_check] = "ok"
        self.check("every service drained at the end", self.drained)
        return self.results

    def drained(self) -> None:
        for name, url in self.stack.urls.items():
            answer = self.api.story.client.get(f"{url}/drained", timeout=30.0)
            assert answer.status_code == 200, f"{name}: {answer.text[:500]}"

    def orders_once(self) -> None:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get("orders", "/api/v1/orders", limit=200, offset=offset)
            items += page["items"]
            if len(page["items"]) < 200:
                break
            offset += 200
        ids = Counter(i["order_id"] for i in items)
        assert all(n == 1 for n in ids.values()), "an order listed twice"
        assert set(ids) == {o.order_id for o in self.orders}, (
            f"orders API has {len(ids)} orders, the load placed {len(self.orders)}: "
            f"extra {set(ids) - {o.order_id for o in self.orders}}"
        )
        by_id = {i["order_id"]: i for i in items}
        for o in self.orders:
            assert by_id[o.order_id]["status"] == o.status, (o.number, by_id[o.order_id]["status"], o.status)
            o.total = Decimal(str(by_id[o.order_id]["total"]))

    def reserves_per_order(self) -> None:
        for o in self.orders:
            # 404: inventory never reserved anything for it (an order rejected before it was confirmed).
            answer = self.api.call(
                "GET", "inventory", f"/api/v1/orders/{o.order_id}/reserves", self.supplier, expect=(200, 404)
            )
            body = answer.json() if answer.status_code == 200 else {"lines": []}
            assert answer.status_code == 200 or o.plan == "rejected", (o.number, o.plan, answer.text)
            held = {line["sku"]: Decimal(str(line["reserved"])) for line in body["lines"]}
            want = o.lines if o.status == "confirmed" else dict.fromkeys(o.lines, Decimal(0))
            assert {s: held.get(s, Decimal(0)) for s in want} == want, (o.number, o.status, body)
            if o.status != "confirmed":
                continue
            for line in body["lines"]:
                ledger = self.get("inventory", f"/api/v1/orders/{o.order_id}/lines/{line['line_id']}/reserves")
                entries = [Decimal(str(e["quantity"])) for e in ledger["entries"]]
                assert entries == [o.lines[line["sku"]]], (o.number, line["sku"], ledger["entries"])

    def stock_totals(self) -> None:
        body = self.get("inventory", "/api/v1/stock", limit=100)
        reserved = {i["sku"]: Decimal(str(i["reserved"])) for i in body["items"] if i["sku"] in ("BOLT-M8", "NUT-M8")}
        want = {"BOLT-M8": Decimal(0), "NUT-M8": Decimal(0)}
        for o in self.orders:
            if o.status == "confirmed":
                for sku, q in o.lines.items():
                    want[sku] += q
        assert reserved == want, (reserved, want)

    def _all(self, path: str, actor: Actor, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.get("notifications", path, actor, limit=500, offset=len(items), **params)
            items += page["items"]
            if len(page["items"]) < 500:
                return items

    def expected(self) -> Counter[tuple[str, str, str]]:
        """(order, who, kind) of every notification: the supplier hears of a new order, the buyer of its status."""
        want: Counter[tuple[str, str, str]] = Counter()
        for o in self.orders:
            want[(o.order_id, "supplier", "new_order")] += 1
            for step in o.plan.split(","):
                want[(o.order_id, "buyer", "rejected" if step == "rejected" else "status_changed")] += 1
        return want

    def in_app(self) -> None:
        seen: Counter[tuple[str, str, str]] = Counter()
        ours = {o.order_id for o in self.orders}
        for who, actor in (("supplier", self.supplier), ("buyer", self.buyer)):
            for n in self._all("/api/v1/notifications", actor):
                if n["order_id"] in ours:
                    seen[(n["order_id"], who, n["kind"])] += 1
        assert seen == self.expected(), _diff(seen, self.expected())

    def emails_sent(self) -> None:
        rows = self._all("/api/v1/emails", self.supplier)
        ours = {o.order_id for o in self.orders}
        rows = [r for r in rows if r["order_id"] in ours]
        assert all(r["status"] == "sent" for r in rows), [r for r in rows if r["status"] != "sent"][:5]
        who = {self.supplier.email: "supplier", self.buyer.email: "buyer"}
        seen = Counter((r["order_id"], who.get(r["to"], r["to"]), r["kind"]) for r in rows)
        assert seen == self.expected(), _diff(seen, self.expected())

    def mailbox(self) -> None:
        mails = read_mailbox(self.stack.mail_dir)
        ids = Counter(str(m.message["Message-ID"]) for m in mails)
        twice = {k: n for k, n in ids.items() if n > 1}
        assert not twice, f"e-mails received more than once: {twice}"
        who = {self.supplier.email: "supplier", self.buyer.email: "buyer"}
        ours = {o.order_id for o in self.orders}
        seen: Counter[tuple[str, str, str]] = Counter()
        for m in mails:
            order_id = str(m.message.get("X-OMS-Order-Id", ""))
            if order_id not in ours:
                continue
            # One message may carry several e-mails of one order to one person (sent together): one kind each.
            for kind in str(m.message["X-OMS-Kind"]).split(","):
                for to in m.envelope_to:
                    seen[(order_id, who.get(to, to), kind)] += 1
        assert seen == self.expected(), _diff(seen, self.expected())

    def analytics(self) -> None:
        today = date.today()
        body = self.get(
            "analytics",
            "/api/v1/summary",
            date_from=(today - timedelta(days=1)).isoformat(),
            date_to=(today + timedelta(days=1)).isoformat(),
        )
        # Analytics counts an order as confirmed once it was (rejected afterwards or not).
        confirmed = [o for o in self.orders if "confirmed" in o.plan]
        rejected = [o for o in self.orders if o.status == "rejected"]
        assert body["orders_count"] == len(self.orders), body
        assert Decimal(str(body["orders_sum"])) == sum((o.total for o in self.orders), Decimal(0)), body
        assert body["confirmed"]["count"] == len(confirmed), body
        assert Decimal(str(body["confirmed"]["sum"])) == sum((o.total for o in confirmed), Decimal(0)), body
        assert body["rejected"]["count"] == len(rejected), body

    def erp_queue(self) -> None:
        items: list[dict[str, Any]] = []
        while True:
            page = self.get("erp-bridge", "/api/v1/erp/orders", pending="false", limit=100, offset=len(items))
            items += page["items"]
            if len(page["items"]) < 100:
                break
        ids = Counter(i["order_id"] for i in items)
        assert all(n == 1 for n in ids.values()), "an order listed twice for the ERP"
        ever_confirmed = {o.order_id: o for o in self.orders if "confirmed" in o.plan}
        by_id = {o.order_id: o for o in self.orders}
        assert set(ids) == set(ever_confirmed), (
            f"missing {[(o.number, o.plan) for i, o in ever_confirmed.items() if i not in ids]}, "
            f"extra {[(by_id[i].number, by_id[i].plan) if i in by_id else i for i in ids if i not in ever_confirmed]}"
        )
        for item in items:
            o = ever_confirmed[item["order_id"]]
            quantities = {line["sku"]: Decimal(str(line["quantity"])) for line in item["lines"]}
            assert (item["status"], quantities) == (o.status, o.lines), (o.number, item["status"], item["lines"])


def _no_dead_letters(dead: list[DeadLetter]) -> None:
    assert dead == [], f"dead letters: {[d.summary() for d in dead]}"


def _diff(seen: Counter[Any], want: Counter[Any]) -> str:
    missing = want - seen
    extra = seen - want
    return (
        f"missing {dict(list(missing.items())[:8])} ({sum(missing.values())} in all), "
        f"extra {dict(list(extra.items())[:8])} ({sum(extra.values())} in all)"
    )


def run_load(load: Load, faults: Sequence[tuple[str, Callable[[], None]]], tick: Callable[[], None]) -> None:
    """Place the load's orders in a thread while ``faults`` happen one by one (each ``(what, do)`` halfway through
    its slice of orders, ``do`` returning once the fault is over); returns when every order has been placed and
    moved as planned. ``tick`` runs between polls (supervision); a failure of the load is raised here."""
    worker = threading.Thread(target=load.run, name="fault-load", daemon=True)
    worker.start()

    def check() -> None:
        tick()
        if load.error is not None:
            raise load.error

    try:
        for n, (what, do) in enumerate(faults):
            trigger = load.trigger(n)
            wait_until(f"{trigger} orders placed before {what}", partial(load.placed_at_least, trigger), RETRY_S, check)
            do()
            with load.lock:
                load.done_faults += 1
                load.lock.notify_all()
        wait_until("the load to finish", lambda: not worker.is_alive(), RETRY_S * 2, check)
    finally:
        with load.lock:
            load.stopped = True
            load.lock.notify_all()
        worker.join(timeout=RETRY_S)
    if load.error is not None:
        raise load.error


def service_restarts(stack: LocalStack) -> dict[str, int]:
    """How many times the supervisor started each service again (after a kill, or after it died by itself)."""
    return {c.name: c.restarts for c in stack.components() if c.kind == "service"}
