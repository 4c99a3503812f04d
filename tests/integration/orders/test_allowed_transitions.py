"""The moves an order page offers: exactly what the status matrix allows the caller now (R-ST-1, R-UI-4)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.orders.helpers import a_world, if_match, orders_app, place, sign_in
from tests.support.services import running_service


def moves(order: dict[str, object]) -> dict[str, tuple[str, bool]]:
    allowed = order["allowed_transitions"]
    assert isinstance(allowed, list)
    return {m["to"]: (m["label"], m["comment_required"]) for m in allowed}


def actions(order: dict[str, object]) -> set[str]:
    allowed = order["allowed_actions"]
    assert isinstance(allowed, dict)
    return {name for name, yes in allowed.items() if yes}


async def test_each_side_is_offered_only_the_moves_the_matrix_allows_it(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-4, R-ST-1: the order answers ``allowed_transitions`` for the caller — the supplier confirms, edits or
    rejects a new order, the buyer may only cancel it; an employee with read access is offered nothing; every
    move offered is accepted, and after it the offer follows the new status. ``allowed_actions`` says the same
    of editing, parts, profile, comments, documents and deleting."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        r = await client.post(
            "/api/v1/users",
            headers=w.sup,
            json={
                "email": "reader@supplier.example.com",
                "password": "secret-pass-1",
                "name": "Reader",
                "access_buyers": "read",
                "access_orders": "read",
            },
        )
        assert r.status_code == 201, r.text
        reader = await sign_in(client, "reader@supplier.example.com")
        placed = await place(client, w)
        assert placed.status_code == 201, placed.text
        url = f"/api/v1/orders/{placed.json()['order_id']}"

        supplier_view = (await client.get(url, headers=w.sup)).json()
        assert moves(supplier_view) == {
            "confirmed": ("Confirmed", False),
            "rejected": ("Rejected", False),
            "editing": ("Editing", False),
        }
        assert moves((await client.get(url, headers=w.buy)).json()) == {"cancelled": ("Cancelled", False)}
        reader_view = (await client.get(url, headers=reader)).json()
        assert reader_view["allowed_transitions"] == [] and reader_view["next_statuses"] == []
        # Besides moves: what each may do to the new order (R-ED-1, R-ED-2, R-PF-2, R-ACC-2, R-CM-2, R-LS-2).
        assert actions(supplier_view) == {"edit_lines", "move_lines", "edit_profile", "comment", "attach_document"}
        assert actions((await client.get(url, headers=w.buy)).json()) == {"comment", "attach_document"}
        assert actions(reader_view) == set()
        r = await client.post(f"{url}/comments", headers=reader, json={"text": "may I?"})
        assert r.status_code == 403  # what is not offered is refused

        r = await client.post(
            f"{url}/transitions", headers={**w.sup, **if_match(supplier_view)}, json={"to": "confirmed"}
        )
        assert r.status_code == 200, r.text
        assert set(moves(r.json())) == {"shipped", "editing", "rejected"}
        assert set(moves((await client.get(url, headers=w.buy)).json())) == {"cancelled"}

        r = await client.post(f"{url}/transitions", headers={**w.sup, **if_match(r.json())}, json={"to": "shipped"})
        assert r.status_code == 200, r.text
        for side in (w.sup, w.buy):  # shipped is final: no move is offered to anyone, and it may be deleted
            shipped = (await client.get(url, headers=side)).json()
            assert shipped["allowed_transitions"] == []
            assert {"delete", "comment"} <= actions(shipped) and "edit_lines" not in actions(shipped)
