"""Order numbers under concurrency on PostgreSQL: two replicas, one supplier, no wait on each other (ADR 015)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from oms_orders import domain
from oms_orders.db import buyers, orders, price_lists
from oms_orders.handlers.orders import insert_order, price_items
from oms_shared.db import Database
from tests.integration.orders.helpers import World, a_world, orders_app, place
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import WAIT_SCALE, running_service

# A deadline for a condition, not a measure: the other replica's placings finish in well under a second; with a
# lock on the supplier's counter held until the open transaction ends, they would never finish before it.
NOT_WAITING_FOR_IT = 60.0 * WAIT_SCALE


async def hold_a_placing_open(db: Database, w: World, release: asyncio.Event, placed: asyncio.Event) -> str:
    """Place an order in a transaction and keep that transaction open until ``release`` (then commit)."""
    async with db.transaction() as tx:
        buyer = (await tx.conn.execute(sa.select(buyers).where(buyers.c.id == w.buyer_id))).one()
        price_list = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == w.price_list_id))).one()
        lines = domain.validate_lines(
            [domain.RequestedLine("A-1", w.warehouses[0], Decimal(2))],
            await price_items(tx.conn, price_list.id),
            set(w.warehouses),
        )
        row, _ = await insert_order(
            tx,
            supplier_id=price_list.supplier_id,
            buyer=buyer,
            price_list=price_list,
            lines=lines,
            status=domain.Status.NEW,
            by_user_id=w.buyer_account["user_id"],
            by_side=domain.Side.BUYER,
        )
        placed.set()
        await release.wait()
        return str(row.number)


@needs_postgres
async def test_two_replicas_place_for_one_supplier_without_waiting_for_each_other(
    service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-4: while one replica's placing transaction stays open, the other replica places orders for the same
    supplier (they do not wait for it); every order of both replicas, and of a replica started afterwards, has
    its own readable number."""
    async with fresh_postgres_databases(1) as (url,):
        first = orders_app(url, service_env, keys, start_consumers=False)
        second = orders_app(url, service_env, keys, start_consumers=False)
        async with running_service(first) as one, running_service(second) as two:
            w = await a_world(one)
            release, placed = asyncio.Event(), asyncio.Event()
            held = asyncio.create_task(hold_a_placing_open(first.state.runtime.db, w, release, placed))
            await placed.wait()

            others = await asyncio.wait_for(
                asyncio.gather(*(place(two, w) for _ in range(3))), timeout=NOT_WAITING_FOR_IT
            )
            assert [r.status_code for r in others] == [201, 201, 201], [r.text for r in others]
            assert not held.done()  # the first replica's transaction was open all along
            release.set()
            numbers = [await held, *(r.json()["number"] for r in others)]

            both = await asyncio.gather(*(place(client, w) for client in (one, two) for _ in range(8)))
            assert all(r.status_code == 201 for r in both), [r.text for r in both if r.status_code != 201]
            numbers += [r.json()["number"] for r in both]

        third = orders_app(url, service_env, keys, start_consumers=False)  # a replica (re)started later
        async with running_service(third) as client:
            later = await place(client, w)
            assert later.status_code == 201, later.text
            numbers.append(later.json()["number"])
            engine = third.state.runtime.db.engine
            async with engine.connect() as conn:
                stored = (await conn.execute(sa.select(orders.c.number))).scalars().all()

    assert len(numbers) == len(set(numbers)) == 1 + 3 + 16 + 1
    assert sorted(stored) == sorted(numbers)
    assert all(n.isdigit() and 1001 <= int(n) < 1001 + 100 for n in numbers)  # short, readable, one counter
    assert int(numbers[-1]) > max(int(n) for n in numbers[:-1])  # a restart never hands out a number again
