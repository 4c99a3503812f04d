"""Two people at once: no lost update (R-ED-4) and no shared order number (R-IN-4)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.support.services import running_service


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
