"""Use cases fed by order events: in-app notifications and queued e-mails for the right people."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_notifications.db import accounts, buyer_managers, buyers, emails, notifications, orders, preferences, users
from oms_notifications.domain import (
    FIELD_LABELS,
    Channel,
    Happening,
    Kind,
    OrderRef,
    Recipient,
    audience_for,
    email_wanted,
    in_app_text,
    kind_for_change,
    kind_for_status,
    normalize_locale,
    recipients_for,
    status_label,
)
from oms_notifications.formatting import DEFAULT_CURRENCY, day, line_value, moment, money
from oms_notifications.replicas import upsert
from oms_shared.contracts import (
    BuyerInvitedV1,
    EmployeeInvitedV1,
    Event,
    OrderChangedV1,
    OrderPlacedV1,
    OrderStatusChangedV1,
    UserPasswordResetRequestedV1,
)
from oms_shared.db import Tx, utcnow
from oms_shared.errors import NotYet


class UnknownReplica(NotYet):
    """An order event names an account, user or order this service has not heard of (yet: the event that
    tells travels on another topic). The consumer parks the event and tries again, then dead-letters it."""


@dataclass(frozen=True)
class Links:
    """Where e-mails point the reader: pages of the web console (``base_url``, its public URL). Every link of
    every e-mail is made here, so the console's routes are named in one place."""

    base_url: str

    def order(self, order_id: str) -> str:
        return f"{self.base_url.rstrip('/')}/orders/{order_id}"

    def preferences(self, kind: str) -> str:
        return f"{self.base_url.rstrip('/')}/settings/notifications?unsubscribe={kind}"

    def password_reset(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/reset?{urlencode({'token': token})}"

    def invitation(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/invitation?{urlencode({'token': token})}"

    def employee_invitation(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/join-team?{urlencode({'token': token})}"


# Not a notification kind users opt out of (Kind): a reset link is asked for by the reader and always sent.
PASSWORD_RESET_KIND = "password_reset"
# Nor is a supplier's invitation: it goes to an address that is nobody's account yet.
BUYER_INVITATION_KIND = "buyer_invitation"
# Nor an employee's: the person is nobody's user until they set a password through the link.
EMPLOYEE_INVITATION_KIND = "employee_invitation"


def insert_ignoring_duplicates(conn: AsyncConnection, table: sa.Table) -> Any:
    """INSERT that skips rows hitting a unique constraint (the dedupe guard under the inbox)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"unsupported database {dialect}")


async def _save_order(tx: Tx, ref: OrderRef, status: str, sequence: int) -> OrderRef:
    """Keep the order replica as of its newest event; returns the order as the notification should name it.

    Events of one order come on three topics and may arrive in any order: an older one (a lower sequence) still
    notifies, but the replica keeps the newer state (e.g. the current responsible manager), and so does the
    notification. An event without a sequence (0) is not ordered and overwrites as before."""
    stored = (
        await tx.conn.execute(
            sa.select(orders.c.sequence, orders.c.responsible_user_id, orders.c.root_order_id).where(
                orders.c.order_id == ref.order_id
            )
        )
    ).first()
    root = ref.root_order_id or (stored.root_order_id if stored is not None else None)
    ref = replace(ref, root_order_id=root)
    if stored is not None and sequence and stored.sequence > sequence:
        return replace(ref, responsible_user_id=stored.responsible_user_id)
    await upsert(
        tx.conn,
        orders,
        {"order_id": ref.order_id},
        {
            "tenant_id": ref.tenant_id,
            "number": ref.number,
            "buyer_id": ref.buyer_id,
            "buyer_account_id": ref.buyer_account_id,
            "buyer_name": ref.buyer_name,
            "responsible_user_id": ref.responsible_user_id,
            "status": status,
            "sequence": max(sequence, stored.sequence if stored is not None else 0),
            "root_order_id": root,
        },
    )
    return ref


async def _load_order(conn: AsyncConnection, order_id: str) -> tuple[OrderRef, str] | None:
    row = (await conn.execute(sa.select(orders).where(orders.c.order_id == order_id))).first()
    if row is None:
        return None
    ref = OrderRef(
        tenant_id=row.tenant_id,
        order_id=row.order_id,
        number=row.number,
        buyer_id=row.buyer_id,
        buyer_account_id=row.buyer_account_id,
        buyer_name=row.buyer_name,
        responsible_user_id=row.responsible_user_id,
        root_order_id=row.root_order_id,
    )
    return ref, row.status


async def _root_of(conn: AsyncConnection, order_id: str) -> str:
    """The order ``order_id``'s parts hang from (``order_id`` itself when it is no part, or not known yet)."""
    return str(await conn.scalar(sa.select(orders.c.root_order_id).where(orders.c.order_id == order_id)) or order_id)


async def _buyer_name(conn: AsyncConnection, buyer_id: str) -> str:
    return str(await conn.scalar(sa.select(buyers.c.name).where(buyers.c.buyer_id == buyer_id)) or "")


def _line_change(c: Any, number: str, related: list[str]) -> dict[str, Any]:
    """A changed line for people: a moved or copied line says from which part to which (1024 → 1024-2)."""
    old, new = c.old, c.new
    if c.field in ("moved", "copied") and new:
        # The order's own event names the part it went to; the part's event names itself, and the order it came
        # from is the related one.
        source = number if new != number else (related[0] if related else "")
        old = source or None
    # The product's name, when the event carries it (newer order events do).
    name = str(getattr(c, "name", "") or "")
    return {"line_id": str(c.line_id), "sku": c.sku, "name": name, "field": c.field, "old": old, "new": new}


# ---- order events → notifications --------------------------------------------------------------------


class Notifier:
    """Turns order events into in-app notifications and queued e-mails, in the event's transaction."""

    def __init__(
        self, links: Links, on_queued: Callable[[], None] = lambda: None, coalesce_window_s: float = 0.0
    ) -> None:
        self.links = links
        self.on_queued = on_queued
        self.coalesce_window_s = coalesce_window_s

    async def order_placed(self, event: OrderPlacedV1, tx: Tx) -> None:
        d = event.data
        ref = OrderRef(
            tenant_id=str(event.tenant_id),
            order_id=str(d.order_id),
            number=d.number,
            buyer_id=str(d.buyer_id),
            buyer_account_id=str(d.buyer_account_id) if d.buyer_account_id else None,
            buyer_name=d.buyer_name or await _buyer_name(tx.conn, str(d.buyer_id)),
            responsible_user_id=str(d.responsible_user_id) if d.responsible_user_id else None,
            root_order_id=await _root_of(tx.conn, str(d.parent_order_id)) if d.parent_order_id else str(d.order_id),
        )
        ref = await _save_order(tx, ref, d.status.value, event.sequence)
        if d.parent_order_id is not None:
            return  # a part split off an order: the order.changed(split) event tells people about it
        facts = {
            "total": str(d.total),
            # Orders may carry their currency (a price list's); RUB otherwise.
            "currency": str(getattr(d, "currency", None) or DEFAULT_CURRENCY),
            "line_count": len(d.lines),
            "comment": d.comment,
            "desired_shipment_date": d.desired_shipment_date.isoformat() if d.desired_shipment_date else "",
            "to_status": d.status.value,
        }
        happening = Happening(
            kind=Kind.NEW_ORDER,
            order=ref,
            actor_user_id=str(d.placed_by_user_id) if d.placed_by_user_id else None,
            audience=audience_for(Kind.NEW_ORDER, d.placed_by_side.value),
            facts=facts,
        )
        await self.deliver(tx, event.event_id, happening)

    async def status_changed(self, event: OrderStatusChangedV1, tx: Tx) -> None:
        d = event.data
        known = await _load_order(tx.conn, str(d.order_id))
        # The event carries everything needed, so a status change that overtakes its order.placed
        # (another topic, no ordering between them) still reaches the right people.
        ref = OrderRef(
            tenant_id=str(event.tenant_id),
            order_id=str(d.order_id),
            number=d.number,
            buyer_id=str(d.buyer_id),
            buyer_account_id=str(d.buyer_account_id) if d.buyer_account_id else None,
            buyer_name=known[0].buyer_name if known else await _buyer_name(tx.conn, str(d.buyer_id)),
            responsible_user_id=(
                str(d.responsible_user_id)
                if d.responsible_user_id
                else (known[0].responsible_user_id if known else None)
            ),
            root_order_id=known[0].root_order_id if known else None,
        )
        ref = await _save_order(tx, ref, d.to_status.value, event.sequence)
        kind = kind_for_status(d.to_status.value)
        facts = {
            "from_status": d.from_status.value if d.from_status else "",
            "to_status": d.to_status.value,
            "comment": d.comment,
            "by_side": d.by_side.value,
        }
        happening = Happening(
            kind=kind,
            order=ref,
            actor_user_id=str(d.by_user_id) if d.by_user_id else None,
            audience=audience_for(kind),
            facts=facts,
        )
        await self.deliver(tx, event.event_id, happening)

    async def order_changed(self, event: OrderChangedV1, tx: Tx) -> None:
        d = event.data
        known = await _load_order(tx.conn, str(d.order_id))
        if known is not None:
            ref, _status = known
        else:
            # A part split off an order: its order.placed travels on another topic and may arrive after
            # this event. The part inherits buyer and responsible from the order it was split from.
            parent = None
            for other in d.related_order_ids:
                parent = await _load_order(tx.conn, str(other))
                if parent is not None:
                    break
            if parent is None:
                raise UnknownReplica(f"unknown order {d.order_id}: no order.placed was seen for it")
            ref = replace(parent[0], order_id=str(d.order_id), number=d.number, root_order_id=parent[0].family)
        if d.kind == "responsible" and d.attributes.get("responsible_user_id"):
            ref = replace(ref, responsible_user_id=str(d.attributes["responsible_user_id"]))
        ref = await _save_order(tx, ref, d.status.value, event.sequence)
        kind = kind_for_change(d.kind, bool(d.line_changes))
        if kind is None:
            return
        related = []
        for other in d.related_order_ids:
            # A part's order.placed travels on another topic and may come later: name only the parts we know.
            found = await _load_order(tx.conn, str(other))
            if found:
                related.append(found[0].number)
        attrs = d.attributes
        facts: dict[str, Any] = {
            "to_status": d.status.value,
            "by_side": d.by_side.value,
            "comment": str(attrs.get("text") or attrs.get("comment") or attrs.get("body") or ""),
            "document": str(attrs.get("file_name") or attrs.get("filename") or attrs.get("name") or ""),
            "shipment_date": str(attrs.get("shipment_date") or attrs.get("new") or ""),
            "detail": str(attrs.get("detail") or attrs.get("reason") or attrs.get("message") or ""),
            "related_numbers": related,
            "currency": str(getattr(d, "currency", None) or attrs.get("currency") or DEFAULT_CURRENCY),
            "line_changes": [_line_change(c, d.number, related) for c in d.line_changes],
        }
        happening = Happening(
            kind=kind,
            order=ref,
            actor_user_id=str(d.by_user_id) if d.by_user_id else None,
            audience=audience_for(kind),
            facts=facts,
            changed_line_ids=tuple(dict.fromkeys(str(c.line_id) for c in d.line_changes)),
        )
        await self.deliver(tx, event.event_id, happening)

    async def password_reset_requested(self, event: UserPasswordResetRequestedV1, tx: Tx) -> None:
        """E-mail the reset link to the user who asked for it (no in-app notification: they are signed out)."""
        d = event.data
        context = self.password_reset_context(d)
        await self._queue_email(tx, event, d.user_id, d.email, d.locale, PASSWORD_RESET_KIND, context, utcnow())

    def password_reset_context(self, d: Any) -> dict[str, Any]:
        """What the reset e-mail's template may use; its one link opens the console's reset page."""
        return {
            "kind": PASSWORD_RESET_KIND,
            "locale": d.locale,
            "recipient_name": d.name,
            "reset_url": self.links.password_reset(d.token),
            "expires_at": moment(d.expires_at, d.locale),
        }

    async def buyer_invited(self, event: BuyerInvitedV1, tx: Tx) -> None:
        """E-mail a supplier's invitation to the buyer company's address. Nobody's account yet: no in-app copy,
        no preferences; the e-mail's recipient id is the invitation's."""
        d = event.data
        context = self.invitation_context(d)
        await self._queue_email(tx, event, d.invitation_id, d.email, d.locale, BUYER_INVITATION_KIND, context, utcnow())

    def invitation_context(self, d: Any) -> dict[str, Any]:
        """What the invitation e-mail's template may use; its one link opens the console's invitation page."""
        return {
            "kind": BUYER_INVITATION_KIND,
            "locale": d.locale,
            "supplier_name": d.supplier_name,
            "buyer_name": d.buyer_name,
            "invited_by_name": d.invited_by_name,
            "invitation_url": self.links.invitation(d.token),
            "expires_at": d.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }

    async def employee_invited(self, event: EmployeeInvitedV1, tx: Tx) -> None:
        """E-mail an invitation to join an account as its employee (no in-app copy: nobody's user yet)."""
        d = event.data
        context = self.employee_invitation_context(d)
        await self._queue_email(
            tx, event, d.invitation_id, d.email, d.locale, EMPLOYEE_INVITATION_KIND, context, utcnow()
        )

    def employee_invitation_context(self, d: Any) -> dict[str, Any]:
        """What the employee invitation's template may use; its one link opens the console's page to join."""
        return {
            "kind": EMPLOYEE_INVITATION_KIND,
            "locale": d.locale,
            "account_name": d.account_name,
            "recipient_name": d.name,
            "invited_by_name": d.invited_by_name,
            "invitation_url": self.links.employee_invitation(d.token),
            "expires_at": d.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
        }

    async def _queue_email(
        self,
        tx: Tx,
        event: Event,
        recipient_id: Any,
        address: str,
        locale: str,
        kind: str,
        context: dict[str, Any],
        now: datetime,
    ) -> None:
        """Queue an e-mail that belongs to no order (a password reset, an invitation): once per source event."""
        row = {
            "email_id": str(uuid.uuid4()),
            "notification_id": str(uuid.uuid4()),
            "user_id": str(recipient_id),
            "tenant_id": str(event.tenant_id),
            "to_address": address,
            "locale": normalize_locale(locale),
            "kind": kind,
            "order_id": "",
            "order_number": "",
            "context": json.dumps(context),
            "source_event_id": str(event.event_id),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_until": None,
            "last_error": "",
            "created_at": now,
            "sent_at": None,
        }
        await tx.conn.execute(insert_ignoring_duplicates(tx.conn, emails), [row])
        self.on_queued()

    async def deliver(self, tx: Tx, source_event_id: uuid.UUID, happening: Happening) -> None:
        """Create the in-app notification and the queued e-mail of every recipient."""
        conn = tx.conn
        order = happening.order
        supplier = (
            await conn.execute(sa.select(accounts.c.kind).where(accounts.c.account_id == order.tenant_id))
        ).first()
        if supplier is None:
            raise UnknownReplica(f"unknown supplier account {order.tenant_id}: no account.updated was seen for it")
        supplier_users = await _recipients_of(conn, order.tenant_id)
        if order.responsible_user_id and order.responsible_user_id not in {u.user_id for u in supplier_users}:
            raise UnknownReplica(f"unknown user {order.responsible_user_id} (responsible for order {order.number})")
        buyer_users: list[Recipient] = []
        if order.buyer_account_id and happening.audience != "supplier":
            known_buyer = await conn.scalar(
                sa.select(accounts.c.account_id).where(accounts.c.account_id == order.buyer_account_id)
            )
            if known_buyer is None:
                raise UnknownReplica(f"unknown buyer account {order.buyer_account_id}")
            buyer_users = await _recipients_of(conn, order.buyer_account_id)
        managers = list(
            await conn.scalars(sa.select(buyer_managers.c.user_id).where(buyer_managers.c.buyer_id == order.buyer_id))
        )
        chosen = recipients_for(
            happening, supplier_users=supplier_users, buyer_users=buyer_users, buyer_manager_ids=managers
        )
        if not chosen:
            return
        opted_out = await _email_opt_outs(conn, [u.user_id for u in chosen])
        now = utcnow()
        # Held for the window, so the mailer sends what else this action causes for the order with it.
        coalescing = self.coalesce_window_s > 0
        send_at = now + timedelta(seconds=self.coalesce_window_s) if coalescing else now
        source = str(source_event_id)
        in_app_rows = []
        email_rows = []
        for user in chosen:
            notification_id = str(uuid.uuid4())
            title, body = in_app_text(happening, user.locale)
            in_app_rows.append(
                {
                    "notification_id": notification_id,
                    "user_id": user.user_id,
                    "account_id": user.account_id,
                    "tenant_id": order.tenant_id,
                    "order_id": order.order_id,
                    "order_number": order.number,
                    "kind": happening.kind.value,
                    "title": title[:500],
                    "body": body,
                    "changed_line_ids": json.dumps(list(happening.changed_line_ids)),
                    "source_event_id": source,
                    "created_at": now,
                    "read_at": None,
                }
            )
            if not user.email or not email_wanted(happening.kind, opted_out.get(user.user_id, ())):
                continue
            email_rows.append(
                {
                    "email_id": str(uuid.uuid4()),
                    "notification_id": notification_id,
                    "user_id": user.user_id,
                    "tenant_id": order.tenant_id,
                    "to_address": user.email,
                    "locale": user.locale,
                    "kind": happening.kind.value,
                    "order_id": order.order_id,
                    "order_number": order.number,
                    "context": json.dumps(self._email_context(happening, user, title, body)),
                    "source_event_id": source,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": send_at,
                    "claimed_until": None,
                    "last_error": "",
                    "created_at": now,
                    "sent_at": None,
                    "group_key": f"order:{order.family}" if coalescing else None,
                }
            )
        await conn.execute(insert_ignoring_duplicates(conn, notifications), in_app_rows)
        if email_rows:
            await conn.execute(insert_ignoring_duplicates(conn, emails), email_rows)
            self.on_queued()

    def _email_context(self, happening: Happening, user: Recipient, title: str, body: str) -> dict[str, Any]:
        """Everything a template may use, fixed when the event arrived (later retries render the same)."""
        f = happening.facts
        locale = user.locale
        return {
            "kind": happening.kind.value,
            "locale": locale,
            "recipient_name": user.name,
            "order_id": happening.order.order_id,
            "order_number": happening.order.number,
            "buyer_name": happening.order.buyer_name,
            "order_url": self.links.order(happening.order.order_id),
            "unsubscribe_url": self.links.preferences(happening.kind.value),
            "title": title,
            "summary": body,
            "from_status": status_label(f.get("from_status"), locale),
            "to_status": status_label(f.get("to_status"), locale),
            "comment": f.get("comment", ""),
            "document": f.get("document", ""),
            "shipment_date": day(f.get("shipment_date"), locale),
            "desired_shipment_date": day(f.get("desired_shipment_date"), locale),
            "total": money(f.get("total"), locale, f.get("currency")) if f.get("total") not in (None, "") else "",
            "line_count": f.get("line_count", 0),
            "detail": f.get("detail", ""),
            "related_numbers": list(f.get("related_numbers", [])),
            "line_changes": [
                {
                    **c,
                    "old": line_value(str(c.get("field", "")), c.get("old"), locale, f.get("currency")),
                    "new": line_value(str(c.get("field", "")), c.get("new"), locale, f.get("currency")),
                }
                for c in f.get("line_changes", [])
            ],
            "field_labels": dict(FIELD_LABELS[normalize_locale(locale)]),
        }


async def _recipients_of(conn: AsyncConnection, account_id: str) -> list[Recipient]:
    rows = await conn.execute(sa.select(users).where(users.c.account_id == account_id).order_by(users.c.user_id))
    return [
        Recipient(
            user_id=r.user_id,
            account_id=r.account_id,
            email=r.email,
            name=r.name,
            locale=r.locale,
            is_owner=r.is_owner,
            active=r.active,
            access_orders=r.access_orders,
            restricted=r.restricted,
        )
        for r in rows
    ]


async def _email_opt_outs(conn: AsyncConnection, user_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = await conn.execute(
        sa.select(preferences.c.user_id, preferences.c.kind).where(
            preferences.c.user_id.in_(list(user_ids)),
            preferences.c.channel == Channel.EMAIL.value,
            preferences.c.enabled.is_(False),
        )
    )
    found: dict[str, list[str]] = {}
    for user_id, kind in rows:
        found.setdefault(user_id, []).append(kind)
    return found
