"""A full ERP stock snapshot in several parts: zeroes what it omits only once every part has arrived."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oms_inventory.app import create_app
from oms_inventory.db import erp_snapshot_items, erp_snapshot_parts, metadata
from oms_inventory.settings import Settings
from oms_shared.contracts import ErpStockImportedData, ErpStockImportedV1, ErpStockItem, OrderStatus, make_event
from oms_shared.topics import RESERVE_UPDATED
from tests.integration.inventory.helpers import TopicReader, a_line, send, setup_catalogue, status_event, stock_of
from tests.support.services import bearer, eventually, running_service, token_for


def a_stock_event(tenant: uuid.UUID, warehouse_id: str, data: ErpStockImportedData) -> ErpStockImportedV1:
    """``erp.stock_imported`` keyed by the warehouse, as the ERP bridge sends it (one partition per warehouse)."""
    return make_event(ErpStockImportedV1, tenant_id=tenant, aggregate_id=warehouse_id, producer="erp-bridge", data=data)


def an_item(warehouse_id: str, sku: str, on_hand: str, integration_reserved: str | None = None) -> ErpStockItem:
    return ErpStockItem(
        warehouse_id=uuid.UUID(warehouse_id),
        sku=sku,
        on_hand=Decimal(on_hand),
        integration_reserved=None if integration_reserved is None else Decimal(integration_reserved),
    )


async def test_a_snapshot_in_parts_zeroes_what_it_omits_once_the_last_part_arrives(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-2, R-ERP-4: a full snapshot of warehouse SPB (holding A, B, C) in 3 parts sent in the order 3, 1, 2
    lists A (with an Integration reserve) and C with new figures, and D. Each part's items apply as it arrives;
    B keeps its stock and its order reserve until the last part, then is zeroed and the order reserve gives way
    exactly as it does for a one-part snapshot of warehouse MAIN. A part received again (the same event, or the
    same part under a new event id) changes nothing, and the snapshot's bookkeeping is gone at the end."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client, TopicReader(kafka, RESERVE_UPDATED) as reserves:
        figures = {"A": "5", "B": "4", "C": "1"}
        main = await setup_catalogue(client, token, figures, code="MAIN")
        spb = await setup_catalogue(client, token, figures, code="SPB")
        one_part_order, parts_order = uuid.uuid4(), uuid.uuid4()
        await send(
            kafka,
            status_event(tenant, one_part_order, OrderStatus.CONFIRMED, [a_line("B", main, "3")]),
            status_event(tenant, parts_order, OrderStatus.CONFIRMED, [a_line("B", spb, "3")]),
        )

        async def item_is(wid: str, sku: str, on_hand: str, reserved: str) -> None:
            item = await stock_of(client, token, wid, sku)
            assert (item["on_hand"], item["reserved"]) == (on_hand, reserved), (sku, item)

        await eventually(lambda: item_is(main, "B", "4", "3"), timeout=15)
        await eventually(lambda: item_is(spb, "B", "4", "3"), timeout=15)

        # The same stock as one event for MAIN: B is omitted, so it goes at once.
        one_part = ErpStockImportedData(mode="full", items=[an_item(main, "A", "8", "1"), an_item(main, "C", "6")])
        await send(kafka, a_stock_event(tenant, main, one_part))
        await eventually(lambda: item_is(main, "B", "0", "0"), timeout=15)

        snapshot_id = uuid.uuid4().hex
        contents = {1: [an_item(spb, "A", "8", "1")], 2: [an_item(spb, "C", "6")], 3: [an_item(spb, "D", "2")]}
        part = {
            n: a_stock_event(
                tenant, spb, ErpStockImportedData(mode="full", items=items, snapshot_id=snapshot_id, part=n, parts=3)
            )
            for n, items in contents.items()
        }
        await send(kafka, part[3], part[1])
        await eventually(lambda: item_is(spb, "A", "8", "1"), timeout=15)
        await item_is(spb, "D", "2", "0")
        await item_is(spb, "C", "1", "0")
        await item_is(spb, "B", "4", "3")  # not the last part yet: what the snapshot omits is still there

        # Someone corrects D; part 3 then comes again, as the same event and under a new event id.
        r = await client.put(
            "/api/v1/stock", json={"items": [{"warehouse_id": spb, "sku": "D", "on_hand": "5"}]}, headers=bearer(token)
        )
        assert r.status_code == 200, r.text
        again = a_stock_event(tenant, spb, part[3].data)
        assert again.event_id != part[3].event_id
        await send(kafka, part[3], again, part[2])  # one partition: handled in this order

        await eventually(lambda: item_is(spb, "B", "0", "0"), timeout=15)
        await item_is(spb, "A", "8", "1")
        await item_is(spb, "C", "6", "0")
        await item_is(spb, "D", "5", "0")  # the part received again did not apply a second time
        figures_of_b = [await stock_of(client, token, wid, "B") for wid in (main, spb)]
        assert [{k: b[k] for k in ("on_hand", "reserved", "available")} for b in figures_of_b] == [
            {"on_hand": "0", "reserved": "0", "available": "0"}
        ] * 2

        # The order reserve on B gave way as it does for a one-part snapshot.
        lines = {}
        for order_id in (one_part_order, parts_order):
            r = await client.get(f"/api/v1/orders/{order_id}/reserves", headers=bearer(token))
            (line,) = r.json()["lines"]
            lines[order_id] = (line["reserved"], line["shortage"])
        assert lines == {one_part_order: ("0", "3"), parts_order: ("0", "3")}

        async def both_adjusted() -> None:
            reasons: dict[str, list[str]] = {str(one_part_order): [], str(parts_order): []}
            for message, _ in await reserves.poll():
                if message["aggregate_id"] in reasons:
                    reasons[message["aggregate_id"]].append(message["data"]["reason"])
            assert list(reasons.values()) == [["reserved", "adjusted"]] * 2, reasons

        await eventually(both_adjusted, timeout=15)
        async with app.state.runtime.db.read() as conn:
            for table in (erp_snapshot_parts, erp_snapshot_items):
                assert await conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0, table.name
        assert (await client.get("/api/v1/reserves/drift", headers=bearer(token))).json()["total"] == 0


async def test_the_inventory_migrations_build_the_tables_of_db_py(
    database_url: str, service_env: dict[str, Any]
) -> None:
    """The snapshot tables (migration 0005) and every other table are what ``db.py`` declares."""
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app):
        async with app.state.runtime.db.engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
    # PostgreSQL reports server-default spellings differently; tables, columns and indexes must match.
    assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_default")] == []


async def test_a_snapshot_whose_parts_never_all_arrive_is_forgotten_and_zeroes_nothing(
    kafka: str, database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ERP-6: when the ERP sends part 1 of 2 and never part 2, what part 1 listed applies, nothing is zeroed,
    and after the waiting time the snapshot's bookkeeping is forgotten (logged and counted), leaving no rows."""
    from datetime import timedelta

    from oms_shared.db import utcnow

    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        spb = await setup_catalogue(client, token, {"A": "5", "B": "4"}, code="SPB")
        first = ErpStockImportedData(
            mode="full", items=[an_item(spb, "A", "9")], snapshot_id=uuid.uuid4().hex, part=1, parts=2
        )
        await send(kafka, a_stock_event(tenant, spb, first))

        async def a_applied() -> None:
            assert (await stock_of(client, token, spb, "A"))["on_hand"] == "9"

        await eventually(a_applied, timeout=15)
        inventory = app.state.inventory
        assert await inventory.expire_erp_snapshots(utcnow() - timedelta(hours=1)) == []  # still waiting
        expired = await inventory.expire_erp_snapshots(utcnow() + timedelta(seconds=1))
        assert [(e["received"], e["parts"]) for e in expired] == [(1, 2)]
        assert (await stock_of(client, token, spb, "B"))["on_hand"] == "4"  # nothing was zeroed
        async with app.state.runtime.db.read() as conn:
            for table in (erp_snapshot_parts, erp_snapshot_items):
                assert (await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar() == 0
        metrics = (await client.get("/metrics")).text
        assert "oms_inventory_erp_snapshots_expired_total 1.0" in metrics
