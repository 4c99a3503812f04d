"""Every service's migrations build the shared messaging tables exactly as ``messaging_tables`` declares them."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from oms_shared.db import create_engine
from oms_shared.migrations import upgrade_to_head

SERVICES = ("oms_orders", "oms_inventory", "oms_notifications", "oms_erp_bridge", "oms_analytics")
CHECKED = {
    "inbox",
    "idempotency_keys",
    "idempotency_effects",
    "parked_events",
    "outbox",
    "outbox_sent",
    "erp_exchange_log",
}


@pytest.mark.parametrize("package", SERVICES)
async def test_migrations_build_the_idempotency_inbox_and_log_tables_the_code_uses(
    package: str, database_url: str
) -> None:
    """Idempotency claims (lease, effects), the retention indexes and the exchange log's, in every service."""
    metadata = importlib.import_module(f"{package}.db").metadata
    migrations = Path(importlib.import_module(f"{package}.app").__file__ or "").parent / "migrations"
    engine = create_engine(database_url)
    try:
        await upgrade_to_head(engine, migrations)
        async with engine.connect() as conn:

            def wanted(obj: object, name: str | None, kind: str, reflected: bool, other: object) -> bool:
                table = getattr(obj, "table", obj) if kind != "table" else obj
                return getattr(table, "name", name) in CHECKED

            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"include_object": wanted}), metadata)
            )
    finally:
        await engine.dispose()
    assert [d for d in diff if not (isinstance(d, list) and d and d[0][0] == "modify_default")] == []
