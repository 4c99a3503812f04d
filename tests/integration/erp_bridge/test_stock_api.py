"""The JSON stock API for ERPs other than 1C, and the warehouse mapping (R-ERP-7, R-ERP-4, R-ERP-2)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.erp_bridge.support import sale_basic, sale_connect
from tests.integration.erp_bridge.support_catalog import (
    add_warehouses,
    catalog_app,
    items_of,
    stock_events,
    wait_warehouses,
)
from tests.support.services import bearer, running_service, token_for


async def test_a_full_stock_snapshot_is_one_event_per_warehouse_and_one_bad_row_publishes_nothing(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-7, R-ERP-4: an ERP posts stock with the reserves it made; every row is checked, one bad row refuses
    the request with a reason per row and publishes nothing; a valid full snapshot becomes one event per warehouse
    carrying the ERP reserves. Another supplier cannot post stock into this account's warehouses."""
    tenant, other = uuid.uuid4(), uuid.uuid4()
    token, other_token = token_for(keys[0], account_id=tenant), token_for(keys[0], account_id=other)
    app = catalog_app(database_url, tmp_path, service_env)
    async with running_service(app) as client:
        main, spb = await add_warehouses(kafka, tenant, ("MAIN", "Main"), ("SPB", "Saint Petersburg"))
        (foreign,) = await add_warehouses(kafka, other, ("MAIN", "Their main"))
        await wait_warehouses(client, token, 2)
        await wait_warehouses(client, other_token, 1)

        bad_rows: list[Any] = [
            {"warehouse_id": foreign, "sku": "A-1", "on_hand": 1},
            {"warehouse_code": "NOPE", "sku": "A-1", "on_hand": 1},
            {"warehouse_id": main, "sku": "A-1", "on_hand": -1},
            {"warehouse_id": main, "sku": "A-2", "on_hand": 5, "integration_reserved": 6},
            {"warehouse_id": main, "sku": "A-3", "on_hand": "1.2345"},
            {"warehouse_id": main, "sku": "A-5", "on_hand": "ten"},
            {"warehouse_id": main, "sku": "A-4", "on_hand": 1},
            {"warehouse_code": "MAIN", "sku": "A-4", "on_hand": 2},
            {"warehouse_id": str(uuid.uuid4()), "sku": "A-6", "on_hand": 1},
            {"sku": "A-7", "on_hand": 1},
            {"warehouse_id": main, "sku": "A-8", "on_hand": 1, "onhand": 2},
            {"warehouse_id": main, "sku": " ", "on_hand": 1},
            {"warehouse_id": main, "sku": "A-9", "on_hand": 1, "price": "9,99.1"},
            "MAIN;A-10;1",
        ]
        refused = await client.post(
            "/api/v1/erp/stock", json={"mode": "full", "items": bad_rows}, headers=bearer(token)
        )
        foreign_post = await client.post(
            "/api/v1/erp/stock",
            json={"mode": "changes", "items": [{"warehouse_id": main, "sku": "A-1", "on_hand": 100}]},
            headers=bearer(other_token),
        )

        snapshot = [
            {"warehouse_id": main, "sku": "A-1", "on_hand": 10, "integration_reserved": 3, "price": "99.90",
             "name": "Bolt", "unit": "pcs"},
            {"warehouse_id": main, "sku": "A-2", "on_hand": "5"},
            {"warehouse_code": "SPB", "sku": "A-1", "on_hand": "7.5", "integration_reserved": "2.5"},
        ]  # fmt: skip
        accepted = await client.post(
            "/api/v1/erp/stock", json={"mode": "full", "items": snapshot}, headers=bearer(token)
        )
        events = await stock_events(kafka, expect=2)
        log = await client.get("/api/v1/erp/exchanges", params={"kind": "api.stock"}, headers=bearer(token))

    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_rows"
    assert {(d["row"], d["field"], d["code"]) for d in error["details"]} == {
        (0, "warehouse_id", "unknown_warehouse"),
        (1, "warehouse_code", "unknown_warehouse"),
        (2, "on_hand", "negative"),
        (3, "integration_reserved", "reserved_exceeds_on_hand"),
        (4, "on_hand", "too_precise"),
        (5, "on_hand", "not_a_number"),
        (7, "sku", "duplicate_row"),
        (8, "warehouse_id", "unknown_warehouse"),
        (9, "warehouse_id", "missing_warehouse"),
        (10, "onhand", "unknown_field"),
        (11, "sku", "missing_value"),
        (12, "price", "not_a_number"),
        (13, "row", "not_an_object"),
    }
    assert all(d["message"] for d in error["details"])
    assert foreign_post.status_code == 422
    assert [(d["row"], d["code"]) for d in foreign_post.json()["error"]["details"]] == [(0, "unknown_warehouse")]

    assert accepted.status_code == 202, accepted.text
    assert accepted.json() | {"summary": None} == {
        "mode": "full",
        "warehouses": 2,
        "items": 3,
        "events": 2,
        "summary": None,
    }
    assert len(events) == 2  # the refused requests published nothing
    assert {e["aggregate_id"] for e in events} == {main, spb}
    assert all(e["data"]["mode"] == "full" and e["tenant_id"] == str(tenant) for e in events)
    items = items_of(events)
    assert set(items) == {(main, "A-1"), (main, "A-2"), (spb, "A-1")}
    bolt = items[(main, "A-1")]
    assert [Decimal(bolt[k]) for k in ("on_hand", "integration_reserved", "price")] == [10, 3, Decimal("99.90")]
    assert (bolt["name"], bolt["unit"]) == ("Bolt", "pcs")
    assert (Decimal(items[(spb, "A-1")]["on_hand"]), Decimal(items[(spb, "A-1")]["integration_reserved"])) == (
        Decimal("7.5"),
        Decimal("2.5"),
    )
    # Not reported: the Integration reserve stays as inventory has it (null, not zero).
    assert items[(main, "A-2")]["integration_reserved"] is None and items[(main, "A-2")]["price"] is None
    outcomes = [(i["outcome"], i["detail"].split(":")[0]) for i in reversed(log.json()["items"])]
    assert outcomes == [("failure", "13 errors, nothing applied"), ("success", "full snapshot")]
    # R-ERP-4: reserves made in the ERP arrive only this way; the exchange log says what was reserved, where.
    assert log.json()["items"][0]["detail"] == (
        "full snapshot: 2 warehouses, 3 items (2 SKUs); reserved in the ERP (2 items): MAIN A-1 3, SPB A-1 2.5"
    )
    assert accepted.json()["summary"] == log.json()["items"][0]["detail"]


async def test_a_supplier_maps_its_own_warehouses_to_1c_and_nobody_else_can(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-2: the supplier maps each 1C warehouse (Ид) to one of its warehouses or removes the mapping; one 1C
    warehouse feeds one warehouse only; another supplier, a read-only employee and a buyer cannot change it."""
    tenant, other = uuid.uuid4(), uuid.uuid4()
    token, other_token = token_for(keys[0], account_id=tenant), token_for(keys[0], account_id=other)
    reader = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "read"})
    buyer = token_for(keys[0], kind="buyer")
    app = catalog_app(database_url, tmp_path, service_env)
    async with running_service(app) as client:
        main, spb = await add_warehouses(kafka, tenant, ("MAIN", "Main"), ("SPB", "Saint Petersburg"))
        await wait_warehouses(client, token, 2)

        def put(warehouse_id: str, erp_id: str | None, who: str = token) -> Any:
            url = f"/api/v1/erp/warehouses/{warehouse_id}"
            return client.put(url, json={"erp_id": erp_id}, headers=bearer(who))

        mapped = await put(main, " 1c-main ")
        taken = await put(spb, "1c-main")
        unknown = await put(str(uuid.uuid4()), "1c-x")
        by_other = await put(main, "1c-theirs", other_token)
        by_reader = await put(main, "1c-reader", reader)
        by_buyer = await put(main, "1c-buyer", buyer)
        post_by_reader = await client.post(
            "/api/v1/erp/stock",
            json={"mode": "changes", "items": [{"warehouse_id": main, "sku": "A", "on_hand": 1}]},
            headers=bearer(reader),
        )
        listed_by_reader = await client.get("/api/v1/erp/warehouses", headers=bearer(reader))
        listed_by_other = await client.get("/api/v1/erp/warehouses", headers=bearer(other_token))
        moved = [await put(main, None), await put(spb, "1c-main")]

    assert mapped.status_code == 200 and mapped.json() == {
        "warehouse_id": main,
        "code": "MAIN",
        "name": "Main",
        "erp_id": "1c-main",
        "deleted": False,
    }
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "erp_id_taken")
    assert (unknown.status_code, by_other.status_code) == (404, 404)  # another account's: as unknown
    assert (by_reader.status_code, by_buyer.status_code, post_by_reader.status_code) == (403, 403, 403)
    assert [w["erp_id"] for w in listed_by_reader.json()["items"]] == ["1c-main", None]
    assert listed_by_other.json()["total"] == 0
    assert [r.status_code for r in moved] == [200, 200]
    assert (moved[0].json()["erp_id"], moved[1].json()["erp_id"]) == (None, "1c-main")


async def test_a_full_snapshot_larger_than_a_part_goes_out_in_parts_of_one_snapshot(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-2, R-ERP-7: a warehouse's full snapshot of 5 items with parts of at most 2 items is published as
    parts 1..3 of 3 sharing one snapshot id, keyed by the warehouse, together listing all 5 items."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = catalog_app(database_url, tmp_path, service_env, snapshot_part_items=2)
    async with running_service(app) as client:
        (main,) = await add_warehouses(kafka, tenant, ("MAIN", "Main"))
        await wait_warehouses(client, token, 1)
        rows = [{"warehouse_id": main, "sku": f"S-{n}", "on_hand": n} for n in range(1, 6)]
        accepted = await client.post("/api/v1/erp/stock", json={"mode": "full", "items": rows}, headers=bearer(token))
        events = await stock_events(kafka, expect=3)

    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["items"], accepted.json()["events"]) == (5, 3)
    assert len(events) == 3
    parts = sorted((e["data"] for e in events), key=lambda data: data["part"])
    assert len({data["snapshot_id"] for data in parts}) == 1 and parts[0]["snapshot_id"]
    assert [(data["mode"], data["part"], data["parts"]) for data in parts] == [("full", n, 3) for n in (1, 2, 3)]
    assert all(len(data["items"]) <= 2 for data in parts)
    assert {e["aggregate_id"] for e in events} == {main}
    items = items_of(events)
    assert {sku: Decimal(item["on_hand"]) for (_, sku), item in items.items()} == {f"S-{n}": n for n in range(1, 6)}


async def test_an_erp_posts_stock_with_its_own_exchange_login(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-7, R-ERP-6 (ADR 012): the ERP sends stock with the connection's exchange login (HTTP Basic) — no
    person's token — and the exchange log names it; a wrong password is refused and publishes nothing."""
    tenant = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    app = catalog_app(database_url, tmp_path, service_env)
    async with running_service(app) as client:
        (main,) = await add_warehouses(kafka, tenant, ("MAIN", "Main"))
        await wait_warehouses(client, owner, 1)
        login = await sale_connect(client, owner)
        rows = {"mode": "changes", "items": [{"warehouse_id": main, "sku": "A-1", "on_hand": 4}]}

        wrong = await client.post("/api/v1/erp/stock", json=rows, headers=sale_basic(login, "not-the-password"))
        accepted = await client.post("/api/v1/erp/stock", json=rows, headers=sale_basic(login))
        events = await stock_events(kafka, expect=1)
        log = await client.get("/api/v1/erp/exchanges", params={"kind": "api.stock"}, headers=bearer(owner))

    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials", wrong.text
    assert accepted.status_code == 202, accepted.text
    assert list(items_of(events)) == [(main, "A-1")]
    assert [(i["outcome"], i["caller"]) for i in log.json()["items"]] == [("success", f"ERP ({login})")]
