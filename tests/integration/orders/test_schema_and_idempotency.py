"""The migrations build exactly the tables the code uses; a repeated POST with an Idempotency-Key acts once."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oms_orders.db import metadata
from tests.integration.orders.helpers import a_world, orders_app, place
from tests.support.services import running_service


async def test_migrations_match_the_tables_and_idempotency_key_places_one_order(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """Issue 3 item 5: Idempotency-Key honoured on every POST; the schema of db.py is what the migrations build."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        engine = app.state.runtime.db.engine
        async with engine.connect() as conn:
            diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), metadata))
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
