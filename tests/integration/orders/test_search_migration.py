"""Names stored before the case-folded search columns existed are found after the migration that adds them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from oms_orders.app import MIGRATIONS
from oms_shared.db import create_engine
from oms_shared.migrations import _config
from oms_shared.passwords import hash_password
from tests.integration.orders.helpers import orders_app, sign_in
from tests.support.services import running_service


async def test_names_stored_before_the_folded_columns_are_found_after_the_migration(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-LS-1: the migration fills the folded name of every order and buyer already stored (Cyrillic, Latin,
    "ё"), so the search finds them in any case on SQLite as on PostgreSQL, without waiting for a new order."""
    from alembic import command

    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(lambda c: command.upgrade(_config(MIGRATIONS, c), "0007a"))
            await conn.commit()
        supplier_id = "20000000-0000-4000-8000-000000000001"
        now = datetime(2026, 12, 1, tzinfo=UTC)
        async with engine.connect() as conn:
            await conn.execute(
                sa.text("INSERT INTO accounts (id, kind, name, created_at) VALUES (:id, 'supplier', 'Supplier', :now)"),
                {"id": supplier_id, "now": now},
            )
            await conn.execute(
                sa.text(
                    "INSERT INTO users (id, account_id, email, password_hash, is_owner, access_buyers, access_orders, "
                    "created_at) VALUES (:id, :account, 'owner@supplier.example', :hash, :yes, 'full', 'full', :now)"
                ),
                {
                    "id": "20000000-0000-4000-8000-000000000002",
                    "account": supplier_id,
                    "hash": hash_password("secret-pass-1"),
                    "yes": True,
                    "now": now,
                },
            )
            await conn.commit()
        # What the database held before: rows written before the folded names existed.
        async with engine.connect() as conn:
            for n, name in enumerate(["ООО «СтройМир»", "Acme Trading", "Ёлка-Trade"], start=1):
                buyer_id = f"00000000-0000-4000-8000-00000000000{n}"
                await conn.execute(
                    sa.text(
                        "INSERT INTO buyers (id, supplier_id, name, created_at, updated_at) "
                        "VALUES (:id, :sup, :name, :now, :now)"
                    ),
                    {"id": buyer_id, "sup": supplier_id, "name": name, "now": now},
                )
                for part in range(2):
                    await conn.execute(
                        sa.text(
                            "INSERT INTO orders (id, supplier_id, number, root_number, buyer_id, buyer_name, status, "
                            "version, created_at, updated_at, status_changed_at) VALUES (:id, :sup, :number, :root, "
                            ":buyer, :name, 'new', 1, :now, :now, :now)"
                        ),
                        {
                            "id": f"10000000-0000-4000-8000-0000000000{n}{part}",
                            "sup": supplier_id,
                            "number": f"{1000 + n}-{part + 1}",
                            "root": 1000 + n,
                            "buyer": buyer_id,
                            "name": name,
                            "now": now,
                        },
                    )
            await conn.commit()
        # The service migrates its database to the head as it starts.
        async with running_service(orders_app(database_url, service_env, keys, start_consumers=False)) as client:
            sup = await sign_in(client, "owner@supplier.example")

            async def found(path: str, text: str) -> int:
                r = await client.get(path, headers=sup, params={"search": text})
                assert r.status_code == 200, r.text
                return int(r.json()["total"])

            assert await found("/api/v1/orders", "строймир") == 2
            assert await found("/api/v1/orders", "ACME") == 2
            assert await found("/api/v1/orders", "елка") == 2
            assert await found("/api/v1/buyers", "СТРОЙ") == 1
            assert await found("/api/v1/buyers", "ёлка-trade") == 1
    finally:
        await engine.dispose()
