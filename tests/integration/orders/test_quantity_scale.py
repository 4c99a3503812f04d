"""One quantity scale at the orders edge: thousandths, whole pieces — refused with a 422, never rounded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from oms_orders import domain
from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.support.services import running_service


async def test_placing_and_editing_refuse_what_inventory_could_not_reserve_exactly(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-1, R-ED-1, R-RSV-1: a quantity with more than 3 decimal places (0.0004, 2.0015), or a fraction of a
    unit counted in pieces (1.5 pcs), is refused with the line and its reason, and nothing is stored; a unit that
    takes fractions (kg) takes thousandths exactly."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)  # A-1 and C-3 in pcs, B-2 in kg
        for lines, reason in (
            ([{"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": "0.0004"}], "3 decimal places"),
            ([{"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": "2.0015"}], "3 decimal places"),
            ([{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": "1.5"}], "counted whole"),
            ([{"sku": "C-3", "warehouse_id": w.warehouses[0], "quantity": 2.5}], "counted whole"),
        ):
            r = await place(client, w, lines)
            assert r.status_code == 422, r.text
            error = r.json()["error"]
            assert error["code"] == "invalid_lines" and reason in error["details"][0]["reasons"][0], error
        assert (await client.get("/api/v1/orders", headers=w.buy)).json()["total"] == 0

        r = await place(
            client,
            w,
            [
                {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": "2.000"},
                {"sku": "B-2", "warehouse_id": w.warehouses[1], "quantity": "1.000"},
            ],
        )
        assert r.status_code == 201, r.text
        order = r.json()
        a1, b2 = order["lines"]
        assert (a1["quantity"], b2["quantity"]) == ("2", "1")

        url = f"/api/v1/orders/{order['order_id']}/lines"
        for body, reason in (
            ({"edit": [{"line_id": a1["line_id"], "quantity": "2.5"}]}, "counted whole"),
            ({"edit": [{"line_id": b2["line_id"], "quantity": "1.0005"}]}, "3 decimal places"),
            ({"add": [{"sku": "C-3", "warehouse_id": w.warehouses[0], "quantity": "0.5"}]}, "counted whole"),
        ):
            r = await client.post(url, headers={**w.sup, **if_match(order)}, json=body)
            assert r.status_code == 422, (body, r.text)
            assert reason in str(r.json()["error"]["details"]), r.text
        stored = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=w.sup)).json()
        assert stored["version"] == order["version"]

        r = await client.post(
            url, headers={**w.sup, **if_match(order)}, json={"edit": [{"line_id": b2["line_id"], "quantity": "1.125"}]}
        )
        assert r.status_code == 200, r.text
        assert [x["quantity"] for x in r.json()["lines"]] == ["2", "1.125"]
        assert r.json()["total"] == str(Decimal(21) + Decimal("2.25"))
        # VAT 20 % inside each line, half-up to kopecks as 1C computes it: 3.50 and 0.375 → 0.38
        assert [x["vat_amount"] for x in r.json()["lines"]] == ["3.5", "0.38"] and r.json()["vat_amount"] == "3.88"


@pytest.mark.parametrize(
    ("sku", "quantity", "reason"),
    [("B-2", "0.0004", "3 decimal places"), ("A-1", "1.5", "counted whole"), ("A-1", 2.5, "counted whole")],
)
def test_an_imported_row_is_refused_off_the_scale(sku: str, quantity: object, reason: str) -> None:
    """R-IN-3: the Excel import checks each row's quantity on the same scale, with its sheet row number."""
    items = {
        "A-1": domain.PriceItem("A-1", "Bolt", "pcs", Decimal("10.50"), Decimal(20)),
        "B-2": domain.PriceItem("B-2", "Nut", "kg", Decimal(2), Decimal(20)),
    }
    rows: list[tuple[int, tuple[object, ...]]] = [(2, ("A-1", "MAIN", 5)), (3, (sku, "MAIN", quantity))]
    columns = {"sku": 0, "warehouse": 1, "quantity": 2}
    with pytest.raises(domain.InvalidLines) as refused:
        domain.validate_import(rows, columns, items, {"w-1"}, {"main": "w-1"})
    details = refused.value.details
    assert [d["row"] for d in details] == [3] and reason in details[0]["reasons"][0]
    rows = [(2, ("A-1", "MAIN", 5)), (3, ("B-2", "MAIN", "0,125"))]
    lines = domain.validate_import(rows, columns, items, {"w-1"}, {"main": "w-1"})
    assert [x.quantity for x in lines] == [Decimal(5), Decimal("0.125")]
