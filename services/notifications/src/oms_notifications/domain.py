"""Who hears of an order event, what they are told, and when a failed e-mail is tried again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from oms_notifications.formatting import day, line_value, money


class Kind(StrEnum):
    """Kinds of notification (R-NT-3); users opt out of e-mail per kind."""

    NEW_ORDER = "new_order"
    STATUS_CHANGED = "status_changed"
    REJECTED = "rejected"
    COMMENT = "comment"
    DOCUMENT = "document"
    SHIPMENT_DATE = "shipment_date"
    LINES_MOVED = "lines_moved"
    LINES_EDITED = "lines_edited"
    OVERDUE = "overdue"
    ERP_CONFLICT = "erp_conflict"


class Audience(StrEnum):
    SUPPLIER = "supplier"
    BUYER = "buyer"
    BOTH = "both"


class Channel(StrEnum):
    IN_APP = "in_app"
    EMAIL = "email"


LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"

# order.changed kinds → notification kind; kinds not listed (payment, responsible, ...) notify no one.
CHANGE_KINDS: dict[str, Kind] = {
    "comment": Kind.COMMENT,
    "document": Kind.DOCUMENT,
    "shipment_date": Kind.SHIPMENT_DATE,
    "split": Kind.LINES_MOVED,
    "lines_moved": Kind.LINES_MOVED,
    "lines_copied": Kind.LINES_MOVED,
    "lines_edited": Kind.LINES_EDITED,
    "overdue": Kind.OVERDUE,
    "erp_conflict": Kind.ERP_CONFLICT,
}

# Overdue and ERP conflicts are the supplier's internal business (R-ST-4: "its responsible people").
SUPPLIER_ONLY = {Kind.OVERDUE, Kind.ERP_CONFLICT}

STATUS_LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "new": "Новый",
        "editing": "Редактируется",
        "awaiting_approval": "На согласовании",
        "agreed": "Согласован",
        "confirmed": "Подтверждён",
        "shipped": "Отгружен",
        "rejected": "Отклонён",
        "cancelled": "Отменён",
    },
    "en": {
        "new": "New",
        "editing": "Editing",
        "awaiting_approval": "Awaiting approval",
        "agreed": "Agreed",
        "confirmed": "Confirmed",
        "shipped": "Shipped",
        "rejected": "Rejected",
        "cancelled": "Cancelled",
    },
}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "quantity": "количество",
        "price": "цена",
        "vat_rate": "НДС",
        "added": "добавлена",
        "deleted": "удалена",
        "moved": "перенесена",
        "copied": "скопирована",
        "cancelled": "отменено",
    },
    "en": {
        "quantity": "quantity",
        "price": "price",
        "vat_rate": "VAT",
        "added": "added",
        "deleted": "deleted",
        "moved": "moved",
        "copied": "copied",
        "cancelled": "cancelled",
    },
}


def normalize_locale(locale: str | None) -> str:
    """'en-US' → 'en'; anything we have no templates for falls back to Russian, the product's language."""
    short = (locale or "").split("-")[0].split("_")[0].lower()
    return short if short in LOCALES else DEFAULT_LOCALE


def status_label(status: str | None, locale: str) -> str:
    if not status:
        return ""
    return STATUS_LABELS[normalize_locale(locale)].get(status, status)


def field_label(name: str, locale: str) -> str:
    return FIELD_LABELS[normalize_locale(locale)].get(name, name)


@dataclass(frozen=True)
class Recipient:
    """A user as the replica knows them."""

    user_id: str
    account_id: str
    email: str
    name: str = ""
    locale: str = DEFAULT_LOCALE
    is_owner: bool = False
    active: bool = True
    access_orders: str = "none"
    restricted: bool = False


@dataclass(frozen=True)
class OrderRef:
    tenant_id: str
    order_id: str
    number: str
    buyer_id: str
    buyer_account_id: str | None = None
    buyer_name: str = ""
    responsible_user_id: str | None = None
    # The order its parts were split from (this order's own id when it is no part); None when not known.
    root_order_id: str | None = None

    @property
    def family(self) -> str:
        """The order and its parts, as one key: what happens to them within a moment is told in one e-mail."""
        return self.root_order_id or self.order_id


@dataclass(frozen=True)
class Happening:
    """Something that happened to an order and that people must hear of."""

    kind: Kind
    order: OrderRef
    actor_user_id: str | None
    audience: Audience
    facts: Mapping[str, Any] = field(default_factory=dict)
    changed_line_ids: tuple[str, ...] = ()


def kind_for_status(to_status: str) -> Kind:
    """A rejection is its own kind: the buyer sees it as a red badge (R-ST-5)."""
    return Kind.REJECTED if to_status == "rejected" else Kind.STATUS_CHANGED


def kind_for_change(change_kind: str, has_line_changes: bool) -> Kind | None:
    """The notification kind of an ``order.changed`` kind, or None when nobody is notified."""
    if change_kind == "erp_applied":
        # Lines changed in the ERP are line edits for the people involved.
        return Kind.LINES_EDITED if has_line_changes else None
    return CHANGE_KINDS.get(change_kind)


def audience_for(kind: Kind, placed_by_side: str = "buyer") -> Audience:
    if kind in SUPPLIER_ONLY:
        return Audience.SUPPLIER
    if kind is Kind.NEW_ORDER:
        # A buyer's own order goes to the supplier; an order the supplier made for the buyer goes to both.
        return Audience.SUPPLIER if placed_by_side == "buyer" else Audience.BOTH
    return Audience.BOTH


def supplier_recipients(
    users: Iterable[Recipient],
    *,
    responsible_user_id: str | None,
    buyer_manager_ids: Iterable[str],
) -> list[Recipient]:
    """R-NT-1 supplier side: owner, full access to orders, the order's responsible and the buyer's managers.

    A manager restricted to their own buyers hears only of orders of those buyers (or orders they
    are responsible for), whatever their access level.
    """
    managers = set(buyer_manager_ids)
    chosen: list[Recipient] = []
    for user in users:
        if not user.active:
            continue
        involved = user.user_id == responsible_user_id or user.user_id in managers
        if user.restricted and not user.is_owner:
            if involved:
                chosen.append(user)
            continue
        if user.is_owner or user.access_orders == "full" or involved:
            chosen.append(user)
    return chosen


def buyer_recipients(users: Iterable[Recipient]) -> list[Recipient]:
    """R-NT-1 buyer side: every active user of the buyer's account."""
    return [u for u in users if u.active]


def recipients_for(
    happening: Happening,
    *,
    supplier_users: Iterable[Recipient],
    buyer_users: Iterable[Recipient],
    buyer_manager_ids: Iterable[str],
) -> list[Recipient]:
    """Everyone who must hear of ``happening``, once each, never the person who did it."""
    found: list[Recipient] = []
    if happening.audience in (Audience.SUPPLIER, Audience.BOTH):
        found += supplier_recipients(
            supplier_users,
            responsible_user_id=happening.order.responsible_user_id,
            buyer_manager_ids=buyer_manager_ids,
        )
    if happening.audience in (Audience.BUYER, Audience.BOTH):
        found += buyer_recipients(buyer_users)
    seen: set[str] = set()
    result: list[Recipient] = []
    for user in found:
        if user.user_id in seen or user.user_id == happening.actor_user_id:
            continue
        seen.add(user.user_id)
        result.append(user)
    return result


def email_wanted(kind: Kind, opted_out: Iterable[str]) -> bool:
    """E-mail is on by default; a user turns it off per kind."""
    return kind.value not in set(opted_out)


def _line_summary(facts: Mapping[str, Any], locale: str) -> str:
    parts = []
    for change in facts.get("line_changes", []):
        name = str(change.get("field", ""))
        label = field_label(name, locale)
        currency = facts.get("currency")
        old = line_value(name, change.get("old"), locale, currency)
        new = line_value(name, change.get("new"), locale, currency)
        values = f" {old} → {new}" if old is not None or new is not None else ""
        product = " ".join(str(x) for x in (change.get("sku") or change.get("line_id", ""), change.get("name")) if x)
        parts.append(f"{product}: {label}{values}")
    return "; ".join(parts)


def in_app_text(happening: Happening, locale: str) -> tuple[str, str]:
    """Title and body of the in-app notification in the user's language."""
    loc = normalize_locale(locale)
    f = happening.facts
    n = happening.order.number
    buyer = happening.order.buyer_name
    ru = loc == "ru"
    to_label = status_label(f.get("to_status"), loc)
    from_label = status_label(f.get("from_status"), loc)
    k = happening.kind
    total = money(f.get("total"), loc, f.get("currency"))
    if k is Kind.NEW_ORDER:
        title = f"Новый заказ № {n}" if ru else f"New order No. {n}"
        body = f"Покупатель: {buyer}. Сумма: {total}" if ru else f"Buyer: {buyer}. Total: {total}"
    elif k is Kind.STATUS_CHANGED:
        title = f"Заказ № {n}: статус «{to_label}»" if ru else f'Order No. {n}: status "{to_label}"'
        body = f"{from_label} → {to_label}" if from_label else to_label
    elif k is Kind.REJECTED:
        title = f"Заказ № {n} отклонён" if ru else f"Order No. {n} was rejected"
        body = f.get("comment") or ("Поставщик не принял заказ" if ru else "The supplier did not accept the order")
    elif k is Kind.COMMENT:
        title = f"Новый комментарий к заказу № {n}" if ru else f"New comment on order No. {n}"
        body = str(f.get("comment", ""))
    elif k is Kind.DOCUMENT:
        title = f"Новый документ в заказе № {n}" if ru else f"New document in order No. {n}"
        body = str(f.get("document", ""))
    elif k is Kind.SHIPMENT_DATE:
        title = f"Дата отгрузки заказа № {n}" if ru else f"Shipment date of order No. {n}"
        date = day(f.get("shipment_date"), loc) or ("не указана" if ru else "cleared")
        body = f"Дата отгрузки: {date}" if ru else f"Shipment date: {date}"
    elif k is Kind.LINES_MOVED:
        title = (
            f"Товары перенесены в другую часть заказа № {n}" if ru else f"Lines moved to another part of order No. {n}"
        )
        # Which lines went from which part to which; the parts alone when the event names no lines.
        parts = ", ".join(f.get("related_numbers", []))
        body = _line_summary(f, loc) or ((f"Части заказа: {parts}" if ru else f"Order parts: {parts}") if parts else "")
    elif k is Kind.LINES_EDITED:
        title = f"Изменены позиции заказа № {n}" if ru else f"Lines of order No. {n} changed"
        body = _line_summary(f, loc)
    elif k is Kind.OVERDUE:
        title = f"Заказ № {n} просрочен" if ru else f"Order No. {n} is overdue"
        body = f"В статусе «{to_label}» дольше срока" if ru else f'Past the time limit in status "{to_label}"'
    else:
        title = f"Конфликт с учётной системой по заказу № {n}" if ru else f"ERP conflict on order No. {n}"
        body = str(f.get("detail", ""))
    return title, body


def retry_delay_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff: base, 2·base, 4·base, ... capped (the cap bounds how late mail arrives after an outage)."""
    return float(min(cap_s, base_s * (2 ** min(max(0, attempts - 1), 60))))


def is_permanent_smtp_code(code: int | None) -> bool:
    """5xx replies will not change on retry (e.g. 550 unknown mailbox); 4xx and network errors may."""
    return code is not None and 500 <= code < 600


def next_email_state(permanent: bool) -> str:
    """After a failed attempt: 'failed' for good only when retrying cannot help (R-NT-4: a mail server that is down
    or answers 4xx is retried, however long it takes); otherwise 'pending' to try again."""
    return "failed" if permanent else "pending"
