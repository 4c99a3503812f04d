"""Property: any interleaving of reserving, releasing, shipping, receiving, manual holds and ERP stock keeps the
books straight: 0 ≤ reserved ≤ on hand, and the ledger, the projection and the holders agree (R-RSV-1..4)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms_shared.contracts import (
    ErpStockImportedData,
    ErpStockImportedV1,
    ErpStockItem,
    OrderLine,
    OrderStatus,
    make_event,
)
from oms_shared.errors import Invalid
from tests.integration.inventory.nodes import USER, Node, catalogue, item, line, lines_of, nodes, status

SKUS = ("A", "B")


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    """Inventory's handlers and consumer over one SQLite database, for every example (each its own tenant)."""
    async with nodes(f"sqlite+aiosqlite:///{tmp_path / 'reserves.db'}") as (one,):
        yield one


@dataclass
class Order:
    lines: list[OrderLine]
    version: int = 1
    status: OrderStatus | None = None
    order_id: uuid.UUID = field(default_factory=uuid.uuid4)


quantity = st.integers(min_value=0, max_value=12)
ORDER_LINES = st.lists(st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=8)), min_size=1, max_size=2)
STEP = st.one_of(
    st.tuples(st.just("confirm"), st.integers(0, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 3)),
    st.tuples(st.just("reject"), st.integers(0, 3)),
    st.tuples(st.just("ship"), st.integers(0, 3)),
    st.tuples(st.just("receive"), st.sampled_from(SKUS), st.integers(1, 10)),
    st.tuples(st.just("hold"), st.sampled_from(SKUS), quantity),
    st.tuples(st.just("erp"), st.sampled_from(SKUS), quantity),
)


def erp_stock(tenant: str, wid: str, sku: str, on_hand: int) -> ErpStockImportedV1:
    return make_event(
        ErpStockImportedV1,
        tenant_id=uuid.UUID(tenant),
        aggregate_id=wid,
        producer="erp-bridge",
        data=ErpStockImportedData(
            mode="changes", items=[ErpStockItem(warehouse_id=uuid.UUID(wid), sku=sku, on_hand=Decimal(on_hand))]
        ),
    )


async def apply(node: Node, tenant: str, wid: str, orders: list[Order], step: tuple[Any, ...]) -> None:
    """One step as the orders service, a storekeeper or the ERP would take it; steps orders would refuse (shipping
    an order never confirmed, anything after a final status) are not sent."""
    kind = step[0]
    if kind in ("confirm", "cancel", "reject", "ship"):
        order = orders[step[1] % len(orders)]
        target = {
            "confirm": OrderStatus.CONFIRMED,
            "cancel": OrderStatus.CANCELLED,
            "reject": OrderStatus.REJECTED,
            "ship": OrderStatus.SHIPPED,
        }[kind]
        allowed = {
            OrderStatus.CONFIRMED: order.status is None,
            OrderStatus.CANCELLED: order.status in (None, OrderStatus.CONFIRMED),
            OrderStatus.REJECTED: order.status in (None, OrderStatus.CONFIRMED),
            OrderStatus.SHIPPED: order.status is OrderStatus.CONFIRMED,
        }[target]
        if allowed:
            order.version += 1
            order.status = target
            await node.deliver(status(tenant, order.order_id, order.version, target, order.lines))
    elif kind == "receive":
        (incoming,) = await node.inventory.add_incoming(
            tenant, [{"warehouse_id": wid, "sku": step[1], "quantity": step[2]}]
        )
        await node.inventory.receive_incoming(tenant, USER, incoming["incoming_id"])
    elif kind == "hold":
        before = await item(node, tenant, wid, step[1])
        try:
            await node.inventory.set_manual_reserve(tenant, USER, wid, step[1], str(step[2]), "kept for a visitor")
        except Invalid:  # more than is available: refused, and nothing changed
            assert await item(node, tenant, wid, step[1]) == before
    else:
        await node.deliver(erp_stock(tenant, wid, step[1], step[2]))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stock=st.tuples(quantity, quantity),
    order_lines=st.lists(ORDER_LINES, min_size=1, max_size=4),
    steps=st.lists(STEP, min_size=1, max_size=12),
)
async def test_any_interleaving_keeps_reserves_within_stock_and_the_books_in_agreement(
    node: Node, stock: tuple[int, int], order_lines: list[list[tuple[str, int]]], steps: list[tuple[Any, ...]]
) -> None:
    """R-RSV-1, R-RSV-3, R-RSV-4, R-ERP-2: after every step of any interleaving of confirmations (reserve),
    cancellations and rejections (release), shipments, deliveries received, manual holds and ERP stock figures:
    0 ≤ reserved ≤ on hand for every item; the reserved projection equals its ledger and its holders (the
    reconciler finds no drift); no line holds more than it asks; a cancelled or rejected order holds nothing, a
    shipped one's lines are consumed."""
    tenant = str(uuid.uuid4())
    wid = await catalogue(node, tenant, {sku: str(q) for sku, q in zip(SKUS, stock, strict=True)})
    orders = [Order([line(sku, wid, str(q)) for sku, q in spec]) for spec in order_lines]
    for step in steps:
        await apply(node, tenant, wid, orders, step)
        for sku in SKUS:
            on_hand, reserved = await item(node, tenant, wid, sku)
            assert 0 <= reserved <= on_hand, (step, sku, on_hand, reserved)
        assert await node.inventory.reconcile() == [], step
    for order in orders:
        held = await lines_of(node, tenant, order.order_id)
        asked = {str(x.line_id): int(x.quantity * 1000) for x in order.lines}
        for line_id, (state, reserved) in held.items():
            assert 0 <= reserved <= asked[line_id]
            if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
                assert (state, reserved) == ("released", 0), (order.status, held)
            if order.status is OrderStatus.SHIPPED:  # what it held was taken (its figure stays as the record)
                assert state == "consumed", (order.status, held)
    assert await node.parked() == 0
