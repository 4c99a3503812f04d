"""The migrations build exactly the tables the code uses; a repeated POST with an Idempotency-Key acts once."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oms_orders.db import PG_ONLY_INDEXES, metadata
from tests.integration.orders.helpers import a_world, orders_app, place
from tests.support.services import running_service


async def test_migrations_match_the_tables_and_idempotency_key_places_one_order(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """Idempotency-Key honoured on every POST; the schema of db.py is what the migrations build."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        engine = app.state.runtime.db.engine
        async with engine.connect() as conn:
            pg = engine.dialect.name == "postgresql"

            def wanted(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
                return pg or not (kind == "index" and name in PG_ONLY_INDEXES)  # the search indexes need PostgreSQL

            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"include_object": wanted}), metadata)
            )
        # PostgreSQL reports server-default spellings differently; tables, columns and indexes must match.
        assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_default")] == []

        spec = (await client.get("/openapi.json")).json()
        assert {"/api/v1/orders", "/api/v1/orders/{order_id}/transitions", "/api/v1/orders/import"} <= set(
            spec["paths"]
        )

        w = await a_world(client)
        key = {"Idempotency-Key": str(uuid.uuid4())}
        body = {
            "price_list_id": w.price_list_id,
            "lines": [{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 1}],
        }
        first = await client.post("/api/v1/orders", headers={**w.buy, **key}, json=body)
        again = await client.post("/api/v1/orders", headers={**w.buy, **key}, json=body)
        assert first.status_code == again.status_code == 201
        assert again.json()["order_id"] == first.json()["order_id"]
        assert again.headers.get("idempotent-replayed") == "true"
        assert (await client.get("/api/v1/orders", headers=w.sup)).json()["total"] == 1
        other = await place(client, w)
        assert other.json()["number"] == "1002"


async def test_the_placed_answer_is_the_order_as_stored(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-1, R-ST-3: the 201 of placing (built from what was written) equals reading the order back."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        for auto_confirm in (False, True):
            w = await a_world(client, auto_confirm=auto_confirm)
            placed = await place(
                client,
                w,
                lines=[
                    {"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": 3},
                    {"sku": "B-2", "warehouse_id": w.warehouses[1], "quantity": "2.5"},
                ],
                comment="to the back door",
                desired_shipment_date="2027-02-01",
            )
            assert placed.status_code == 201, placed.text
            stored = await client.get(f"/api/v1/orders/{placed.json()['order_id']}", headers=w.buy)
            assert placed.json() == stored.json()
            assert placed.headers["etag"] == stored.headers["etag"]
            assert [h["to"] for h in placed.json()["history"]] == (["new", "confirmed"] if auto_confirm else ["new"])
