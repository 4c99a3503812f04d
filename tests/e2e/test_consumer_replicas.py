"""Two processes of inventory in one consumer group (`oms up --replicas inventory=2`): both consume a share of
its partitions, and an order placed and confirmed is reserved once, not once per replica."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack.components import READY_TIMEOUT_S
from oms_devstack.stack import LocalStack
from oms_devstack.story import Story, chapter_thin_slice
from tests.support.services import WAIT_SCALE

PARTITIONS = 3


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s * WAIT_SCALE
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen within {timeout_s:.0f} s (last: {last!r})")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    local = LocalStack.on_free_ports(
        tmp_path / "var",
        env=env,
        # What the first order's story needs: orders, inventory, the people told, the figures counted.
        services=["orders", "inventory", "notifications", "analytics"],
        replicas={"inventory": 2},
        ready_timeout_s=READY_TIMEOUT_S * WAIT_SCALE,
    )
    local.start()
    try:
        yield local
    finally:
        local.stop()


def assigned(client: httpx.Client, url: str) -> set[tuple[str, int]]:
    body = client.get(f"{url}/ready").json()
    return {(topic, p) for topic, numbers in (body.get("partitions") or {}).items() for p in numbers}


def test_two_inventory_replicas_share_the_partitions_and_reserve_a_confirmed_order_once(
    stack: LocalStack, tmp_path: Path
) -> None:
    """R-RSV-1, R-STK-2 with inventory as two processes: each consumes partitions of every topic inventory
    reads, none twice; the buyer's order, confirmed by the supplier, holds exactly its quantities in the
    reserve ledger (one entry per line) and availability drops once, also after every service has drained."""
    first, second = stack.children["inventory"].component, stack.children["inventory#2"].component
    assert first.port != second.port and first.pid != second.pid

    with httpx.Client(timeout=10.0, trust_env=False) as client:

        def split() -> tuple[set[tuple[str, int]], set[tuple[str, int]]] | None:
            mine, theirs = assigned(client, first.url), assigned(client, second.url)
            topics = {t for t, _ in mine | theirs}
            whole = {(t, p) for t in topics for p in range(PARTITIONS)}
            return (mine, theirs) if mine and theirs and not mine & theirs and mine | theirs == whole else None

        mine, theirs = wait_for("the group's partitions split between the two inventory processes", split)
        assert {t for t, _ in mine} == {t for t, _ in theirs}, "each replica consumes every topic inventory reads"

        lines: list[str] = []
        story = Story(stack.urls, client, say=lines.append, facts={"mail_dir": stack.mail_dir})
        chapter_thin_slice(story)
        order_id, supplier = story.facts["order_id"], story.facts["supplier"]

        processes = [c.component.url for c in stack.children.values()]
        wait_for(
            "every process drained",
            lambda: all(client.get(f"{url}/drained", timeout=20.0).status_code == 200 for url in processes),
        )

        reserves = story.call("GET", "inventory", f"/api/v1/orders/{order_id}/reserves", actor=supplier).json()
        assert {(line["sku"], Decimal(line["requested"]), Decimal(line["reserved"])) for line in reserves["lines"]} == {
            ("BOLT-M8", Decimal(10), Decimal(10)),
            ("NUT-M8", Decimal(25), Decimal(25)),
        }
        for line in reserves["lines"]:
            ledger = story.call(
                "GET",
                "inventory",
                f"/api/v1/orders/{order_id}/lines/{line['line_id']}/reserves",
                actor=supplier,
            ).json()
            assert [Decimal(e["quantity"]) for e in ledger["entries"]] == [Decimal(line["requested"])], ledger
        assert story.facts["availability"]() == {"BOLT-M8": Decimal(90), "NUT-M8": Decimal(15), "WASHER-M8": 0}
        # Both processes answer for inventory and tell the same story.
        for url in (first.url, second.url):
            seen = client.get(
                f"{url}/api/v1/orders/{order_id}/reserves", headers={"Authorization": f"Bearer {supplier.token}"}
            )
            assert seen.status_code == 200 and seen.json()["lines"] == reserves["lines"]
