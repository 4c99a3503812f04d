"""Event handlers that keep the analytics read models current (idempotent, order-insensitive)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_analytics.db import (
    buyer_managers,
    buyers,
    daily,
    daily_buyers,
    daily_hours,
    daily_managers,
    orders,
    users,
)
from oms_analytics.domain import (
    OrderChange,
    OrderFacts,
    RollupDelta,
    Stamp,
    apply_change,
    first_present,
    lines_total_minor,
    stamp_of,
    to_minor,
)
from oms_shared.contracts import (
    AccountUpdatedV1,
    BuyerUpdatedV1,
    Event,
    OrderChangedV1,
    OrderDeletedV1,
    OrderLine,
    OrderPlacedV1,
    OrderStatusChangedV1,
    Side,
)
from oms_shared.db import Tx, utcnow
from oms_shared.errors import PermanentError

EventHandler = Callable[[Any, Tx], Awaitable[None]]


def _id(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _total(lines: list[OrderLine]) -> int:
    return lines_total_minor([(line.quantity, line.price) for line in lines])


def _stamp(event: Event) -> Stamp:
    return stamp_of(event.sequence, event.occurred_at)


# ---------------------------------------------------------------- event → change (no I/O)


def change_from_placed(event: OrderPlacedV1) -> OrderChange:
    d = event.data
    return OrderChange(
        order_id=str(d.order_id),
        tenant_id=str(event.tenant_id),
        stamp=_stamp(event),
        number=d.number,
        buyer_id=str(d.buyer_id),
        buyer_name=d.buyer_name or None,
        price_list_id=_id(d.price_list_id),
        parent_order_id=_id(d.parent_order_id),
        placed_at=d.created_at,
        status=d.status.value,
        status_at=d.created_at,
        total_minor=to_minor(d.total),
        responsible_known=True,
        responsible_user_id=_id(d.responsible_user_id),
    )


def change_from_status(event: OrderStatusChangedV1) -> OrderChange:
    d = event.data
    # The order's own total when told; a zero total with no lines is the field's default ("not told").
    total = to_minor(d.total) if d.total else (_total(d.lines) if d.lines else None)
    return OrderChange(
        order_id=str(d.order_id),
        tenant_id=str(event.tenant_id),
        stamp=_stamp(event),
        number=d.number,
        buyer_id=str(d.buyer_id),
        status=d.to_status.value,
        status_at=d.changed_at,
        total_minor=total,
        responsible_known=d.responsible_user_id is not None,
        responsible_user_id=_id(d.responsible_user_id),
    )


def change_from_changed(event: OrderChangedV1) -> OrderChange:
    d = event.data
    attrs = dict(d.attributes)
    total: int | None = _total(d.lines) if d.lines is not None else None
    has_total, raw_total = first_present(attrs, "total", "new_total")
    if total is None and has_total and raw_total is not None:
        total = _money(raw_total)
    paid: int | None = None
    responsible_known = False
    responsible: str | None = None
    overdue: bool | None = None
    if d.kind == "payment" or "paid_amount" in attrs:
        found, raw = first_present(attrs, "paid_amount", "paid", "amount", "new")
        if found:
            paid = _money(raw)
    if d.kind == "responsible" or "responsible_user_id" in attrs:
        found, raw = first_present(attrs, "responsible_user_id", "new")
        if found:
            responsible_known = True
            responsible = str(raw) if raw else None
    if d.kind == "overdue":
        found, raw = first_present(attrs, "overdue")
        overdue = bool(raw) if found else True
    return OrderChange(
        order_id=str(d.order_id),
        tenant_id=str(event.tenant_id),
        stamp=_stamp(event),
        number=d.number,
        buyer_id=str(d.buyer_id),
        status=d.status.value,
        total_minor=total,
        paid_minor=paid,
        responsible_known=responsible_known,
        responsible_user_id=responsible,
        overdue=overdue,
    )


def change_from_deleted(event: OrderDeletedV1) -> OrderChange:
    d = event.data
    return OrderChange(
        order_id=str(d.order_id),
        tenant_id=str(event.tenant_id),
        stamp=_stamp(event),
        deleted_by_supplier=True if d.side == Side.SUPPLIER else None,
    )


def _money(raw: object) -> int:
    try:
        return to_minor(Decimal(str(raw)) if raw is not None else None)
    except ValueError as exc:
        raise PermanentError(f"not an amount: {raw!r}") from exc


# ---------------------------------------------------------------- read model I/O


def _facts_from_row(row: Any) -> OrderFacts:
    m = row._mapping
    versions = {k: (int(v[0]), str(v[1])) for k, v in json.loads(m["versions"] or "{}").items()}
    return OrderFacts(
        order_id=m["order_id"],
        tenant_id=m["tenant_id"],
        number=m["number"],
        buyer_id=m["buyer_id"],
        buyer_name=m["buyer_name"],
        responsible_user_id=m["responsible_user_id"],
        price_list_id=m["price_list_id"],
        parent_order_id=m["parent_order_id"],
        status=m["status"],
        total_minor=int(m["total_minor"]),
        paid_minor=int(m["paid_minor"]),
        placed_at=m["placed_at"],
        confirmed_at=m["confirmed_at"],
        shipped_at=m["shipped_at"],
        rejected_at=m["rejected_at"],
        cancelled_at=m["cancelled_at"],
        overdue=bool(m["overdue"]),
        deleted_by_supplier=bool(m["deleted_by_supplier"]),
        versions=versions,
    )


def order_row(facts: OrderFacts) -> dict[str, Any]:
    return {
        "tenant_id": facts.tenant_id,
        "number": facts.number,
        "buyer_id": facts.buyer_id,
        "buyer_name": facts.buyer_name,
        "responsible_user_id": facts.responsible_user_id,
        "price_list_id": facts.price_list_id,
        "parent_order_id": facts.parent_order_id,
        "status": facts.status,
        "total_minor": facts.total_minor,
        "paid_minor": facts.paid_minor,
        "placed_at": facts.placed_at,
        "placed_day": facts.placed_day,
        "confirmed_at": facts.confirmed_at,
        "shipped_at": facts.shipped_at,
        "rejected_at": facts.rejected_at,
        "cancelled_at": facts.cancelled_at,
        "hours_to_confirm": facts.hours_to_confirm,
        "hours_to_ship": facts.hours_to_ship,
        "overdue": facts.overdue,
        "deleted_by_supplier": facts.deleted_by_supplier,
        "versions": json.dumps({k: list(v) for k, v in sorted(facts.versions.items())}),
        "updated_at": utcnow(),
    }


async def apply_order_changes(conn: AsyncConnection, changes: list[OrderChange]) -> dict[str, OrderFacts]:
    """Apply changes to their orders' rows: one locked read, then one batched insert and update."""
    ids = sorted({c.order_id for c in changes})
    rows = await conn.execute(sa.select(orders).where(orders.c.order_id.in_(ids)).with_for_update())
    stored = {r.order_id: _facts_from_row(r) for r in rows}
    current = dict(stored)
    for change in changes:
        facts = current.get(change.order_id)
        if facts is not None and facts.tenant_id != change.tenant_id:
            raise PermanentError(f"order {change.order_id} belongs to another tenant")
        current[change.order_id] = apply_change(facts, change)
    inserts = [{"order_id": k, **order_row(v)} for k, v in current.items() if k not in stored]
    # A duplicate or stale event leaves the facts as they were: nothing to write.
    updates = [{"b_order_id": k, **order_row(v)} for k, v in current.items() if k in stored and v != stored[k]]
    if inserts:
        await conn.execute(orders.insert(), inserts)
    if updates:
        await conn.execute(orders.update().where(orders.c.order_id == sa.bindparam("b_order_id")), updates)
    delta = RollupDelta()
    for order_id, facts in current.items():
        delta.change(stored.get(order_id), facts)
    tenants = {c.order_id: c.tenant_id for c in changes}
    if len(set(tenants.values())) == 1:
        await apply_rollups(conn, next(iter(tenants.values())), delta)
    else:
        # A replay batch spans tenants: one delta per tenant.
        for tenant in sorted(set(tenants.values())):
            part = RollupDelta()
            for order_id, facts in current.items():
                if tenants[order_id] == tenant:
                    part.change(stored.get(order_id), facts)
            await apply_rollups(conn, tenant, part)
    return current


def _upsert(conn: AsyncConnection, table: sa.Table) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


_COUNT_KEYS = ("status", "confirmed", "shipped", "overdue")
_SUMS = ("orders", "total_minor", "paid_minor")


async def _add_counts(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Add order counts and sums to rollup rows, creating the missing ones (atomic increments)."""
    stmt = _upsert(conn, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={
            "orders": table.c.orders + stmt.excluded.orders,
            "total_minor": table.c.total_minor + stmt.excluded.total_minor,
            "paid_minor": table.c.paid_minor + stmt.excluded.paid_minor,
        },
    )
    await conn.execute(stmt, rows)


def _count_rows(tenant_id: str, key_names: tuple[str, ...], rows: dict[Any, list[int]]) -> list[dict[str, Any]]:
    # Sorted keys: concurrent transactions lock rollup rows in the same order and cannot deadlock.
    return [
        {"tenant_id": tenant_id, **dict(zip(key_names, k, strict=True)), **dict(zip(_SUMS, v, strict=True))}
        for k, v in sorted(rows.items())
    ]


async def apply_rollups(conn: AsyncConnection, tenant_id: str, delta: RollupDelta) -> None:
    """Add a delta to the daily, per-buyer and per-manager rollups (safe with several consumers at once)."""
    daily_rows, hours_rows = delta.nonzero()
    buyer_rows, manager_rows = delta.nonzero_groups()
    # Tables in a fixed order too, for the same reason as the sorted keys.
    for table, key_names, rows in (
        (daily, ("day", *_COUNT_KEYS), daily_rows),
        (daily_buyers, ("day", "buyer_id", *_COUNT_KEYS), buyer_rows),
        (daily_managers, ("day", "responsible_user_id", *_COUNT_KEYS), manager_rows),
    ):
        if rows:
            await _add_counts(conn, table, _count_rows(tenant_id, key_names, rows))
    if hours_rows:
        hstmt = _upsert(conn, daily_hours)
        hstmt = hstmt.on_conflict_do_update(
            index_elements=[c.name for c in daily_hours.primary_key.columns],
            set_={"n": daily_hours.c.n + hstmt.excluded.n},
        )
        await conn.execute(
            hstmt,
            [
                {"tenant_id": tenant_id, "day": k[0], "metric": k[1], "bin": k[2], "n": v}
                for k, v in sorted(hours_rows.items())
            ],
        )


async def apply_order_change(conn: AsyncConnection, change: OrderChange) -> OrderFacts:
    return (await apply_order_changes(conn, [change]))[change.order_id]


async def on_order_placed(event: OrderPlacedV1, tx: Tx) -> None:
    await apply_order_change(tx.conn, change_from_placed(event))


async def on_order_status_changed(event: OrderStatusChangedV1, tx: Tx) -> None:
    await apply_order_change(tx.conn, change_from_status(event))


async def on_order_changed(event: OrderChangedV1, tx: Tx) -> None:
    await apply_order_change(tx.conn, change_from_changed(event))


async def on_order_deleted(event: OrderDeletedV1, tx: Tx) -> None:
    await apply_order_change(tx.conn, change_from_deleted(event))


def _version(stamp: Stamp) -> str:
    # Fixed-width sequence so that text comparison orders versions like the stamp tuples.
    return f"{stamp[0]:012d}|{stamp[1]}"


async def on_buyer_updated(event: BuyerUpdatedV1, tx: Tx) -> None:
    """Buyer names and their managers (a restricted manager sees only these buyers' orders)."""
    d = event.data
    tenant, buyer_id, version = str(event.tenant_id), str(d.buyer_id), _version(_stamp(event))
    current = await tx.conn.scalar(
        sa.select(buyers.c.version).where(buyers.c.tenant_id == tenant, buyers.c.buyer_id == buyer_id)
    )
    if current is not None and current >= version:
        return
    values = {"name": d.name, "deleted": d.deleted, "version": version}
    if current is None:
        await tx.conn.execute(buyers.insert().values(tenant_id=tenant, buyer_id=buyer_id, **values))
    else:
        await tx.conn.execute(
            buyers.update().where(buyers.c.tenant_id == tenant, buyers.c.buyer_id == buyer_id).values(**values)
        )
    await tx.conn.execute(
        buyer_managers.delete().where(buyer_managers.c.tenant_id == tenant, buyer_managers.c.buyer_id == buyer_id)
    )
    managers = sorted({str(u) for u in d.manager_user_ids})
    if managers:
        await tx.conn.execute(
            buyer_managers.insert(), [{"tenant_id": tenant, "buyer_id": buyer_id, "user_id": u} for u in managers]
        )


async def on_account_updated(event: AccountUpdatedV1, tx: Tx) -> None:
    """Names of a supplier's users, to label the by-manager summary."""
    d = event.data
    if d.kind != "supplier":
        return
    tenant, version = str(d.account_id), _version(_stamp(event))
    existing = {
        r.user_id: r.version
        for r in await tx.conn.execute(sa.select(users.c.user_id, users.c.version).where(users.c.tenant_id == tenant))
    }
    for user in d.users:
        uid = str(user.user_id)
        values = {"name": user.name or user.email, "email": user.email, "version": version, "locale": user.locale}
        if uid not in existing:
            await tx.conn.execute(users.insert().values(tenant_id=tenant, user_id=uid, **values))
        elif existing[uid] < version:
            await tx.conn.execute(
                users.update().where(users.c.tenant_id == tenant, users.c.user_id == uid).values(**values)
            )


# Order events as changes of the order read model (the rebuild applies them in batches).
ORDER_CHANGES: dict[str, Callable[[Any], OrderChange]] = {
    OrderPlacedV1.EVENT_TYPE: change_from_placed,
    OrderStatusChangedV1.EVENT_TYPE: change_from_status,
    OrderChangedV1.EVENT_TYPE: change_from_changed,
    OrderDeletedV1.EVENT_TYPE: change_from_deleted,
}

HANDLERS: dict[type[Event], EventHandler] = {
    OrderPlacedV1: on_order_placed,
    OrderStatusChangedV1: on_order_status_changed,
    OrderChangedV1: on_order_changed,
    OrderDeletedV1: on_order_deleted,
    BuyerUpdatedV1: on_buyer_updated,
    AccountUpdatedV1: on_account_updated,
}
