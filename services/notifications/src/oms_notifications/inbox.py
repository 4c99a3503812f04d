"""Use cases behind the HTTP API: a user's inbox and read marks, e-mail preferences, the e-mail outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_notifications.db import accounts, emails, notifications, orders, preferences
from oms_notifications.domain import Channel, Kind
from oms_shared.auth import Principal
from oms_shared.db import Tx, utcnow
from oms_shared.errors import Conflict, Forbidden, Invalid, NotFound

EMAIL_STATUSES = ("pending", "sent", "failed")


def _mine(principal: Principal) -> Any:
    return sa.and_(
        notifications.c.user_id == str(principal.user_id), notifications.c.account_id == str(principal.account_id)
    )


# The order's buyer and supplier by name, from the replicas (empty while an order is not known here yet).
_WITH_NAMES = notifications.outerjoin(orders, orders.c.order_id == notifications.c.order_id).outerjoin(
    accounts, accounts.c.account_id == notifications.c.tenant_id
)
_NAMES = (orders.c.buyer_name.label("buyer_name"), accounts.c.name.label("supplier_name"))


def _notification_item(row: Any) -> dict[str, Any]:
    return {
        "notification_id": row.notification_id,
        "order_id": row.order_id,
        "order_number": row.order_number,
        "buyer_name": row.buyer_name or "",
        "supplier_name": row.supplier_name or "",
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "changed_line_ids": json.loads(row.changed_line_ids),
        "created_at": row.created_at.isoformat(),
        "read": row.read_at is not None,
    }


async def list_notifications(
    conn: AsyncConnection,
    principal: Principal,
    *,
    unread: bool | None,
    order_id: str | None,
    kind: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    where = [_mine(principal)]
    if unread is True:
        where.append(notifications.c.read_at.is_(None))
    elif unread is False:
        where.append(notifications.c.read_at.is_not(None))
    if order_id:
        where.append(notifications.c.order_id == order_id)
    if kind:
        where.append(notifications.c.kind == kind)
    order = notifications.c.created_at.asc() if sort == "created_at" else notifications.c.created_at.desc()
    total = await conn.scalar(sa.select(sa.func.count()).select_from(notifications).where(*where))
    rows = await conn.execute(
        sa.select(notifications, *_NAMES)
        .select_from(_WITH_NAMES)
        .where(*where)
        .order_by(order, notifications.c.notification_id)
        .limit(limit)
        .offset(offset)
    )
    counts = await unread_counts(conn, principal)
    return {
        "items": [_notification_item(r) for r in rows],
        "total": total or 0,
        "limit": limit,
        "offset": offset,
        **counts,
    }


async def unread_counts(conn: AsyncConnection, principal: Principal) -> dict[str, int]:
    """Unread notifications and the number of orders with unseen changes (what a browser tab shows)."""
    row = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(notifications.c.order_id))).where(
                _mine(principal), notifications.c.read_at.is_(None)
            )
        )
    ).one()
    return {"unread": row[0] or 0, "unread_orders": row[1] or 0}


async def unread_by_order(conn: AsyncConnection, principal: Principal, order_id: str | None = None) -> dict[str, Any]:
    """Per-order and per-line markers: which orders and which of their lines have unseen changes; with
    ``order_id`` that order's alone (an order page's markers), the caller's totals still over every order."""
    where = [_mine(principal), notifications.c.read_at.is_(None)]
    if order_id:
        where.append(notifications.c.order_id == order_id)
    rows = await conn.execute(
        sa.select(
            notifications.c.order_id,
            notifications.c.order_number,
            notifications.c.kind,
            notifications.c.changed_line_ids,
            *_NAMES,
        )
        .select_from(_WITH_NAMES)
        .where(*where)
        .order_by(notifications.c.created_at, notifications.c.notification_id)
    )
    per_order: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = per_order.setdefault(
            r.order_id,
            {
                "order_id": r.order_id,
                "order_number": r.order_number,
                "buyer_name": r.buyer_name or "",
                "supplier_name": r.supplier_name or "",
                "unread": 0,
                "kinds": [],
                "changed_line_ids": [],
            },
        )
        entry["unread"] += 1
        if r.kind not in entry["kinds"]:
            entry["kinds"].append(r.kind)
        for line_id in json.loads(r.changed_line_ids):
            if line_id not in entry["changed_line_ids"]:
                entry["changed_line_ids"].append(line_id)
    found = list(per_order.values())
    if order_id:
        return {**await unread_counts(conn, principal), "orders": found}
    return {"unread": sum(o["unread"] for o in found), "unread_orders": len(found), "orders": found}


async def mark_read(
    tx: Tx,
    principal: Principal,
    *,
    notification_ids: Sequence[str] | None,
    order_id: str | None,
    everything: bool,
) -> int:
    """Mark the caller's notifications read: listed ones, those of one order, or all of them."""
    chosen = [bool(notification_ids), order_id is not None, everything]
    if sum(chosen) != 1:
        raise Invalid(
            "give exactly one of notification_ids (non-empty), order_id or all=true", code="invalid_read_selector"
        )
    where = [_mine(principal), notifications.c.read_at.is_(None)]
    if notification_ids:
        ids = sorted(set(notification_ids))
        found = await tx.conn.execute(
            sa.select(notifications.c.notification_id, notifications.c.account_id, notifications.c.user_id).where(
                notifications.c.notification_id.in_(ids)
            )
        )
        # Another account's notification is answered as an unknown one.
        owners = {r.notification_id: r for r in found if r.account_id == str(principal.account_id)}
        missing = [i for i in ids if i not in owners]
        if missing:
            raise NotFound("no such notification", code="notification_not_found", details={"ids": missing})
        for row in owners.values():
            if row.user_id != str(principal.user_id):
                raise Forbidden("this notification is another user's", code="not_your_notification")
        where.append(notifications.c.notification_id.in_(ids))
    elif order_id is not None:
        where.append(notifications.c.order_id == order_id)
    result = await tx.conn.execute(notifications.update().where(*where).values(read_at=utcnow()))
    return int(result.rowcount or 0)


async def get_preferences(conn: AsyncConnection, principal: Principal) -> dict[str, Any]:
    rows = await conn.execute(
        sa.select(preferences.c.kind, preferences.c.enabled).where(
            preferences.c.user_id == str(principal.user_id), preferences.c.channel == Channel.EMAIL.value
        )
    )
    stored = {r.kind: bool(r.enabled) for r in rows}
    return {"email": {k.value: stored.get(k.value, True) for k in Kind}}


async def set_preferences(tx: Tx, principal: Principal, email: dict[str, bool]) -> None:
    unknown = sorted(k for k in email if k not in {x.value for x in Kind})
    if unknown:
        raise Invalid(
            "unknown notification kind",
            code="unknown_kind",
            details={"unknown": unknown, "known": [k.value for k in Kind]},
        )
    now = utcnow()
    user_id = str(principal.user_id)
    for kind, enabled in email.items():
        where = sa.and_(
            preferences.c.user_id == user_id,
            preferences.c.channel == Channel.EMAIL.value,
            preferences.c.kind == kind,
        )
        updated = await tx.conn.execute(preferences.update().where(where).values(enabled=enabled, updated_at=now))
        if updated.rowcount == 0:
            await tx.conn.execute(
                preferences.insert().values(
                    user_id=user_id, channel=Channel.EMAIL.value, kind=kind, enabled=enabled, updated_at=now
                )
            )


def _email_item(row: Any) -> dict[str, Any]:
    return {
        "email_id": row.email_id,
        "to": row.to_address,
        "recipient_user_id": row.user_id,
        "notification_id": row.notification_id,
        "order_id": row.order_id,
        "order_number": row.order_number,
        "kind": row.kind,
        "locale": row.locale,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": row.created_at.isoformat(),
        "next_attempt_at": row.next_attempt_at.isoformat() if row.status == "pending" else None,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
    }


def _require_owner(principal: Principal) -> None:
    principal.require_supplier()
    if not principal.is_owner:
        raise Forbidden("only the account owner sees the e-mail outbox", code="owner_only")


async def list_emails(
    conn: AsyncConnection,
    principal: Principal,
    *,
    status: str | None,
    order_id: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    _require_owner(principal)
    where = [emails.c.tenant_id == str(principal.account_id)]
    if status:
        where.append(emails.c.status == status)
    if order_id:
        where.append(emails.c.order_id == order_id)
    total = await conn.scalar(sa.select(sa.func.count()).select_from(emails).where(*where))
    rows = await conn.execute(
        sa.select(emails)
        .where(*where)
        .order_by(emails.c.created_at.desc(), emails.c.email_id)
        .limit(limit)
        .offset(offset)
    )
    return {"items": [_email_item(r) for r in rows], "total": total or 0, "limit": limit, "offset": offset}


async def _owned_email(conn: AsyncConnection, principal: Principal, email_id: str) -> Any:
    _require_owner(principal)
    row = (await conn.execute(sa.select(emails).where(emails.c.email_id == email_id))).first()
    if row is None or row.tenant_id != str(principal.account_id):
        raise NotFound("no such e-mail", code="email_not_found")
    return row


async def get_email(conn: AsyncConnection, principal: Principal, email_id: str) -> dict[str, Any]:
    return _email_item(await _owned_email(conn, principal, email_id))


async def retry_email(tx: Tx, principal: Principal, email_id: str) -> dict[str, Any]:
    """Put a failed e-mail back in the queue with a fresh attempt budget."""
    row = await _owned_email(tx.conn, principal, email_id)
    if row.status != "failed":
        raise Conflict(f"only a failed e-mail can be retried; this one is {row.status}", code=f"email_{row.status}")
    await tx.conn.execute(
        emails.update()
        .where(emails.c.email_id == email_id, emails.c.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
    )
    fresh = (await tx.conn.execute(sa.select(emails).where(emails.c.email_id == email_id))).one()
    return _email_item(fresh)
