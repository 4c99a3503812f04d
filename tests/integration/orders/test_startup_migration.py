"""Replicas starting at once migrate the orders database once, and the list indexes do not stop writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from oms_orders.app import MIGRATIONS
from oms_shared.db import create_engine
from oms_shared.migrations import _config, upgrade_to_head
from tests.integration.orders.helpers import orders_app, register
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import WAIT_SCALE, eventually, running_service

pytestmark = needs_postgres


def record_index_builds(engine: Any, seen: list[tuple[str, str]]) -> None:
    """Record every CREATE/DROP INDEX with the isolation level of the connection it ran on."""

    @sa.event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        text = " ".join(statement.split()).upper()
        if text.startswith(("CREATE INDEX", "DROP INDEX")):
            seen.append((text, str(conn.get_execution_options().get("isolation_level", ""))))


async def test_two_replicas_starting_at_once_migrate_once_and_build_indexes_concurrently() -> None:
    """Two orders replicas start on one fresh PostgreSQL database at the same moment: both come up, one of
    them migrates while the other waits for it (advisory lock), the schema is at head once, and every list
    index was built CONCURRENTLY outside a transaction (no write lock on ``orders``) and is valid."""
    async with fresh_postgres_databases(1) as (url,):
        engines = [create_engine(url), create_engine(url)]
        seen: list[tuple[str, str]] = []
        for engine in engines:
            record_index_builds(engine, seen)
        try:
            await asyncio.wait_for(
                asyncio.gather(*(upgrade_to_head(e, MIGRATIONS, lock_poll_s=0.1) for e in engines)),
                timeout=120 * WAIT_SCALE,
            )
            async with engines[0].connect() as conn:
                versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
                invalid = (
                    (
                        await conn.execute(
                            sa.text(
                                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                "JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = 'orders' "
                                "AND NOT (i.indisvalid AND i.indisready)"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                names = set(
                    (
                        await conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'"))
                    ).scalars()
                )
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            assert versions == [ScriptDirectory.from_config(cfg).get_current_head()]
            assert invalid == []
            assert {
                "ix_orders_sup_created_id",
                "ix_orders_sup_overdue_created_id",
                "ix_orders_sup_number_prefix",
            } <= names
            assert "ix_orders_supplier_created" not in names  # replaced ones dropped

            list_builds = [(s, level) for s, level in seen if " ON ORDERS " in s or "IX_ORDERS_SUP" in s]
            creates = [(s, level) for s, level in list_builds if s.startswith("CREATE INDEX CONCURRENTLY")]
            assert len(creates) >= 14, list_builds
            assert all(level == "AUTOCOMMIT" for _, level in creates), creates
            # Only one replica built them: each index once per migration that builds it (the buyer-name trigram
            # index twice: 0008m moves it onto the case-folded name).
            built = [s.split(" IF NOT EXISTS ")[1].split()[0] for s, _ in creates]
            twice = {"IX_ORDERS_BUYER_NAME_TRGM"}
            assert all(built.count(name) == (2 if name in twice else 1) for name in built), built
        finally:
            for engine in engines:
                await engine.dispose()


async def test_a_build_left_invalid_by_an_interrupted_start_is_built_again() -> None:
    """A replica killed during a concurrent build leaves an invalid index behind; the next start rebuilds it
    rather than skipping it (IF NOT EXISTS alone would keep the invalid index for ever)."""
    async with fresh_postgres_databases(1) as (url,):
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(lambda c: command.upgrade(_config(MIGRATIONS, c), "0003"))
                await conn.commit()
                # What a replica killed in the middle of CREATE INDEX CONCURRENTLY leaves behind.
                await conn.execute(sa.text("CREATE INDEX ix_orders_sup_total_id ON orders (supplier_id)"))
                await conn.execute(
                    sa.text(
                        "UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ix_orders_sup_total_id'::regclass"
                    )
                )
                await conn.commit()
            await upgrade_to_head(engine, MIGRATIONS)
            async with engine.connect() as conn:
                valid = await conn.scalar(
                    sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_orders_sup_total_id'::regclass")
                )
                definition = await conn.scalar(
                    sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_orders_sup_total_id'")
                )
            assert valid is True
            assert "(supplier_id, total, id)" in definition
        finally:
            await engine.dispose()


async def test_two_orders_services_starting_at_once_on_a_fresh_database_both_come_up(
    service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """Two whole orders services (migrate → topics → consumer → ready) start together on one fresh PostgreSQL
    database: both answer /ready, the schema is at head once, and each can write."""
    from contextlib import AsyncExitStack

    async with fresh_postgres_databases(1) as (url,), AsyncExitStack() as stack:
        apps = [orders_app(url, {**service_env, "consumer_group": "orders-both"}, keys) for _ in range(2)]
        clients = await asyncio.wait_for(
            asyncio.gather(*(stack.enter_async_context(running_service(app)) for app in apps)), timeout=120 * WAIT_SCALE
        )
        for n, client in enumerate(clients):
            assert (await client.get("/ready")).status_code == 200
            await register(client, "supplier", f"Supplier {n}")
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                versions = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalars().all()
        finally:
            await engine.dispose()
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        assert versions == [ScriptDirectory.from_config(cfg).get_current_head()]


async def test_orders_stay_writable_while_a_later_migration_of_the_same_start_waits() -> None:
    """The list indexes take no write lock that outlives their build: while the start-up migration is held up
    by a later revision (it waits for a lock on ``price_lists``), a writer still gets ``orders``' write lock at
    once. Before, the 14 indexes were built in the start-up transaction, whose lock on ``orders`` blocked every
    write until the whole migration run committed."""
    async with fresh_postgres_databases(1) as (url,):
        engine = create_engine(url)
        holder = create_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(lambda c: command.upgrade(_config(MIGRATIONS, c), "0003"))
                await conn.commit()
            async with holder.connect() as blocker:
                await blocker.execute(sa.text("LOCK TABLE price_lists IN ACCESS SHARE MODE"))  # held until commit
                migrating = asyncio.create_task(upgrade_to_head(engine, MIGRATIONS))
                try:

                    async def waiting_on_price_lists() -> bool:
                        async with holder.connect() as probe:
                            waiting = await probe.scalar(
                                sa.text(
                                    "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                                    "WHERE c.relname = 'price_lists' AND NOT l.granted"
                                )
                            )
                        return bool(waiting)

                    await eventually(waiting_on_price_lists, timeout=60)
                    async with holder.connect() as writer:
                        # What INSERT/UPDATE/DELETE take; NOWAIT fails at once if the migration holds orders.
                        await writer.execute(sa.text("LOCK TABLE orders IN ROW EXCLUSIVE MODE NOWAIT"))
                        await writer.rollback()
                finally:
                    await blocker.commit()
                    await asyncio.wait_for(migrating, timeout=60 * WAIT_SCALE)
            async with engine.connect() as conn:
                version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            assert version == ScriptDirectory.from_config(cfg).get_current_head()
        finally:
            await engine.dispose()
            await holder.dispose()
