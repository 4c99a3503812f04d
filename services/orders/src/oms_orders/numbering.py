"""Order numbers per supplier (R-IN-4) without a lock held for the whole placing transaction (ADR 015).

On PostgreSQL each process takes the supplier's numbers in blocks: a short transaction of its own moves the
supplier's counter (``accounts.next_order_number``) on by ``block`` and commits at once; the process hands the
block's numbers out from memory. Placings of one supplier then wait for each other only for the few
milliseconds of that short transaction, once per block, instead of for each other's whole transaction. Numbers
stay unique (the counter only moves forward, and ``uq_orders_supplier_number`` backs it), small and readable;
a block's unused numbers are skipped when the process stops, and two replicas interleave their blocks.

On SQLite, which has a single writer (``Database`` queues its transactions in the process), the counter is
moved inside the placing transaction as before: nothing waits any longer for it, and there are no gaps.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from oms_orders import domain
from oms_orders.db import accounts

DEFAULT_BLOCK = 10


@dataclass
class _Block:
    next: int
    end: int  # exclusive


@dataclass
class NumberBlocks:
    """The blocks of one database's counters that this process holds."""

    url: sa.URL
    block: int = DEFAULT_BLOCK
    _blocks: dict[str, _Block] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take(self, supplier_id: str) -> int:
        number = self._from_memory(supplier_id)
        if number is not None:
            return number
        async with self._lock:  # one block fetch at a time in this process; the others find it in memory
            number = self._from_memory(supplier_id)
            if number is not None:
                return number
            end = await self._fetch(supplier_id)
            self._blocks[supplier_id] = _Block(end - self.block, end)
            number = self._from_memory(supplier_id)
            assert number is not None
            return number

    def _from_memory(self, supplier_id: str) -> int | None:
        held = self._blocks.get(supplier_id)
        if held is None or held.next >= held.end:
            return None
        held.next += 1
        return held.next - 1

    async def _fetch(self, supplier_id: str) -> int:
        """Move the counter on by a block in a transaction of its own; the block ends at the new counter.

        Its own connection (not from the service's pool, which the waiting placings may hold every one of).
        ``synchronous_commit`` off: an order that uses these numbers commits later, and its commit flushes the
        write-ahead log up to and past this one, so a counter is never lost under an order that was kept.
        """
        engine: AsyncEngine = create_async_engine(self.url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
                end = await conn.scalar(
                    accounts.update()
                    .where(accounts.c.id == supplier_id)
                    .values(next_order_number=accounts.c.next_order_number + self.block)
                    .returning(accounts.c.next_order_number)
                )
        finally:
            await engine.dispose()
        if end is None:
            raise LookupError(f"no supplier account {supplier_id}")
        return int(end)


_registry: weakref.WeakKeyDictionary[sa.Engine, NumberBlocks] = weakref.WeakKeyDictionary()


def use_blocks(engine: AsyncEngine, block: int) -> None:
    """Numbers for ``engine``'s database are taken ``block`` at a time by this process (the service's setting)."""
    _registry[engine.sync_engine] = NumberBlocks(engine.url, block)


async def next_number(conn: AsyncConnection, supplier_id: str) -> int:
    """R-IN-4: the next number of the supplier's orders, unique however many placings and replicas run at once."""
    if conn.dialect.name == "postgresql":
        engine = conn.engine.sync_engine
        blocks = _registry.get(engine)
        if blocks is None:
            blocks = _registry[engine] = NumberBlocks(conn.engine.url)
        return await blocks.take(supplier_id)
    number = await conn.scalar(sa.select(accounts.c.next_order_number).where(accounts.c.id == supplier_id))
    number = int(number or domain.FIRST_ORDER_NUMBER)
    await conn.execute(accounts.update().where(accounts.c.id == supplier_id).values(next_order_number=number + 1))
    return number
