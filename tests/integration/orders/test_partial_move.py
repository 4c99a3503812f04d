"""Moving a part of a line's quantity into another part of the order (R-ED-2, R-UI-6)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.support.services import running_service


async def test_part_of_a_line_moves_to_a_new_part_and_the_rest_stays(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ED-2: 4 of 10 bolts move to a new part, 6 stay; the totals follow; bad quantities change nothing."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        order = (
            await place(
                client,
                w,
                lines=[
                    {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 10},
                    {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": 2},
                ],
            )
        ).json()
        oid = order["order_id"]
        a1 = order["lines"][0]["line_id"]
        url = f"/api/v1/orders/{oid}/parts"

        for quantities in ({a1: "2.5"}, {a1: "-1"}, {a1: "ten"}, {order["lines"][1]["line_id"]: 1}):
            r = await client.post(
                url, headers={**w.sup, **if_match(order)}, json={"line_ids": [a1], "quantities": quantities}
            )
            assert r.status_code == 422, (quantities, r.text)
        r = await client.post(
            url, headers={**w.sup, **if_match(order)}, json={"line_ids": [a1], "copy": True, "quantities": {a1: 1}}
        )
        assert r.status_code == 422
        assert (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()["version"] == order["version"]

        r = await client.post(url, headers={**w.sup, **if_match(order)}, json={"line_ids": [a1], "quantities": {a1: 4}})
        assert r.status_code == 201, r.text
        part = r.json()
        assert [(x["sku"], x["quantity"]) for x in part["lines"]] == [("A-1", "4")]
        source = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        assert [(x["sku"], x["quantity"]) for x in source["lines"]] == [("A-1", "6"), ("B-2", "2")]
        assert source["lines"][0]["line_id"] == a1
        unit_price = order["lines"][0]["price"]
        assert float(part["total"]) == 4 * float(unit_price)

        # The whole remaining quantity (or more) moves the whole line; a part must keep a line.
        r = await client.post(
            url, headers={**w.sup, **if_match(source)}, json={"line_ids": [a1], "quantities": {a1: 6}}
        )
        assert r.status_code == 201
        source = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        assert [x["sku"] for x in source["lines"]] == ["B-2"]
        changes = (await client.get(f"/api/v1/orders/{oid}/changes", headers=w.buy)).json()["items"]
        assert ("A-1", "quantity", "10", "6") in {(c["sku"], c["field"], c["old"], c["new"]) for c in changes}
