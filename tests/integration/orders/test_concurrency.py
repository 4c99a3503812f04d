"""Two people at once: no lost update (R-ED-4) and no shared order number (R-IN-4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from oms_orders.db import metadata, order_lines, orders
from oms_orders.handlers.reserves import apply_reserve
from oms_shared.db import Database, create_engine
from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.integration.orders.test_reserve_parts import confirm, reserve_event
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import eventually, running_service


async def test_concurrent_edits_and_placements(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ED-4: of two edits of one version one wins, the other gets 412; R-IN-4: parallel orders, unique numbers."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        placed = await asyncio.gather(*(place(client, w) for _ in range(8)))
        assert all(r.status_code == 201 for r in placed)
        numbers = sorted(int(r.json()["number"]) for r in placed)
        assert numbers == list(range(1001, 1009))

        order = placed[0].json()
        line = order["lines"][0]["line_id"]
        url = f"/api/v1/orders/{order['order_id']}/lines"
        answers = await asyncio.gather(
            client.post(url, headers={**w.sup, **if_match(order)}, json={"edit": [{"line_id": line, "quantity": 7}]}),
            client.post(url, headers={**w.sup, **if_match(order)}, json={"edit": [{"line_id": line, "quantity": 9}]}),
        )
        assert sorted(r.status_code for r in answers) == [200, 412]
        winner = next(r for r in answers if r.status_code == 200).json()
        now = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=w.sup)).json()
        assert now["lines"][0]["quantity"] == winner["lines"][0]["quantity"]
        assert now["version"] == winner["version"]


@needs_postgres
async def test_a_reserve_arriving_while_the_order_is_shipped_waits_instead_of_deadlocking(
    service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-RSV-1, PostgreSQL: inventory's reserve for an order reaches orders while a manager ships it. Shipping locks
    the order, then its lines; the reserve used to lock a line, then the order, and one of the two died in a
    deadlock (the manager got a 503). Now the reserve waits for the order and both apply."""
    async with fresh_postgres_databases(1) as (url,):
        app = orders_app(url, service_env, keys, start_consumers=False)
        async with running_service(app) as client:
            w = await a_world(client)
            lines = [
                {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": "3"},
                {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": "5"},
            ]
            placed = await place(client, w, lines)
            assert placed.status_code == 201, placed.text
            order = await confirm(client, w, placed.json())
        event = reserve_event(w, order, [3, 5])
        engine = create_engine(url)
        db = Database(engine, metadata)
        db_name = url.rpartition("/")[2]
        try:
            async with engine.connect() as shipping:
                await shipping.begin()
                # The manager's transaction: the order row first (its version)...
                await shipping.execute(
                    orders.update().where(orders.c.id == order["order_id"]).values(version=orders.c.version + 1)
                )

                async def reserve() -> None:
                    async with db.transaction() as tx:
                        await apply_reserve(event, tx)

                applying = asyncio.create_task(reserve())

                async def reserve_waits_on_a_lock() -> bool:
                    async with engine.connect() as probe:
                        waiting = await probe.scalar(
                            sa.text(
                                "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"
                            ),
                            {"db": db_name},
                        )
                    return bool(waiting) or applying.done()

                await eventually(reserve_waits_on_a_lock)
                # ...then its lines, while the reserve is in flight.
                await shipping.execute(
                    order_lines.update()
                    .where(order_lines.c.order_id == order["order_id"])
                    .values(shipped_quantity=order_lines.c.quantity)
                )
                await shipping.commit()
            await applying
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        sa.select(order_lines.c.reserved, order_lines.c.shipped_quantity)
                        .where(order_lines.c.order_id == order["order_id"])
                        .order_by(order_lines.c.reserved)
                    )
                ).all()
            assert [(int(r.reserved), int(r.shipped_quantity)) for r in rows] == [(3, 3), (5, 5)]
        finally:
            await engine.dispose()
