"""Order events apply in the order's version order, whatever order they arrive in (two topics, replays)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from oms_inventory.db import order_lines, order_versions, stock
from oms_shared.contracts import OrderStatus
from tests.integration.inventory.nodes import catalogue, changed, item, line, lines_of, nodes, status

U = 1000  # thousandths per unit


async def test_a_confirmation_replayed_after_the_rejection_reserves_nothing(database_url: str) -> None:
    """R-RSV-4, R-RSV-1: a rejected order holds nothing, even when its confirmation arrives again afterwards
    (replayed from the dead-letter topic, or late from another topic) — with or without an inbox record."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        confirmed = status(tenant, order, 2, OrderStatus.CONFIRMED, lines)
        await node.deliver(confirmed)
        assert await item(node, tenant, wid, "A") == (10 * U, 4 * U)
        await node.deliver(status(tenant, order, 3, OrderStatus.REJECTED, lines))
        assert await item(node, tenant, wid, "A") == (10 * U, 0)

        # The same confirmation once more under a new event id (the inbox cannot recognise it).
        await node.deliver(confirmed.model_copy(update={"event_id": uuid.uuid4()}))
        assert await item(node, tenant, wid, "A") == (10 * U, 0)
        assert {s for s, _ in (await lines_of(node, tenant, order)).values()} == {"released"}

        # A rejection that overtook its confirmation: the confirmation comes second and is ignored.
        other = uuid.uuid4()
        await node.deliver(status(tenant, other, 3, OrderStatus.REJECTED, [line("A", wid, "3")]))
        await node.deliver(status(tenant, other, 2, OrderStatus.CONFIRMED, [line("A", wid, "3")]))
        assert await item(node, tenant, wid, "A") == (10 * U, 0)
        assert await node.parked() == 0
        assert await node.inventory.reconcile() == []


async def test_an_event_ahead_of_the_one_before_it_waits_for_it(database_url: str) -> None:
    """R-RSV-1: a line edit that overtakes the status change before it is parked, then applied after it."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        a = line("A", wid, "4")
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, [a]))
        more = a.model_copy(update={"quantity": Decimal(6)})
        await node.deliver(changed(tenant, order, 4, "lines_edited", [more], status=OrderStatus.EDITING))
        assert await node.parked() == 1
        assert await item(node, tenant, wid, "A") == (10 * U, 4 * U)
        await node.deliver(status(tenant, order, 3, OrderStatus.EDITING, [a]))
        assert await node.unpark() == 1
        assert await node.parked() == 0
        assert await item(node, tenant, wid, "A") == (10 * U, 6 * U)


async def test_a_part_shipped_before_its_split_arrives_consumes_its_reserve(database_url: str) -> None:
    """R-RSV-4, R-SPL-1: a part's shipment handled before the split that created the part waits for the split;
    then the part's reserve is consumed (on hand down) and nothing stays reserved for a shipped order."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10", "B": "10"})
        root, part = uuid.uuid4(), uuid.uuid4()
        a, b = line("A", wid, "3"), line("B", wid, "2")
        await node.deliver(status(tenant, root, 2, OrderStatus.CONFIRMED, [a, b]))
        await node.deliver(changed(tenant, root, 3, "split", [a], changes=[(b.line_id, "moved")], related=[part]))

        await node.deliver(status(tenant, part, 2, OrderStatus.SHIPPED, [b]))
        assert await node.parked() == 1
        await node.deliver(changed(tenant, part, 1, "split", [b], changes=[(b.line_id, "moved")], related=[root]))
        assert await node.unpark() == 1

        assert await item(node, tenant, wid, "B") == (8 * U, 0)
        assert await item(node, tenant, wid, "A") == (10 * U, 3 * U)
        assert await lines_of(node, tenant, part) == {str(b.line_id): ("consumed", 2 * U)}
        assert await node.inventory.reconcile() == []


async def test_a_coming_soon_part_keeps_its_root_orders_place_in_the_queue(database_url: str) -> None:
    """R-SPL-1, R-RSV-1: the shortage moved to a coming-soon part is filled before orders confirmed after the
    root order (first come, first served by the root's confirmation)."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "2"})
        t0 = datetime.now(UTC) - timedelta(minutes=10)
        root, later, part = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        a = line("A", wid, "5")
        await node.deliver(status(tenant, root, 2, OrderStatus.CONFIRMED, [a], at=t0))
        await node.deliver(
            status(tenant, later, 2, OrderStatus.CONFIRMED, [line("A", wid, "3")], at=t0 + timedelta(minutes=1))
        )
        # The root keeps 2 of its line; the 3 short go to a coming-soon part as a new line.
        kept = a.model_copy(update={"quantity": Decimal(2)})
        short = line("A", wid, "3")
        split_at = t0 + timedelta(minutes=2)
        await node.deliver(changed(tenant, root, 3, "split", [kept], related=[part], at=split_at))
        await node.deliver(
            changed(tenant, part, 1, "split", [short], changes=[(short.line_id, "split")], related=[root], at=split_at)
        )
        incoming = await node.inventory.add_incoming(tenant, [{"warehouse_id": wid, "sku": "A", "quantity": "3"}])
        await node.inventory.receive_incoming(tenant, str(uuid.uuid4()), incoming[0]["incoming_id"])

        assert await lines_of(node, tenant, part) == {str(short.line_id): ("active", 3 * U)}
        assert [r for _, r in (await lines_of(node, tenant, later)).values()] == [0]


async def test_a_confirmed_state_seen_first_still_reserves(database_url: str) -> None:
    """R-RSV-1: when a line edit of a confirmed order is the first event of the order applied, the confirmation
    behind it is older and dropped, but the order is reserved from the edit's lines."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        a = line("A", wid, "4")
        await node.deliver(changed(tenant, order, 5, "lines_edited", [a.model_copy(update={"quantity": Decimal(5)})]))
        await node.deliver(status(tenant, order, 4, OrderStatus.CONFIRMED, [a]))
        assert await item(node, tenant, wid, "A") == (10 * U, 5 * U)


async def test_the_reconciler_reports_units_held_for_a_closed_order(database_url: str) -> None:
    """R-RSV-4: a line still holding units while its order is rejected is drift the reconciler reports per item
    (books that agree with each other but hold stock for an order that will never take it)."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        assert await node.inventory.reconcile() == []
        # The rejection is recorded, but (as before versions were kept) its release did not happen.
        async with node.db.transaction() as tx:
            await tx.conn.execute(
                order_versions.update().where(order_versions.c.order_id == str(order)).values(status="rejected")
            )
        (drift,) = await node.inventory.reconcile()
        assert (drift["sku"], drift["projection"], drift["ledger"], drift["holders"]) == ("A", 4 * U, 4 * U, 4 * U)
        assert [(x["line_id"], x["order_status"]) for x in drift["lines"]] == [(str(lines[0].line_id), "rejected")]


async def test_the_reconciler_reports_a_released_line_that_still_holds_units(database_url: str) -> None:
    """R-RSV-4: a cancelled order's line marked released but still holding a unit (its item counting it) shows as
    drift on its item: holders differ from the reserve, and the line from its ledger."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        lines = [line("A", wid, "4")]
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, lines))
        await node.deliver(status(tenant, order, 3, OrderStatus.CANCELLED, lines))
        async with node.db.transaction() as tx:  # what a fill racing the release used to leave behind
            await tx.conn.execute(order_lines.update().values(reserved=1000))
            await tx.conn.execute(stock.update().values(reserved=1000))
        (drift,) = await node.inventory.reconcile()
        assert (drift["projection"], drift["ledger"], drift["holders"]) == (1 * U, 0, 0)
        assert [(x["state"], x["reserved"]) for x in drift["lines"]] == [("released", 1 * U)]


async def test_a_document_attached_right_after_the_confirmation_does_not_lose_its_reserve(database_url: str) -> None:
    """R-RSV-1: the manager confirms and at once attaches a document (or writes a comment): the change without
    lines (version 3, order.changed) may arrive before the confirmation (version 2, order.status_changed). It
    waits for it; the order is reserved and the change applies after."""
    tenant = str(uuid.uuid4())
    async with nodes(database_url) as (node,):
        wid = await catalogue(node, tenant, {"A": "10"})
        order = uuid.uuid4()
        a = line("A", wid, "4")
        await node.deliver(changed(tenant, order, 3, "document", None))
        assert await node.parked() == 1
        assert await item(node, tenant, wid, "A") == (10 * U, 0)
        await node.deliver(status(tenant, order, 2, OrderStatus.CONFIRMED, [a]))
        assert await item(node, tenant, wid, "A") == (10 * U, 4 * U)
        assert await node.unpark() == 1
        assert await node.parked() == 0
        assert await item(node, tenant, wid, "A") == (10 * U, 4 * U)

        # A comment written on a placed order is its first change (version 2): applied, nothing to wait for.
        placed = uuid.uuid4()
        await node.deliver(changed(tenant, placed, 2, "comment", None, status=OrderStatus.NEW))
        assert await node.parked() == 0
        await node.deliver(status(tenant, placed, 3, OrderStatus.CONFIRMED, [line("A", wid, "2")]))
        assert await item(node, tenant, wid, "A") == (10 * U, 6 * U)
        assert await node.inventory.reconcile() == []
