"""Read-modify-writes of inventory under real concurrency: two replicas (two engines) on one PostgreSQL database,
requests and events fired at the same moment many times. SQLite serialises writers, so these run on PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import sqlalchemy as sa

from oms_inventory.db import reserve_ledger
from oms_shared.contracts import OrderStatus
from oms_shared.errors import Conflict, Invalid
from tests.integration.inventory.nodes import USER, Node, books, catalogue, item, line, nodes, status
from tests.support.databases import fresh_postgres_databases, needs_postgres

pytestmark = needs_postgres

U = 1000


async def at_once(*calls: Callable[[], Awaitable[Any]]) -> list[Any]:
    """Start the calls together (each waits at a barrier until all are ready) and collect results or errors."""
    gate = asyncio.Event()
    ready = 0

    async def run(call: Callable[[], Awaitable[Any]]) -> Any:
        nonlocal ready
        ready += 1
        if ready == len(calls):
            gate.set()
        await gate.wait()
        return await call()

    return await asyncio.gather(*(run(c) for c in calls), return_exceptions=True)


async def test_two_receives_of_one_delivery_count_it_once() -> None:
    """R-STK-1: a delivery received by two requests at once (two replicas) adds its quantity once; the other
    request gets 409 already_received."""
    tenant = str(uuid.uuid4())
    async with fresh_postgres_databases(1) as (url,), nodes(url, 2) as (a, b):
        wid = await catalogue(a, tenant, {"A": "100"})
        rounds = 15
        for _ in range(rounds):
            (incoming,) = await a.inventory.add_incoming(tenant, [{"warehouse_id": wid, "sku": "A", "quantity": "10"}])
            iid = incoming["incoming_id"]
            results = await at_once(
                partial(a.inventory.receive_incoming, tenant, USER, iid),
                partial(b.inventory.receive_incoming, tenant, USER, iid),
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            assert len(errors) == 1 and isinstance(errors[0], Conflict), results
        assert await item(a, tenant, wid, "A") == ((100 + 10 * rounds) * U, 0)


async def test_manual_reserves_set_at_once_keep_the_item_and_the_hold_equal() -> None:
    """R-RSV-3, R-RSV-2: two manual reserves of one item set at the same moment (5 and 7) leave the item reserving
    exactly what the hold says; clearing the hold leaves nothing reserved by nobody."""
    tenant = str(uuid.uuid4())
    async with fresh_postgres_databases(1) as (url,), nodes(url, 2) as (a, b):
        wid = await catalogue(a, tenant, {"A": "100"})
        for _ in range(15):
            results = await at_once(
                lambda: a.inventory.set_manual_reserve(tenant, USER, wid, "A", "5", "phone order"),
                lambda: b.inventory.set_manual_reserve(tenant, USER, wid, "A", "7", "phone order"),
            )
            assert not [r for r in results if isinstance(r, BaseException)], results
            state = await books(a, tenant, wid, "A")
            assert state["held"] in (5 * U, 7 * U)
            assert state["reserved"] == state["held"]
            await a.inventory.set_manual_reserve(tenant, USER, wid, "A", "0", "done")
            assert await item(a, tenant, wid, "A") == (100 * U, 0)
        assert await a.inventory.reconcile() == []


async def test_stock_set_while_reserving_never_drops_below_the_reserves() -> None:
    """R-RSV-2: setting on hand while a manual reserve is taken either applies or answers below_reserved;
    it is never skipped silently, and reserves never exceed on hand."""
    tenant = str(uuid.uuid4())
    async with fresh_postgres_databases(1) as (url,), nodes(url, 2) as (a, b):
        wid = await catalogue(a, tenant, {"A": "10"})
        for _ in range(10):
            results = await at_once(
                lambda: a.inventory.set_manual_reserve(tenant, USER, wid, "A", "6", "phone order"),
                lambda: b.inventory.put_stock(tenant, USER, [{"warehouse_id": wid, "sku": "A", "on_hand": "4"}]),
            )
            on_hand, reserved = await item(a, tenant, wid, "A")
            assert reserved <= on_hand
            put = results[1]
            if isinstance(put, BaseException):
                assert isinstance(put, Invalid), put
                assert (on_hand, reserved) == (10 * U, 6 * U)
            else:
                assert on_hand == 4 * U and isinstance(results[0], Invalid), results
            await a.inventory.set_manual_reserve(tenant, USER, wid, "A", "0", "done")
            await a.inventory.put_stock(tenant, USER, [{"warehouse_id": wid, "sku": "A", "on_hand": "10"}])


async def test_two_replicas_racing_releases_and_backorder_fills_lose_no_unit() -> None:
    """R-RSV-1, R-RSV-2, R-RSV-4: 200 orders on 50 units, confirmed through two replicas at once; then
    rejections and cancellations (releases that refill waiting lines) race deliveries and manual reserves on
    both replicas. Afterwards the books agree: the holders add up to the item's reserve, every line's ledger
    equals what it holds, no released line holds anything, and the reconciler finds no drift."""
    tenant = str(uuid.uuid4())
    rng = random.Random(7)
    async with fresh_postgres_databases(1) as (url,), nodes(url, 2) as (a, b):
        wid = await catalogue(a, tenant, {"A": "50"})
        t0 = datetime.now(UTC) - timedelta(hours=1)
        orders = []
        for n in range(200):
            lines = [line("A", wid, str(rng.choice((1, 1, 2, 3))))]
            orders.append((uuid.uuid4(), lines, t0 + timedelta(seconds=n)))
        limit = asyncio.Semaphore(12)

        async def deliver(node: Node, event: Any) -> None:
            async with limit:
                await node.deliver(event)

        await asyncio.gather(
            *(
                deliver((a, b)[n % 2], status(tenant, oid, 2, OrderStatus.CONFIRMED, lines, at=at))
                for n, (oid, lines, at) in enumerate(orders)
            )
        )
        assert (await books(a, tenant, wid, "A"))["reserved"] == 50 * U

        ends = rng.sample(orders, 120)
        work: list[Awaitable[Any]] = []
        for n, (oid, lines, _) in enumerate(ends):
            to = OrderStatus.REJECTED if n % 2 else OrderStatus.CANCELLED
            work.append(deliver((a, b)[rng.randrange(2)], status(tenant, oid, 3, to, lines)))
        for n in range(6):
            (incoming,) = await a.inventory.add_incoming(tenant, [{"warehouse_id": wid, "sku": "A", "quantity": "3"}])
            work.append((a, b)[n % 2].inventory.receive_incoming(tenant, USER, incoming["incoming_id"]))
        for n in range(6):
            work.append((a, b)[n % 2].inventory.set_manual_reserve(tenant, USER, wid, "A", str(n % 3), "phone"))
        rng.shuffle(work)
        results = await asyncio.gather(*work, return_exceptions=True)
        assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, Invalid)], results

        state = await books(a, tenant, wid, "A")
        active = [r for r in state["lines"] if r.state == "active"]
        assert sum(r.reserved for r in active) + state["held"] == state["reserved"]
        assert state["reserved"] <= state["on_hand"] == (50 + 18) * U
        assert [r.line_id for r in state["lines"] if r.state == "released" and r.reserved] == []
        for r in state["lines"]:
            expected = r.reserved if r.state == "active" else 0
            assert int(state["ledger"].get(r.line_id) or 0) == expected, (r, state["ledger"].get(r.line_id))
        # Nothing is left on the shelf while someone waits (the queue got what was freed), and the queue is
        # first come, first served: no line filled from the queue was confirmed after a line still waiting.
        waiting = [r for r in active if r.reserved < r.requested]
        assert state["on_hand"] - state["reserved"] == 0 or not waiting
        async with a.db.read() as conn:
            filled = set(
                (
                    await conn.execute(
                        sa.select(reserve_ledger.c.line_id).where(reserve_ledger.c.reason == "backorder_filled")
                    )
                ).scalars()
            )
        first_waiting = min((r.confirmed_at for r in waiting), default=None)
        if first_waiting is not None:
            jumped = [r.line_id for r in active if r.line_id in filled and r.confirmed_at > first_waiting]
            assert jumped == [], "lines filled ahead of earlier waiting lines"
        assert await a.inventory.reconcile() == []
