"""The reserve engine: guarded writes on the stock projection plus ledger rows, in the caller's transaction.

Every function here runs inside one ``db.transaction()`` and records what it touched in
``Effects``; ``publish_effects`` then writes ``reserve.updated`` / ``stock.updated`` to the outbox
in the same transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_inventory.db import holds, incoming_stock, order_lines, reserve_ledger, stock, warehouses
from oms_inventory.domain import LineTarget, Waiting, allocate_fifo, from_units, plan_order_lines, reservable
from oms_shared.contracts import (
    ReserveLine,
    ReserveUpdatedData,
    ReserveUpdatedV1,
    StockUpdatedData,
    StockUpdatedV1,
    make_event,
)
from oms_shared.db import Tx, utcnow

log = logging.getLogger(__name__)

PRODUCER = "inventory"
# A guarded update fails only when another transaction changed the item between our read and
# write; re-reading converges quickly, the bound only protects against a pathological loop.
MAX_GUARD_RETRIES = 50


@dataclass
class Effects:
    """What one transaction changed: items whose stock moved and orders whose reserves moved."""

    tenant_id: str
    cause: str = field(default_factory=lambda: str(uuid.uuid4()))
    by_user_id: str | None = None
    items: set[tuple[str, str]] = field(default_factory=set)
    orders: dict[str, str] = field(default_factory=dict)
    freed: set[tuple[str, str]] = field(default_factory=set)
    # Ledger rows wait here and go in with one executemany (``flush_ledger``, run by ``publish_effects``):
    # nothing reads the ledger inside the transaction that writes it.
    ledger: list[dict[str, Any]] = field(default_factory=list)
    # SKUs of products created or changed (by the ERP's stock): told to the other services (product.updated).
    products: set[str] = field(default_factory=set)
    _seq: int = 0

    def key(self, *parts: object) -> str:
        """A ledger idempotency key unique within this cause (event id or request id)."""
        self._seq += 1
        return ":".join(str(p) for p in (*parts, self.cause, self._seq))[:200]

    def order(self, order_id: str, reason: str) -> None:
        self.orders.setdefault(order_id, reason)


async def insert_ignore(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], keys: list[str]) -> None:
    """INSERT unless a row with the same key exists (concurrent creators both succeed)."""
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = sqlite.insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    await conn.execute(stmt)


def _item(tenant: str, wh: str, sku: str) -> Any:
    return sa.and_(stock.c.tenant_id == tenant, stock.c.warehouse_id == wh, stock.c.sku == sku)


async def ensure_stock_row(conn: AsyncConnection, tenant: str, wh: str, sku: str) -> None:
    await insert_ignore(
        conn,
        stock,
        {"tenant_id": tenant, "warehouse_id": wh, "sku": sku, "on_hand": 0, "reserved": 0, "updated_at": utcnow()},
        ["tenant_id", "warehouse_id", "sku"],
    )


class StaleLine(RuntimeError):
    """A line changed between its read and its write (it should not under the item lock); the transaction
    rolls back and the caller retries it."""


async def lock_items(conn: AsyncConnection, tenant: str, items: Iterable[tuple[str | None, str]]) -> None:
    """Lock the stock rows of warehouse items, in one global order (warehouse, SKU).

    Every change to an order line's reserve happens under the lock of its item's stock row and re-reads the
    line after taking it: a release, a shipment, a confirmation and a backorder fill of lines on one item
    serialise on that row across processes, so no line is written from a stale read. An item without a stock
    row has nothing to reserve; its lines are written with a compare-and-set (``StaleLine`` when it fails).
    SQLite has one writer at a time: nothing to lock there.
    """
    keys = sorted({(wh, sku) for wh, sku in items if wh})
    if not keys or conn.dialect.name != "postgresql":
        return
    for chunk in _chunks(keys):
        await conn.execute(
            sa.select(stock.c.sku)
            .where(stock.c.tenant_id == tenant, sa.tuple_(stock.c.warehouse_id, stock.c.sku).in_(chunk))
            .order_by(stock.c.warehouse_id, stock.c.sku)
            .with_for_update()
        )


async def available(conn: AsyncConnection, tenant: str, wh: str, sku: str) -> int:
    value = await conn.scalar(sa.select(stock.c.on_hand - stock.c.reserved).where(_item(tenant, wh, sku)))
    return int(value or 0)


async def grab(
    conn: AsyncConnection,
    tenant: str,
    wh: str,
    sku: str,
    want: int,
    *,
    exact: bool = False,
    avail_hint: int | None = None,
) -> int:
    """Reserve up to ``want`` (all of it or nothing when ``exact``) by a guarded update; returns what was got.

    ``reserved + q`` is written only ``WHERE on_hand - reserved >= q``: two processes racing for
    the last units cannot both succeed (PostgreSQL re-checks the condition after the row lock).
    ``avail_hint`` (availability read earlier in this transaction, e.g. by ``read_available``) saves
    the first read; a stale hint only costs a retry, because the guard still decides.
    """
    if want <= 0:
        return 0
    for attempt in range(MAX_GUARD_RETRIES):
        avail = avail_hint if attempt == 0 and avail_hint is not None else await available(conn, tenant, wh, sku)
        q = want if exact else reservable(want, avail)
        if q <= 0 or (exact and avail < want):
            return 0
        result = await conn.execute(
            stock.update()
            .where(_item(tenant, wh, sku), stock.c.on_hand - stock.c.reserved >= q)
            .values(reserved=stock.c.reserved + q, updated_at=utcnow())
        )
        if result.rowcount == 1:
            return q
    raise RuntimeError(f"guarded reserve of {wh}:{sku} did not converge")


async def give_back(conn: AsyncConnection, tenant: str, wh: str, sku: str, qty: int) -> None:
    """Lower the reserved projection by ``qty``; a missing reserve means drift, which must not pass silently."""
    if qty <= 0:
        return
    result = await conn.execute(
        stock.update()
        .where(_item(tenant, wh, sku), stock.c.reserved >= qty)
        .values(reserved=stock.c.reserved - qty, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise RuntimeError(f"release of {qty} from {wh}:{sku} exceeds its reserve")


async def append_ledger(
    conn: AsyncConnection,
    eff: Effects,
    *,
    wh: str,
    sku: str,
    kind: str,
    quantity: int,
    reason: str,
    order_id: str | None = None,
    line_id: str | None = None,
) -> None:
    if quantity == 0:
        return
    eff.ledger.append(
        {
            "tenant_id": eff.tenant_id,
            "warehouse_id": wh,
            "sku": sku,
            "kind": kind,
            "order_id": order_id,
            "line_id": line_id,
            "quantity": quantity,
            "reason": reason,
            "idempotency_key": eff.key(kind, reason, line_id or f"{wh}/{sku}"),
            "by_user_id": eff.by_user_id,
            "created_at": utcnow(),
        }
    )
    eff.items.add((wh, sku))
    if quantity < 0:
        eff.freed.add((wh, sku))


async def flush_ledger(conn: AsyncConnection, eff: Effects) -> None:
    """Write the buffered ledger rows (one executemany; ids keep the order they were appended in)."""
    if eff.ledger:
        rows, eff.ledger = eff.ledger, []
        await conn.execute(reserve_ledger.insert(), rows)


async def read_available(
    conn: AsyncConnection, tenant: str, items: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Availability of many warehouse items in one statement per chunk (missing items are absent)."""
    out: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(set(items))):
        rows = await conn.execute(
            sa.select(stock.c.warehouse_id, stock.c.sku, stock.c.on_hand - stock.c.reserved).where(
                stock.c.tenant_id == tenant, sa.tuple_(stock.c.warehouse_id, stock.c.sku).in_(chunk)
            )
        )
        out.update({(wh, sku): int(avail) for wh, sku, avail in rows.all()})
    return out


# Row-value IN lists stay well under SQLite's bound-parameter limit.
CHUNK = 400


def _chunks(items: list[tuple[str, str]]) -> Iterable[list[tuple[str, str]]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# --- order reserves -------------------------------------------------------------------------


async def _order_rows(conn: AsyncConnection, tenant: str, order_id: str) -> list[sa.Row[Any]]:
    rows = await conn.execute(
        sa.select(order_lines).where(order_lines.c.tenant_id == tenant, order_lines.c.order_id == order_id)
    )
    return list(rows)


async def locked_rows(
    conn: AsyncConnection,
    tenant: str,
    where: Any,
    also_items: Iterable[tuple[str | None, str]] = (),
) -> list[sa.Row[Any]]:
    """Order lines matching ``where``, read again after their items (and ``also_items``) are locked."""
    query = sa.select(order_lines).where(order_lines.c.tenant_id == tenant, where).order_by(order_lines.c.line_id)
    locked: set[tuple[str, str]] = set()
    wanted = {(wh, sku) for wh, sku in also_items if wh}
    for _ in range(MAX_GUARD_RETRIES):
        rows = list(await conn.execute(query))
        need = (wanted | {(r.warehouse_id, r.sku) for r in rows if r.warehouse_id}) - locked
        if not need:
            return rows
        # A line moved to another item between the read and the lock: lock that one too and read again.
        await lock_items(conn, tenant, need)
        locked |= need
    raise StaleLine("the lines kept moving between items while being locked")


async def locked_order_rows(conn: AsyncConnection, tenant: str, order_id: str) -> list[sa.Row[Any]]:
    return await locked_rows(conn, tenant, order_lines.c.order_id == order_id)


async def _set_line(conn: AsyncConnection, tenant: str, row: Any, **values: Any) -> None:
    """Write a line read under its item lock, only if it is still as read (state and reserve)."""
    result = await conn.execute(
        order_lines.update()
        .where(
            order_lines.c.tenant_id == tenant,
            order_lines.c.line_id == row.line_id,
            order_lines.c.order_id == row.order_id,
            order_lines.c.state == row.state,
            order_lines.c.reserved == row.reserved,
        )
        .values(updated_at=utcnow(), **values)
    )
    if result.rowcount != 1:
        raise StaleLine(f"line {row.line_id} changed under a reserve update; retrying")


async def _release_line(conn: AsyncConnection, eff: Effects, row: Any, state: str, reason: str) -> None:
    if row.reserved > 0 and row.warehouse_id:
        await give_back(conn, eff.tenant_id, row.warehouse_id, row.sku, row.reserved)
        await append_ledger(
            conn,
            eff,
            wh=row.warehouse_id,
            sku=row.sku,
            kind="order",
            quantity=-row.reserved,
            reason=reason,
            order_id=row.order_id,
            line_id=row.line_id,
        )
    await _set_line(conn, eff.tenant_id, row, reserved=0, state=state)


async def apply_order_lines(
    conn: AsyncConnection,
    eff: Effects,
    order_id: str,
    targets: Iterable[LineTarget],
    *,
    confirmed_at: datetime,
    reason: str,
    kept_line_ids: Iterable[str] = (),
) -> list[tuple[int, int]]:
    """Make the order's reserves match its lines: reserve what is missing (as much as is available),
    give back what is no longer asked for, drop lines that left the order (unless moved to another part)."""
    tenant = eff.tenant_id
    wanted = list(targets)
    ids = [t.line_id for t in wanted]
    # One read for the order's own lines and for lines arriving from another part of the order.
    where = order_lines.c.order_id == order_id
    if ids:
        where = sa.or_(where, order_lines.c.line_id.in_(ids))
    # Read under the locks of every item involved (asked for, or held now), so no fill or release of another
    # order interleaves with this one on those items.
    rows = await locked_rows(conn, tenant, where, [(t.warehouse_id, t.sku) for t in wanted])
    held = [r for r in rows if r.order_id == order_id and r.state == "active"]
    known = {r.line_id: r for r in rows if r.line_id in set(ids)}
    plan = plan_order_lines(wanted, [r.line_id for r in held], kept_line_ids=kept_line_ids)
    for lid in plan.dropped:
        row = next(r for r in held if r.line_id == lid)
        await _release_line(conn, eff, row, "released", "line_removed")
    # Availability of every item the order asks for, in one read; an item this loop touches is forgotten.
    asked = [(t.warehouse_id, t.sku) for t in plan.targets if t.warehouse_id]
    avail = dict.fromkeys(asked, 0)  # no stock row: nothing to reserve
    avail.update(await read_available(conn, tenant, asked))
    inserts: list[dict[str, Any]] = []
    outcome: list[tuple[int, int]] = []
    for t in plan.targets:
        existing = known.get(t.line_id)
        current = 0
        if existing is not None and existing.state == "active":
            if existing.warehouse_id != t.warehouse_id or existing.sku != t.sku:
                await _release_line(conn, eff, existing, "released", "line_moved")
                avail.pop((existing.warehouse_id, existing.sku), None)
            else:
                current = existing.reserved
            if existing.order_id != order_id:  # moved here from another part of the order
                eff.order(existing.order_id, "adjusted")
        new = current
        if t.warehouse_id and current > t.requested:
            await give_back(conn, tenant, t.warehouse_id, t.sku, current - t.requested)
            avail.pop((t.warehouse_id, t.sku), None)
            await append_ledger(
                conn,
                eff,
                wh=t.warehouse_id,
                sku=t.sku,
                kind="order",
                quantity=t.requested - current,
                reason="line_reduced",
                order_id=order_id,
                line_id=t.line_id,
            )
            new = t.requested
        elif t.warehouse_id and current < t.requested:
            item = (t.warehouse_id, t.sku)
            hint = avail.pop(item, None)
            # Used once: a second line on the same item re-reads (grab may have retried past the hint).
            got = await grab(conn, tenant, t.warehouse_id, t.sku, t.requested - current, avail_hint=hint)
            await append_ledger(
                conn,
                eff,
                wh=t.warehouse_id,
                sku=t.sku,
                kind="order",
                quantity=got,
                reason=reason,
                order_id=order_id,
                line_id=t.line_id,
            )
            new = current + got
        values = {
            "order_id": order_id,
            "sku": t.sku,
            "warehouse_id": t.warehouse_id,
            "requested": t.requested,
            "reserved": new,
            "state": "active",
            "updated_at": utcnow(),
        }
        if existing is None:
            inserts.append({"tenant_id": tenant, "line_id": t.line_id, "confirmed_at": confirmed_at, **values})
        else:
            # ``existing`` may have been released above (moved to another item): the write follows that read.
            result = await conn.execute(
                order_lines.update()
                .where(
                    order_lines.c.tenant_id == tenant,
                    order_lines.c.line_id == t.line_id,
                    order_lines.c.order_id == existing.order_id,
                )
                .values(**values)
            )
            if result.rowcount != 1:
                raise StaleLine(f"line {t.line_id} changed while its reserve was adjusted; retrying")
        outcome.append((t.requested, new))
    if inserts:
        await conn.execute(order_lines.insert(), inserts)
    eff.order(order_id, reason)
    return outcome


async def release_order(conn: AsyncConnection, eff: Effects, order_id: str, *, reason: str = "released") -> bool:
    """Give back every reserve of the order (rejected, cancelled); False if it held nothing."""
    rows = [r for r in await locked_order_rows(conn, eff.tenant_id, order_id) if r.state == "active"]
    for row in rows:
        await _release_line(conn, eff, row, "released", reason)
    if rows:
        eff.order(order_id, "released")
    return bool(rows)


async def erp_fed_warehouses(conn: AsyncConnection, tenant: str, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    rows = await conn.execute(
        sa.select(warehouses.c.warehouse_id).where(
            warehouses.c.tenant_id == tenant, warehouses.c.warehouse_id.in_(wanted), warehouses.c.erp_fed.is_(True)
        )
    )
    return set(rows.scalars())


async def consume_order(conn: AsyncConnection, eff: Effects, order_id: str) -> bool:
    """Shipping: on hand and reserved both go down by what the order held.

    In a warehouse whose stock the ERP feeds (``warehouses.erp_fed``), shipping only releases the reserve:
    on hand is the ERP's figure, and the ERP's next stock brings the shipment (ADR 013)."""
    tenant = eff.tenant_id
    rows = [r for r in await locked_order_rows(conn, tenant, order_id) if r.state == "active"]
    erp_fed = await erp_fed_warehouses(conn, tenant, [r.warehouse_id for r in rows if r.warehouse_id])
    for row in rows:
        if row.reserved > 0 and row.warehouse_id:
            by_erp = row.warehouse_id in erp_fed
            on_hand = stock.c.on_hand if by_erp else stock.c.on_hand - row.reserved
            result = await conn.execute(
                stock.update()
                .where(_item(tenant, row.warehouse_id, row.sku), stock.c.reserved >= row.reserved)
                .values(on_hand=on_hand, reserved=stock.c.reserved - row.reserved, updated_at=utcnow())
            )
            if result.rowcount != 1:
                raise RuntimeError(f"consuming {row.line_id}: the item holds less than the line's reserve")
            await append_ledger(
                conn,
                eff,
                wh=row.warehouse_id,
                sku=row.sku,
                kind="order",
                quantity=-row.reserved,
                reason="shipped_erp_stock" if by_erp else "consumed",
                order_id=order_id,
                line_id=row.line_id,
            )
            # Shipped units left the shelf: what the reserve held is not offered to backorders, even where
            # on hand waits for the ERP's figure.
            eff.freed.discard((row.warehouse_id, row.sku))
        await _set_line(conn, tenant, row, state="consumed")
    if rows:
        eff.order(order_id, "consumed")
    return bool(rows)


async def fill_backorders(conn: AsyncConnection, eff: Effects, wh: str, sku: str) -> None:
    """Stock became available: waiting lines get it first-come-first-served by confirmation time.

    The item is locked before its waiting lines are read, and each line takes its units only if it is still
    active with the reserve read (a release or shipment of its order cannot interleave)."""
    tenant = eff.tenant_id
    await lock_items(conn, tenant, [(wh, sku)])
    rows = list(
        await conn.execute(
            sa.select(order_lines)
            .where(
                order_lines.c.tenant_id == tenant,
                order_lines.c.warehouse_id == wh,
                order_lines.c.sku == sku,
                order_lines.c.state == "active",
                order_lines.c.reserved < order_lines.c.requested,
            )
            .order_by(order_lines.c.confirmed_at, order_lines.c.line_id)
        )
    )
    by_id = {r.line_id: r for r in rows}
    waiting = [Waiting(r.line_id, r.order_id, r.requested - r.reserved) for r in rows]
    if not waiting:
        return
    for line, take in allocate_fifo(waiting, await available(conn, tenant, wh, sku)):
        got = await grab(conn, tenant, wh, sku, take)
        if got <= 0:
            break
        row = by_id[line.line_id]
        await _set_line(conn, tenant, row, reserved=row.reserved + got)
        await append_ledger(
            conn,
            eff,
            wh=wh,
            sku=sku,
            kind="order",
            quantity=got,
            reason="backorder_filled",
            order_id=line.order_id,
            line_id=line.line_id,
        )
        eff.order(line.order_id, "backorder_filled")


async def fill_freed(conn: AsyncConnection, eff: Effects) -> None:
    """Offer every item that gained availability in this transaction to its backorders."""
    for wh, sku in sorted(eff.freed):
        await fill_backorders(conn, eff, wh, sku)
    eff.freed.clear()


# --- manual and Integration holds ------------------------------------------------------------


async def hold_quantity(conn: AsyncConnection, tenant: str, wh: str, sku: str, kind: str) -> int:
    value = await conn.scalar(
        sa.select(holds.c.quantity).where(
            holds.c.tenant_id == tenant, holds.c.warehouse_id == wh, holds.c.sku == sku, holds.c.kind == kind
        )
    )
    return int(value or 0)


async def set_hold(
    conn: AsyncConnection, eff: Effects, wh: str, sku: str, kind: str, quantity: int, reason: str
) -> bool:
    """Set a manual or Integration reserve to ``quantity``; False (nothing changed) when stock is short."""
    tenant = eff.tenant_id
    # Read the hold under its item's lock: two requests setting it at once apply one after the other, each
    # from the quantity the other left (no hold may say 5 while the item reserves 12 for it).
    if quantity > 0:
        await ensure_stock_row(conn, tenant, wh, sku)
    await lock_items(conn, tenant, [(wh, sku)])
    current = await hold_quantity(conn, tenant, wh, sku, kind)
    if quantity > current:
        if await grab(conn, tenant, wh, sku, quantity - current, exact=True) == 0:
            return False
    elif quantity < current:
        await give_back(conn, tenant, wh, sku, current - quantity)
    await append_ledger(conn, eff, wh=wh, sku=sku, kind=kind, quantity=quantity - current, reason=f"{kind}_set")
    values = {"quantity": quantity, "reason": reason, "by_user_id": eff.by_user_id, "updated_at": utcnow()}
    where = sa.and_(holds.c.tenant_id == tenant, holds.c.warehouse_id == wh, holds.c.sku == sku, holds.c.kind == kind)
    if quantity == 0:
        await conn.execute(holds.delete().where(where))
    elif (await conn.execute(holds.update().where(where).values(**values))).rowcount == 0:
        await conn.execute(holds.insert().values(tenant_id=tenant, warehouse_id=wh, sku=sku, kind=kind, **values))
    eff.items.add((wh, sku))
    return True


async def shrink_order_reserves(conn: AsyncConnection, eff: Effects, wh: str, sku: str, excess: int) -> int:
    """Take ``excess`` back from order lines, newest confirmation first (the ERP reported less stock)."""
    await lock_items(conn, eff.tenant_id, [(wh, sku)])
    rows = await conn.execute(
        sa.select(order_lines)
        .where(
            order_lines.c.tenant_id == eff.tenant_id,
            order_lines.c.warehouse_id == wh,
            order_lines.c.sku == sku,
            order_lines.c.state == "active",
            order_lines.c.reserved > 0,
        )
        .order_by(order_lines.c.confirmed_at.desc(), order_lines.c.line_id.desc())
    )
    taken = 0
    for row in list(rows):
        if taken >= excess:
            break
        q = min(row.reserved, excess - taken)
        await give_back(conn, eff.tenant_id, wh, sku, q)
        await append_ledger(
            conn,
            eff,
            wh=wh,
            sku=sku,
            kind="order",
            quantity=-q,
            reason="stock_shrank",
            order_id=row.order_id,
            line_id=row.line_id,
        )
        await _set_line(conn, eff.tenant_id, row, reserved=row.reserved - q)
        eff.order(row.order_id, "adjusted")
        taken += q
    eff.freed.discard((wh, sku))
    return taken


# --- events ---------------------------------------------------------------------------------


def _snapshot(wh: str, sku: str, on_hand: int, reserved: int, incoming: int) -> StockUpdatedData:
    return StockUpdatedData(
        warehouse_id=uuid.UUID(wh),
        sku=sku,
        on_hand=from_units(on_hand),
        reserved=from_units(reserved),
        available=from_units(on_hand - reserved),
        incoming=from_units(incoming),
    )


async def stock_snapshots(
    conn: AsyncConnection, tenant: str, items: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], StockUpdatedData]:
    """On hand, reserved, available and incoming of many items, one statement per chunk of items."""
    out: dict[tuple[str, str], StockUpdatedData] = {}
    for chunk in _chunks(sorted(set(items))):
        incoming = (
            sa.select(
                incoming_stock.c.warehouse_id,
                incoming_stock.c.sku,
                sa.func.sum(incoming_stock.c.quantity).label("units"),
            )
            .where(
                incoming_stock.c.tenant_id == tenant,
                incoming_stock.c.status == "expected",
                sa.tuple_(incoming_stock.c.warehouse_id, incoming_stock.c.sku).in_(chunk),
            )
            .group_by(incoming_stock.c.warehouse_id, incoming_stock.c.sku)
            .subquery()
        )
        rows = await conn.execute(
            sa.select(stock.c.warehouse_id, stock.c.sku, stock.c.on_hand, stock.c.reserved, incoming.c.units)
            .select_from(
                stock.outerjoin(
                    incoming, sa.and_(incoming.c.warehouse_id == stock.c.warehouse_id, incoming.c.sku == stock.c.sku)
                )
            )
            .where(stock.c.tenant_id == tenant, sa.tuple_(stock.c.warehouse_id, stock.c.sku).in_(chunk))
        )
        found = {(wh, sku): (on_hand, reserved, int(units or 0)) for wh, sku, on_hand, reserved, units in rows.all()}
        for wh, sku in chunk:
            # An item without a stock row reports zeros, as it always has.
            out[(wh, sku)] = _snapshot(wh, sku, *found.get((wh, sku), (0, 0, 0)))
    return out


async def order_reserve_lines(conn: AsyncConnection, tenant: str, order_id: str) -> list[ReserveLine]:
    rows = await _order_rows(conn, tenant, order_id)
    # A released or shipped line waits for nothing: it reports no shortage.
    return [
        ReserveLine(
            line_id=uuid.UUID(r.line_id),
            sku=r.sku,
            warehouse_id=uuid.UUID(r.warehouse_id) if r.warehouse_id else None,
            requested=from_units(r.requested),
            reserved=from_units(r.reserved),
            shortage=from_units(max(0, r.requested - r.reserved) if r.state == "active" else 0),
        )
        for r in sorted(rows, key=lambda r: (r.confirmed_at, r.line_id))
    ]


async def publish_effects(tx: Tx, eff: Effects, *, causation_id: str = "") -> None:
    """``reserve.updated`` for every order whose reserves moved, ``stock.updated`` for every touched item."""
    await flush_ledger(tx.conn, eff)
    tenant = uuid.UUID(eff.tenant_id)
    for order_id, reason in eff.orders.items():
        lines = await order_reserve_lines(tx.conn, eff.tenant_id, order_id)
        data = ReserveUpdatedData(
            order_id=uuid.UUID(order_id),
            reason=reason,
            lines=lines,
            fully_reserved=bool(lines) and all(line.shortage == 0 for line in lines) and reason != "released",
        )
        await tx.publish(
            make_event(
                ReserveUpdatedV1,
                tenant_id=tenant,
                aggregate_id=order_id,
                data=data,
                causation_id=causation_id,
                producer=PRODUCER,
            )
        )
    snapshots = await stock_snapshots(tx.conn, eff.tenant_id, eff.items)
    for (wh, sku), data_s in sorted(snapshots.items()):
        await tx.publish(
            make_event(
                StockUpdatedV1,
                tenant_id=tenant,
                aggregate_id=f"{wh}:{sku}",
                data=data_s,
                causation_id=causation_id,
                producer=PRODUCER,
            )
        )
