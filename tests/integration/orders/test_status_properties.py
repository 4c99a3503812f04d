"""Property: whatever the supplier and the buyer ask, in any order, an order's history is a legal path (R-ST-1)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms_orders.domain import FINAL_STATUSES, TRANSITIONS, Side, Status, effective_side
from tests.integration.orders.helpers import World, a_world, orders_app, place
from tests.support.services import running_service

Shop = tuple[httpx.AsyncClient, World]


@pytest.fixture
async def shop(service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path) -> AsyncIterator[Shop]:
    """One orders service (SQLite) and one supplier/buyer world for every example of the property."""
    app = orders_app(f"sqlite+aiosqlite:///{tmp_path / 'matrix.db'}", service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        yield client, await a_world(client)


COMMANDS = st.lists(
    st.tuples(st.sampled_from([Side.SUPPLIER, Side.BUYER]), st.sampled_from(list(Status))), min_size=1, max_size=10
)


async def ask(client: httpx.AsyncClient, w: World, order: dict[str, Any], side: Side, to: Status) -> httpx.Response:
    headers = {**w.sup, "If-Match": f'"{order["version"]}"'} if side is Side.SUPPLIER else w.buy
    return await client.post(f"/api/v1/orders/{order['order_id']}/transitions", headers=headers, json={"to": to})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
async def test_any_sequence_of_commands_from_both_sides_leaves_a_legal_history(
    shop: Shop, commands: list[tuple[Side, Status]]
) -> None:
    """R-ST-1, R-ST-2: a command the matrix allows for its side moves the order one step and is recorded; any
    other is refused with 409 and changes nothing; the history is a chain of allowed moves from "new", each by
    a side allowed to make it, and nothing follows a final status."""
    client, w = shop
    placed = await place(client, w)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    url = f"/api/v1/orders/{order['order_id']}"
    for side, to in commands:
        before = Status(order["status"])
        answer = await ask(client, w, order, side, to)
        if effective_side(side) in TRANSITIONS.get((before, to), frozenset()):
            assert answer.status_code == 200, answer.text
            moved = answer.json()
            assert (moved["status"], moved["version"]) == (to, order["version"] + 1)
            order = moved
        else:
            assert answer.status_code == 409, answer.text
            assert answer.json()["error"]["code"] == "illegal_transition"
            now = (await client.get(url, headers=w.sup)).json()
            assert (now["status"], now["version"]) == (order["status"], order["version"])

    history = (await client.get(url, headers=w.sup)).json()["history"]
    assert (history[0]["from"], history[0]["to"]) == (None, Status.NEW)
    for previous, step in itertools.pairwise(history):
        assert step["from"] == previous["to"]
        assert Status(step["from"]) not in FINAL_STATUSES
        assert effective_side(Side(step["by_side"])) in TRANSITIONS[(Status(step["from"]), Status(step["to"]))]
    assert history[-1]["to"] == order["status"]
