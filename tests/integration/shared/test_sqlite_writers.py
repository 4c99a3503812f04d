"""Two processes of a service on one SQLite file (the local stack's replicas): writers wait, none fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa

from oms_shared.db import Database, create_engine, messaging_tables
from tests.support.services import WAIT_SCALE


def _database(url: str) -> tuple[Database, sa.Table]:
    metadata = sa.MetaData()
    messaging_tables(metadata)
    counter = sa.Table("counter", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("n", sa.Integer))
    return Database(create_engine(url), metadata), counter


async def test_a_write_that_read_first_waits_for_another_processs_writer_instead_of_failing(tmp_path: Path) -> None:
    """R-STK-1, R-RSV-2 (stock writes under replicas): a transaction that reads and then writes, while another
    process (its own engine) commits a write in between, waits for the file's write lock and both writes land.
    Begun deferred, the first one failed at once with "database is locked" (an HTTP 500 on the local stack)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    (one, counter), (other, _) = _database(url), _database(url)
    try:
        async with one.engine.begin() as conn:
            await conn.run_sync(one.metadata.create_all)
            await conn.execute(counter.insert().values(id=1, n=0))

        read_done, other_started = asyncio.Event(), asyncio.Event()

        async def reader_then_writer() -> None:
            async with one.transaction() as tx:
                n = await tx.conn.scalar(sa.select(counter.c.n).where(counter.c.id == 1))
                read_done.set()
                await other_started.wait()
                await asyncio.sleep(0.2)  # the other process is now waiting on the lock (or, deferred, has committed)
                await tx.conn.execute(counter.update().where(counter.c.id == 1).values(n=n + 1))

        async def other_writer() -> None:
            await read_done.wait()
            other_started.set()
            async with other.transaction() as tx:
                n = await tx.conn.scalar(sa.select(counter.c.n).where(counter.c.id == 1))
                await tx.conn.execute(counter.update().where(counter.c.id == 1).values(n=n + 10))

        await asyncio.wait_for(asyncio.gather(reader_then_writer(), other_writer()), timeout=60 * WAIT_SCALE)
        async with one.read() as conn:
            assert await conn.scalar(sa.select(counter.c.n).where(counter.c.id == 1)) == 11
    finally:
        await one.dispose()
        await other.dispose()
