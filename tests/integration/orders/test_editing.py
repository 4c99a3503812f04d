"""Editing an order through its whole approval loop, with per-line changes, profile, parts and delete."""

from __future__ import annotations

import uuid
from pathlib import Path

from oms_shared.contracts import OrderChangedV1, OrderDeletedV1
from oms_shared.topics import ORDER_CHANGED, ORDER_DELETED
from tests.integration.orders.helpers import a_world, if_match, orders_app, place, read_events, register, sign_in
from tests.support.services import running_service


async def test_manager_edits_buyer_agrees_manager_confirms_and_ships(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ED-1, R-ED-3, R-ED-4, R-ST-1, R-ST-2, R-PF-2, R-PF-3, R-LS-2: the editing loop and its refusals."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        order = (await place(client, w)).json()
        oid = order["order_id"]
        url = f"/api/v1/orders/{oid}"
        a1, b2 = order["lines"]

        # Bad edits change nothing: negative and non-numeric quantity, SKU not in the price list, stale version.
        for body, code in (
            ({"edit": [{"line_id": a1["line_id"], "quantity": "-1"}]}, 422),
            ({"edit": [{"line_id": a1["line_id"], "quantity": "ten"}]}, 422),
            ({"add": [{"sku": "NOPE", "warehouse_id": w.warehouses[0], "quantity": 1}]}, 422),
            ({"edit": [{"line_id": str(uuid.uuid4()), "quantity": 1}]}, 422),
            ({"edit": [{"line_id": a1["line_id"], "delete": True}, {"line_id": b2["line_id"], "delete": True}]}, 422),
        ):
            r = await client.post(f"{url}/lines", headers={**w.sup, **if_match(order)}, json=body)
            assert r.status_code == code, (body, r.text)
        r = await client.post(
            f"{url}/lines",
            headers={**w.sup, "If-Match": '"99"'},
            json={"edit": [{"line_id": a1["line_id"], "quantity": 4}]},
        )
        assert r.status_code == 412
        r = await client.post(f"{url}/lines", headers=w.buy, json={"edit": [{"line_id": a1["line_id"], "quantity": 4}]})
        assert r.status_code == 403  # the buyer does not edit lines
        assert (await client.get(url, headers=w.sup)).json()["version"] == 1

        # Quantity, price, VAT, delete, add: the order goes to Editing.
        r = await client.post(
            f"{url}/lines",
            headers={**w.sup, **if_match(order)},
            json={
                "edit": [
                    {"line_id": a1["line_id"], "quantity": "4", "price": "9.50", "vat_rate": "10"},
                    {"line_id": b2["line_id"], "delete": True},
                ],
                "add": [{"sku": "C-3", "warehouse_id": w.warehouses[0], "quantity": "8"}],
                "comment": "substituted the nuts",
            },
        )
        assert r.status_code == 200, r.text
        edited = r.json()
        assert edited["status"] == "editing"
        assert [(x["sku"], x["quantity"], x["price"], x["vat_rate"], x["additional"]) for x in edited["lines"]] == [
            ("A-1", "4", "9.5", "10", False),
            ("C-3", "8", "1.25", "20", True),
        ]
        assert edited["total"] == "48"  # 4 × 9.5 + 8 × 1.25
        log = (await client.get(f"{url}/changes", headers=w.buy)).json()["items"]
        assert {(c["sku"], c["field"], c["old"], c["new"]) for c in log} == {
            ("A-1", "quantity", "3", "4"),
            ("A-1", "price", "10.5", "9.5"),
            ("A-1", "vat_rate", "20", "10"),
            ("B-2", "deleted", "5", None),
            ("C-3", "added", None, "8"),
        }

        # Editing → awaiting approval (supplier) → agreed (buyer) → confirmed (supplier).
        r = await client.post(
            f"{url}/transitions", headers={**w.sup, **if_match(edited)}, json={"to": "awaiting_approval"}
        )
        assert r.status_code == 200, r.text
        r = await client.post(f"{url}/transitions", headers=w.buy, json={"to": "agreed", "comment": "fine"})
        assert r.status_code == 200 and r.json()["status"] == "agreed"
        agreed = r.json()
        r = await client.post(f"{url}/transitions", headers={**w.sup, **if_match(agreed)}, json={"to": "confirmed"})
        assert r.status_code == 200
        confirmed = r.json()

        # Profile: shipment date, payment, responsible employee (even one not responsible for the buyer).
        manager = (
            await client.post(
                "/api/v1/users",
                headers=w.sup,
                json={
                    "email": f"m.{uuid.uuid4().hex[:6]}@example.com",
                    "password": "manager-pass-1",
                    "name": "Maria",
                    "access_buyers": "read",
                    "access_orders": "change",
                },
            )
        ).json()
        r = await client.patch(
            f"{url}/profile",
            headers={**w.sup, **if_match(confirmed)},
            json={"shipment_date": "2036-12-05", "paid_amount": "20.00", "responsible_user_id": manager["user_id"]},
        )
        assert r.status_code == 200, r.text
        profiled = r.json()
        assert (profiled["shipment_date"], profiled["paid_amount"], profiled["responsible_user_id"]) == (
            "2036-12-05",
            "20",
            manager["user_id"],
        )
        other = await register(client, "supplier", "Rival")
        r = await client.patch(
            f"{url}/profile", headers={**w.sup, **if_match(profiled)}, json={"responsible_user_id": other["user_id"]}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "user_not_found"  # another account's: as unknown
        r = await client.patch(f"{url}/profile", headers={**w.sup, **if_match(profiled)}, json={"shipment_date": None})
        assert r.status_code == 200 and r.json()["shipment_date"] is None
        profiled = r.json()

        # Deleting a confirmed order is refused; a shipped one can be hidden by one side only.
        r = await client.delete(url, headers={**w.sup, **if_match(profiled)})
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_deletable"
        r = await client.post(f"{url}/transitions", headers={**w.sup, **if_match(profiled)}, json={"to": "shipped"})
        shipped = r.json()
        assert shipped["status"] == "shipped"
        assert [h["to"] for h in shipped["history"]] == [
            "new",
            "editing",
            "awaiting_approval",
            "agreed",
            "confirmed",
            "shipped",
        ]
        r = await client.post(
            f"{url}/lines",
            headers={**w.sup, **if_match(shipped)},
            json={"edit": [{"line_id": a1["line_id"], "quantity": 1}]},
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_editable"
        r = await client.delete(url, headers={**w.sup, **if_match(shipped)})
        assert r.status_code == 204
        assert oid not in [o["order_id"] for o in (await client.get("/api/v1/orders", headers=w.sup)).json()["items"]]
        assert oid in [o["order_id"] for o in (await client.get("/api/v1/orders", headers=w.buy)).json()["items"]]

        changed = await read_events(kafka, ORDER_CHANGED, 4, where=lambda e: e.aggregate_id == oid)
        kinds = [e.data.kind for e in changed if isinstance(e, OrderChangedV1)]
        assert kinds[:4] == ["lines_edited", "shipment_date", "payment", "responsible"]
        first = changed[0]
        assert isinstance(first, OrderChangedV1)
        assert {(c.sku, c.field) for c in first.data.line_changes} >= {("A-1", "quantity"), ("C-3", "added")}
        sequences = [e.sequence for e in changed]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        deleted = await read_events(kafka, ORDER_DELETED, 1, where=lambda e: e.aggregate_id == oid)
        assert isinstance(deleted[0], OrderDeletedV1) and deleted[0].data.side == "supplier"


async def test_split_move_and_copy_lines_between_parts(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-ED-2: split into a new part, move to an existing part, copy with quantity 0; parts are linked orders."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        order = (
            await place(
                client,
                w,
                lines=[
                    {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 1},
                    {"sku": "B-2", "warehouse_id": w.warehouses[0], "quantity": 2},
                    {"sku": "C-3", "warehouse_id": w.warehouses[1], "quantity": 3},
                ],
            )
        ).json()
        oid = order["order_id"]
        a1, b2, c3 = (x["line_id"] for x in order["lines"])
        r = await client.post(
            f"/api/v1/orders/{oid}/parts", headers={**w.sup, **if_match(order)}, json={"line_ids": [c3]}
        )
        assert r.status_code == 201, r.text
        part = r.json()
        assert part["number"] == "1001-1" and part["parent_order_id"] == oid and part["status"] == "new"
        assert [x["line_id"] for x in part["lines"]] == [c3] and part["total"] == "3.75"
        source = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        assert source["part_ids"] == [part["order_id"]] and source["total"] == "14.5"

        r = await client.post(
            f"/api/v1/orders/{oid}/parts",
            headers={**w.sup, **if_match(source)},
            json={"line_ids": [b2], "target_order_id": part["order_id"]},
        )
        assert r.status_code == 201
        assert [x["sku"] for x in r.json()["lines"]] == ["C-3", "B-2"]
        source = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        r = await client.post(
            f"/api/v1/orders/{oid}/parts",
            headers={**w.sup, **if_match(source)},
            json={"line_ids": [a1], "target_order_id": part["order_id"], "copy": True},
        )
        assert r.status_code == 201
        copied = [x for x in r.json()["lines"] if x["sku"] == "A-1"]
        assert len(copied) == 1 and copied[0]["quantity"] == "0" and copied[0]["line_id"] != a1
        source = (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()
        assert [x["line_id"] for x in source["lines"]] == [a1]

        # Refusals: moving the last line out, a line of another order, a target outside the family.
        r = await client.post(
            f"/api/v1/orders/{oid}/parts", headers={**w.sup, **if_match(source)}, json={"line_ids": [a1]}
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "empty_part"
        r = await client.post(
            f"/api/v1/orders/{oid}/parts", headers={**w.sup, **if_match(source)}, json={"line_ids": [c3]}
        )
        assert r.status_code == 422
        unrelated = (await place(client, w)).json()
        r = await client.post(
            f"/api/v1/orders/{oid}/parts",
            headers={**w.sup, **if_match(source)},
            json={"line_ids": [a1], "target_order_id": unrelated["order_id"], "copy": True},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_sibling"
        rival = await sign_in(client, (await register(client, "supplier", "Rival"))["email"])
        r = await client.post(
            f"/api/v1/orders/{oid}/parts", headers={**rival, **if_match(source)}, json={"line_ids": [a1], "copy": True}
        )
        assert r.status_code == 404
        assert (await client.get(f"/api/v1/orders/{oid}", headers=w.sup)).json()["version"] == source["version"]
        # Each part lives in the list on its own.
        numbers = {o["number"] for o in (await client.get("/api/v1/orders", headers=w.buy)).json()["items"]}
        assert numbers == {"1001", "1001-1", "1002"}
