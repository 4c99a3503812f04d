"""History, changes, comments and documents say who did what by name, with the user's id alongside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.orders.helpers import a_world, if_match, orders_app, place
from tests.support.services import running_service


async def test_history_changes_comments_and_documents_name_the_people(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-PF-1, R-ED-3: the order's history, its line changes, comments and files show the person's name next to
    their id; a step the system took has no person."""
    async with running_service(orders_app(database_url, service_env, keys)) as client:
        w = await a_world(client)
        order = (await place(client, w)).json()
        buyer_user, supplier_user = w.buyer_account["user_id"], w.supplier["user_id"]
        assert [(h["by_user_id"], h["by_user_name"]) for h in order["history"]] == [(buyer_user, "Buyer LLC owner")]
        url = f"/api/v1/orders/{order['order_id']}"
        line = order["lines"][0]["line_id"]
        r = await client.post(
            f"{url}/lines", headers={**w.sup, **if_match(order)}, json={"edit": [{"line_id": line, "quantity": "4"}]}
        )
        assert r.status_code == 200, r.text
        assert (await client.post(f"{url}/comments", headers=w.sup, json={"text": "Готово"})).status_code == 201
        r = await client.post(
            f"{url}/documents", headers=w.sup, files={"file": ("invoice.pdf", b"%PDF-1.4 x", "application/pdf")}
        )
        assert r.status_code == 201, r.text
        assert r.json()["uploaded_by_name"] == "Supplier Co owner"

        for side in (w.sup, w.buy):
            got = (await client.get(url, headers=side)).json()
            assert [(h["to"], h["by_user_id"], h["by_user_name"]) for h in got["history"]] == [
                ("new", buyer_user, "Buyer LLC owner"),
                ("editing", supplier_user, "Supplier Co owner"),
            ]
            changes = (await client.get(f"{url}/changes", headers=side)).json()["items"]
            assert {(c["by_user_id"], c["by_user_name"]) for c in changes} == {(supplier_user, "Supplier Co owner")}
            [comment] = (await client.get(f"{url}/comments", headers=side)).json()["items"]
            assert (comment["author_user_id"], comment["author_name"]) == (supplier_user, "Supplier Co owner")
            [doc] = (await client.get(f"{url}/documents", headers=side)).json()["items"]
            assert (doc["uploaded_by_user_id"], doc["uploaded_by_name"]) == (supplier_user, "Supplier Co owner")
