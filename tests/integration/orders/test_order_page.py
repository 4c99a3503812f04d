"""What one order shows (R-PF-1), and the shipment dates a user may choose."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.support.services import running_service


def _in_days(days: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def test_the_order_shows_everything_its_page_needs(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-PF-1: an order shows its buyer, number and date, status, responsible, cost and payment, lines with
    quantities per warehouse, the desired shipment date, comments and documents."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        desired = _in_days(7)
        placed = await place(
            client,
            w,
            lines=[
                {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": "3"},
                {"sku": "A-1", "warehouse_id": w.warehouses[1], "quantity": "2"},
                {"sku": "B-2", "warehouse_id": w.warehouses[1], "quantity": "5"},
            ],
            desired_shipment_date=desired,
            comment="call before delivery",
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        url = f"/api/v1/orders/{order['order_id']}"
        r = await client.patch(f"{url}/profile", headers={**w.sup, **if_match(order)}, json={"paid_amount": "30"})
        assert r.status_code == 200, r.text
        assert (
            await client.post(f"{url}/comments", headers=w.sup, json={"text": "Ships on Friday"})
        ).status_code == 201
        r = await client.post(
            f"{url}/documents", headers=w.sup, files={"file": ("invoice.pdf", b"%PDF-1.4", "application/pdf")}
        )
        assert r.status_code == 201, r.text

        for side in (w.sup, w.buy):  # both parties see the same order
            shown = (await client.get(url, headers=side)).json()
            # Buyer, number and date.
            assert (shown["buyer_id"], shown["buyer_name"]) == (w.buyer_id, "Buyer LLC")
            assert shown["number"] == "1001"
            assert datetime.fromisoformat(shown["created_at"]).date() == datetime.now(UTC).date()
            # Status and responsible.
            assert shown["status"] == "new"
            assert shown["responsible_user_id"] == w.supplier["user_id"]
            # Cost and payment: 5 × 10.50 + 5 × 2.
            assert (shown["total"], shown["paid_amount"]) == ("62.5", "30")
            # Lines with quantities per warehouse.
            per_warehouse = {(x["sku"], x["warehouse_id"]): x["quantity"] for x in shown["lines"]}
            assert per_warehouse == {
                ("A-1", w.warehouses[0]): "3",
                ("A-1", w.warehouses[1]): "2",
                ("B-2", w.warehouses[1]): "5",
            }
            # The desired shipment date and the buyer's comment of the order.
            assert (shown["desired_shipment_date"], shown["comment"]) == (desired, "call before delivery")
            # Comments and documents of the order.
            comments = (await client.get(f"{url}/comments", headers=side)).json()["items"]
            assert [c["text"] for c in comments] == ["Ships on Friday"]
            documents = (await client.get(f"{url}/documents", headers=side)).json()["items"]
            assert [d["file_name"] for d in documents] == ["invoice.pdf"]


async def test_a_shipment_date_in_the_past_is_refused(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-1, R-PF-2: a desired shipment date in the past is refused on placing, and a shipment date in the
    past on editing the profile (422 ``date_in_past``); today and later dates are taken."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        r = await place(client, w, desired_shipment_date="2020-01-15")
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "date_in_past" and "2020-01-15" in error["message"]
        assert error["details"] == [{"field": "desired_shipment_date", "reason": "a date in the past"}]
        listed = (await client.get("/api/v1/orders", headers=w.buy)).json()
        assert listed["items"] == []  # nothing was placed

        today = datetime.now(UTC).date().isoformat()
        r = await place(client, w, desired_shipment_date=today)
        assert r.status_code == 201, r.text
        order = r.json()
        url = f"/api/v1/orders/{order['order_id']}/profile"
        r = await client.patch(url, headers={**w.sup, **if_match(order)}, json={"shipment_date": "2020-01-15"})
        assert (r.status_code, r.json()["error"]["code"]) == (422, "date_in_past")
        r = await client.patch(url, headers={**w.sup, **if_match(order)}, json={"shipment_date": _in_days(3)})
        assert r.status_code == 200 and date.fromisoformat(r.json()["shipment_date"]) > datetime.now(UTC).date()
