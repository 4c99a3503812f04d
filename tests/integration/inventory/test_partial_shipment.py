"""A part of a confirmed order shipped by the ERP leaves the warehouse, against the real broker and database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oms_inventory.app import create_app
from oms_inventory.db import order_lines, reserve_ledger
from oms_inventory.settings import Settings
from oms_shared.contracts import LineChange, OrderChangedData, OrderChangedV1, OrderLine, OrderStatus, make_event
from tests.integration.inventory.helpers import a_line, send, setup_catalogue, status_event, stock_of
from tests.integration.inventory.nodes import USER, Node, books, catalogue, item, line, nodes, status
from tests.integration.inventory.test_erp_shipping import erp_stock
from tests.integration.inventory.test_pg_races import at_once
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import bearer, eventually, running_service, token_for

U = 1000


def shipped(
    tenant: uuid.UUID, order_id: uuid.UUID, line: OrderLine, old: str, new: str, *, edit: bool = False
) -> OrderChangedV1:
    """``order.changed`` as orders publishes it when the ERP shipped part of a line (kind ``erp_applied``), or
    (``edit``) a later price edit listing the line with what it shipped."""
    after = line.model_copy(update={"shipped_quantity": Decimal(new)})
    change = LineChange(line_id=line.line_id, sku=line.sku, field="shipped", old=old, new=new)
    if edit:
        change = LineChange(line_id=line.line_id, sku=line.sku, field="price", old="1", new="2")
    return make_event(
        OrderChangedV1,
        tenant_id=tenant,
        aggregate_id=str(order_id),
        data=OrderChangedData(
            order_id=order_id,
            number="1",
            buyer_id=uuid.uuid4(),
            kind="lines_edited" if edit else "erp_applied",
            status=OrderStatus.CONFIRMED,
            lines=[after],
            changed_at=datetime.now(UTC),
            line_changes=[change],
        ),
    )


async def test_a_partial_shipment_consumes_what_was_shipped_and_keeps_the_rest_reserved(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-5, R-RSV-1: 10 reserved, the ERP ships 4: on hand and reserved go down by 4 and the line holds 6;
    the same event again changes nothing; shipping the order then consumes the 6 left, nothing twice."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant, user_id=uuid.uuid4())
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"A": "15"})
        order_id = uuid.uuid4()
        line = a_line("A", wid, "10")

        async def wait_stock(expected: dict[str, str]) -> None:
            async def check() -> None:
                item = await stock_of(client, token, wid, "A")
                assert {k: item[k] for k in expected} == expected, item

            await eventually(check, timeout=15)

        async def held() -> list[str]:
            r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(token))
            assert r.status_code == 200, r.text
            return [x["reserved"] for x in r.json()["lines"]]

        await send(kafka, status_event(tenant, order_id, OrderStatus.CONFIRMED, [line]))
        await wait_stock({"on_hand": "15", "reserved": "10", "available": "5"})

        first = shipped(tenant, order_id, line, "0", "4")
        await send(kafka, first)
        await wait_stock({"on_hand": "11", "reserved": "6", "available": "5"})
        assert await held() == ["6"]

        # The same event again (redelivered), and a later edit listing the line with its 4 shipped: still 6 held.
        await send(kafka, first, shipped(tenant, order_id, line, "4", "4", edit=True))
        marker = uuid.uuid4()  # an order confirmed after those events: once it holds, they were read
        await send(kafka, status_event(tenant, marker, OrderStatus.CONFIRMED, [a_line("A", wid, "1")]))
        await wait_stock({"on_hand": "11", "reserved": "7", "available": "4"})
        assert await held() == ["6"]

        await send(kafka, status_event(tenant, order_id, OrderStatus.SHIPPED, [line]))
        await wait_stock({"on_hand": "5", "reserved": "1", "available": "4"})


def ships(tenant: str, order_id: uuid.UUID, seq: int, lines: list[OrderLine], old: str, new: str) -> OrderChangedV1:
    """``order.changed`` (``erp_applied``, version ``seq``) saying the ERP has shipped ``new`` of the first line
    in all (``old`` before)."""
    first = lines[0].model_copy(update={"shipped_quantity": Decimal(new)})
    return make_event(
        OrderChangedV1,
        tenant_id=uuid.UUID(tenant),
        aggregate_id=str(order_id),
        producer="orders",
        sequence=seq,
        data=OrderChangedData(
            order_id=order_id,
            number="1001",
            buyer_id=uuid.uuid4(),
            kind="erp_applied",
            status=OrderStatus.CONFIRMED,
            lines=[first, *lines[1:]],
            changed_at=datetime.now(UTC),
            line_changes=[LineChange(line_id=first.line_id, sku=first.sku, field="shipped", old=old, new=new)],
        ),
    )


async def reasons(node: Node, order_id: uuid.UUID) -> list[tuple[str, int]]:
    async with node.db.read() as conn:
        rows = await conn.execute(
            sa.select(reserve_ledger.c.reason, reserve_ledger.c.quantity)
            .where(reserve_ledger.c.order_id == str(order_id))
            .order_by(reserve_ledger.c.id)
        )
        return [(r.reason, int(r.quantity)) for r in rows]


async def line_state(node: Node, order_id: uuid.UUID) -> tuple[str, int, int]:
    """(state, requested, reserved) of the order's one line."""
    async with node.db.read() as conn:
        row = (
            await conn.execute(
                sa.select(order_lines.c.state, order_lines.c.requested, order_lines.c.reserved).where(
                    order_lines.c.order_id == str(order_id)
                )
            )
        ).one()
    return row.state, int(row.requested), int(row.reserved)


async def test_a_partial_shipment_in_an_erp_fed_warehouse_releases_the_shipped_part_and_leaves_on_hand(
    database_url: str,
) -> None:
    """R-ERP-5, R-ERP-2, R-RSV-4: in a warehouse whose stock the ERP feeds, 10 reserved and the ERP ships 4: the
    line holds 6, the reserve drops by 4 and on hand stays the ERP's 15 until the ERP's stock says 11; shipping
    the order then releases the 6 left, on hand still the ERP's; the books agree after each step."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "0"})
        await node.deliver(erp_stock(tenant, wid, "15"))
        order, lines = uuid.uuid4(), [line("A", wid, "10")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        assert await item(node, tenant, wid, "A") == (15 * U, 10 * U)

        await node.deliver(ships(tenant, order, 3, lines, "0", "4"))
        assert await item(node, tenant, wid, "A") == (15 * U, 6 * U)
        assert await line_state(node, order) == ("active", 6 * U, 6 * U)
        assert await node.inventory.reconcile() == []
        await node.deliver(erp_stock(tenant, wid, "11"))  # the ERP books its shipment
        assert await item(node, tenant, wid, "A") == (11 * U, 6 * U)

        await node.deliver(status(tenant, order, 4, OrderStatus.SHIPPED, lines))
        assert await item(node, tenant, wid, "A") == (11 * U, 0)
        assert await reasons(node, order) == [
            ("reserved", 10 * U),
            ("shipped_erp_stock", -4 * U),
            ("shipped_erp_stock", -6 * U),
        ]
        assert await node.inventory.reconcile() == []


async def test_partial_shipments_then_the_full_one_ship_each_unit_once_and_leave_the_books_clean(
    database_url: str,
) -> None:
    """R-ERP-5, R-RSV-4: 10 reserved of 15; the ERP ships 4, then 7 in all: on hand and the reserve go down by 4
    and 3. A second event of the same version saying 7 again, and an unordered older one saying 4, ship nothing
    and reserve no shipped unit again; shipping the order consumes only the 3 left. The reconciler finds every
    line's ledger equal to the line and the item's reserve equal to its holders."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "15"})
        order, lines = uuid.uuid4(), [line("A", wid, "10")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        await node.deliver(ships(tenant, order, 3, lines, "0", "4"))
        assert await item(node, tenant, wid, "A") == (11 * U, 6 * U)
        await node.deliver(ships(tenant, order, 4, lines, "4", "7"))
        assert await item(node, tenant, wid, "A") == (8 * U, 3 * U)
        assert await node.inventory.reconcile() == []

        await node.deliver(ships(tenant, order, 4, lines, "4", "7"))  # same version, another event (other topic)
        await node.deliver(ships(tenant, order, 0, lines, "0", "4"))  # unordered, older
        assert await item(node, tenant, wid, "A") == (8 * U, 3 * U)
        assert await line_state(node, order) == ("active", 3 * U, 3 * U)
        assert await node.inventory.reconcile() == []

        await node.deliver(status(tenant, order, 5, OrderStatus.SHIPPED, lines))
        assert await item(node, tenant, wid, "A") == (5 * U, 0)
        assert await line_state(node, order) == ("consumed", 3 * U, 3 * U)
        assert await reasons(node, order) == [
            ("reserved", 10 * U),
            ("shipped", -4 * U),
            ("shipped", -3 * U),
            ("consumed", -3 * U),
        ]
        assert (await books(node, tenant, wid, "A"))["ledger"] == {str(lines[0].line_id): 0}
        assert await node.inventory.reconcile() == []


async def test_a_release_after_a_partial_shipment_gives_back_only_what_is_left(database_url: str) -> None:
    """R-ERP-5, R-RSV-4: 10 reserved, the ERP ships 4, then the order is cancelled: the 6 left go back to stock
    (available 11 - 0 = 11), the 4 shipped stay gone, and the books agree."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "15"})
        order, lines = uuid.uuid4(), [line("A", wid, "10")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        await node.deliver(ships(tenant, order, 3, lines, "0", "4"))
        await node.deliver(status(tenant, order, 4, OrderStatus.CANCELLED, lines))
        assert await item(node, tenant, wid, "A") == (11 * U, 0)
        assert await line_state(node, order) == ("released", 6 * U, 0)
        assert await node.inventory.reconcile() == []


@needs_postgres
async def test_a_partial_shipment_racing_a_backorder_fill_on_another_replica_loses_no_unit() -> None:
    """R-ERP-5, R-RSV-2: a line holds 6 of 10 and waits for 4; on two replicas at once the ERP ships 2 of it and new
    stock fills it. Whichever goes first, the line ends holding all it still needs (8), the item reserves what the
    line holds, and every line's ledger equals the line (before, the shipment wrote the line from a read taken
    before the fill and dropped the filled units)."""
    tenant = str(uuid.uuid4())
    async with fresh_postgres_databases(1) as (url,), nodes(url, 2) as (a, b):
        wid = await catalogue(a, tenant, {"A": "6"})
        for _ in range(12):
            await a.inventory.put_stock(tenant, USER, [{"warehouse_id": wid, "sku": "A", "on_hand": "6"}])
            order, lines = uuid.uuid4(), [line("A", wid, "10")]
            await a.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
            assert await item(a, tenant, wid, "A") == (6 * U, 6 * U)
            results = await at_once(
                partial(a.deliver, ships(tenant, order, 3, lines, "0", "2")),
                partial(b.inventory.put_stock, tenant, USER, [{"warehouse_id": wid, "sku": "A", "on_hand": "20"}]),
            )
            assert not [r for r in results if isinstance(r, BaseException)], results
            assert await line_state(a, order) == ("active", 8 * U, 8 * U)
            assert (await item(a, tenant, wid, "A"))[1] == 8 * U
            assert await a.inventory.reconcile() == []
            await a.deliver(status(tenant, order, 4, OrderStatus.SHIPPED, lines))
            assert (await item(a, tenant, wid, "A"))[1] == 0


async def test_a_line_first_seen_after_part_of_it_shipped_never_gives_up_those_units(database_url: str) -> None:
    """R-ERP-5, R-RSV-1: the first event of an order inventory applies already says 4 of the line's 10 shipped
    (its confirmation arrives later, as older): the line holds the 6 left to ship; a later edit listing the line
    with its 4 shipped takes nothing off on hand or the reserve, and shipping the order consumes the 6."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "15"})
        order, lines = uuid.uuid4(), [line("A", wid, "10")]
        await node.deliver(ships(tenant, order, 3, lines, "0", "4"))
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))  # older: skipped
        assert await item(node, tenant, wid, "A") == (15 * U, 6 * U)
        await node.deliver(ships(tenant, order, 4, lines, "4", "4"))
        assert await item(node, tenant, wid, "A") == (15 * U, 6 * U)
        assert await line_state(node, order) == ("active", 6 * U, 6 * U)
        await node.deliver(status(tenant, order, 5, OrderStatus.SHIPPED, lines))
        assert await item(node, tenant, wid, "A") == (9 * U, 0)
        assert await node.inventory.reconcile() == []
