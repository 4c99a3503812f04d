"""Pooled PostgreSQL connections are pinged only after sitting idle: a busy service pays no ping per transaction,
and a connection the database dropped while it was idle is replaced before a request meets it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

from oms_shared import db as db_module
from oms_shared.db import create_engine
from tests.support.databases import fresh_postgres_databases, needs_postgres

pytestmark = needs_postgres


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted: list[int] = []
    real = AsyncAdapt_asyncpg_connection.ping

    def counting(self: AsyncAdapt_asyncpg_connection) -> None:
        counted.append(1)
        real(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counting)
    return counted


async def test_back_to_back_transactions_are_not_pinged(pings: list[int]) -> None:
    """Under load a connection goes back to the pool and out again within milliseconds: no ping (three round
    trips each on asyncpg) before every transaction."""
    async with fresh_postgres_databases(1) as (url,):
        engine = create_engine(url)
        try:
            for _ in range(20):
                async with engine.begin() as conn:
                    assert (await conn.execute(sa.text("SELECT 1"))).scalar() == 1
        finally:
            await engine.dispose()
    assert pings == []


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database restarted (here: every backend of the service terminated) while the pool sat idle: the next
    transaction gets a new connection and succeeds, instead of failing on the dead one."""
    monkeypatch.setattr(db_module, "PING_IDLE_S", 0.0)
    async with fresh_postgres_databases(1) as (url,):
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                first_pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
            admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
            try:
                assert await admin.fetchval("SELECT pg_terminate_backend($1)", first_pid)
                for _ in range(100):  # the backend is gone once it no longer shows in pg_stat_activity
                    if not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first_pid):
                        break
                    await asyncio.sleep(0.05)
            finally:
                await admin.close()
            async with engine.begin() as conn:
                pid = (await conn.execute(sa.text("SELECT pg_backend_pid()"))).scalar()
            assert pid != first_pid
            assert pings, "the idle connection was pinged"
        finally:
            await engine.dispose()
