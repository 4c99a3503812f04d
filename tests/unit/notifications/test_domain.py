"""Who is told of an order event, what they read, and how a failed e-mail is retried (pure domain)."""

from __future__ import annotations

from typing import Any

from oms_notifications.domain import (
    Audience,
    Happening,
    Kind,
    OrderRef,
    Recipient,
    audience_for,
    email_wanted,
    in_app_text,
    is_permanent_smtp_code,
    kind_for_change,
    kind_for_status,
    next_email_state,
    normalize_locale,
    recipients_for,
    retry_delay_s,
)
from oms_notifications.settings import Settings

SUPPLIER = "s-1"
BUYER_ACCOUNT = "b-acc"


def a_user(user_id: str, account_id: str = SUPPLIER, **kw: Any) -> Recipient:
    return Recipient(user_id=user_id, account_id=account_id, email=f"{user_id}@x.test", **kw)


STAFF = [
    a_user("owner", is_owner=True),
    a_user("full", access_orders="full"),
    a_user("reader", access_orders="read"),
    a_user("changer", access_orders="change"),
    a_user("own-manager", access_orders="change", restricted=True),
    a_user("other-manager", access_orders="full", restricted=True),
    a_user("gone", access_orders="full", active=False),
]
BUYERS = [
    a_user("buyer-1", BUYER_ACCOUNT),
    a_user("buyer-2", BUYER_ACCOUNT),
    a_user("buyer-x", BUYER_ACCOUNT, active=False),
]


def an_order(**kw: Any) -> OrderRef:
    values: dict[str, Any] = {"tenant_id": SUPPLIER, "order_id": "o-1", "number": "1024", "buyer_id": "buyer-rec"}
    values.update(kw)
    return OrderRef(**values)


def happening(kind: Kind, actor: str | None = None, audience: Audience | None = None, **kw: Any) -> Happening:
    return Happening(
        kind=kind, order=kw.pop("order", an_order()), actor_user_id=actor, audience=audience or audience_for(kind), **kw
    )


def told(h: Happening, managers: tuple[str, ...] = ("own-manager",)) -> set[str]:
    return {u.user_id for u in recipients_for(h, supplier_users=STAFF, buyer_users=BUYERS, buyer_manager_ids=managers)}


def test_new_order_goes_to_owner_full_access_and_the_buyers_manager() -> None:
    """R-NT-1: owner, full access to orders, the buyer's responsible manager; not read/change-only staff."""
    assert told(happening(Kind.NEW_ORDER, actor="buyer-1")) == {"owner", "full", "own-manager"}


def test_restricted_manager_never_hears_of_another_buyers_order_even_with_full_access() -> None:
    """R-NT-1 / R-ACC-3: a manager restricted to own buyers hears only of their buyers' orders."""
    assert "other-manager" not in told(happening(Kind.NEW_ORDER))
    assert "other-manager" in told(happening(Kind.NEW_ORDER), managers=("other-manager",))


def test_the_orders_responsible_employee_is_told_even_without_full_access() -> None:
    """R-NT-1 / R-PF-3: the employee responsible for the order hears of it."""
    h = happening(Kind.COMMENT, order=an_order(responsible_user_id="changer"))
    assert "changer" in told(h)


def test_status_change_reaches_both_sides_but_never_the_person_who_made_it() -> None:
    """R-NT-1: the buyer's active users and the supplier's people, minus the actor."""
    h = happening(kind_for_status("confirmed"), actor="own-manager")
    assert told(h) == {"owner", "full", "buyer-1", "buyer-2"}


def test_buyer_placed_order_is_not_announced_to_the_buyer_but_a_supplier_made_one_is() -> None:
    """Guide: the buyer is told of an order the supplier created for it; the supplier of the buyer's order."""
    assert audience_for(Kind.NEW_ORDER, "buyer") is Audience.SUPPLIER
    assert audience_for(Kind.NEW_ORDER, "supplier") is Audience.BOTH


def test_overdue_and_erp_conflict_stay_on_the_supplier_side() -> None:
    """R-ST-4: overdue orders notify the responsible people of the supplier."""
    assert told(happening(Kind.OVERDUE)) == {"owner", "full", "own-manager"}
    assert told(happening(Kind.ERP_CONFLICT)) == {"owner", "full", "own-manager"}


def test_every_r_nt_3_event_has_a_kind() -> None:
    """R-NT-3: new order, status change, rejection, comment, document, shipment date, moved lines, line edits,
    overdue, ERP conflict."""
    assert kind_for_status("rejected") is Kind.REJECTED
    assert kind_for_status("shipped") is Kind.STATUS_CHANGED
    assert kind_for_change("comment", False) is Kind.COMMENT
    assert kind_for_change("document", False) is Kind.DOCUMENT
    assert kind_for_change("shipment_date", False) is Kind.SHIPMENT_DATE
    assert kind_for_change("lines_moved", True) is Kind.LINES_MOVED
    assert kind_for_change("split", True) is Kind.LINES_MOVED
    assert kind_for_change("lines_edited", True) is Kind.LINES_EDITED
    assert kind_for_change("erp_applied", True) is Kind.LINES_EDITED
    assert kind_for_change("erp_applied", False) is None
    assert kind_for_change("overdue", False) is Kind.OVERDUE
    assert kind_for_change("erp_conflict", False) is Kind.ERP_CONFLICT
    assert kind_for_change("payment", False) is None


def test_in_app_text_speaks_the_users_language_and_names_the_order() -> None:
    """R-NT-2: Russian and English per user."""
    h = happening(Kind.REJECTED, facts={"to_status": "rejected", "comment": "нет на складе"})
    ru_title, ru_body = in_app_text(h, "ru")
    en_title, _ = in_app_text(h, "en-GB")
    assert ru_title == "Заказ № 1024 отклонён" and ru_body == "нет на складе"
    assert en_title == "Order No. 1024 was rejected"


def test_line_edits_list_what_changed_per_line() -> None:
    """R-ED-3 / R-NT-2: per-line detail of quantity, price and VAT edits."""
    facts = {"line_changes": [{"line_id": "l1", "sku": "SKU-1", "field": "quantity", "old": "5", "new": "3"}]}
    _, body = in_app_text(happening(Kind.LINES_EDITED, facts=facts), "ru")
    assert body == "SKU-1: количество 5 → 3"


def test_unknown_locale_falls_back_to_russian() -> None:
    assert normalize_locale("de") == "ru"
    assert normalize_locale("EN_us") == "en"
    assert normalize_locale(None) == "ru"


def test_email_opt_out_is_per_kind() -> None:
    """a user's opt-out of e-mail per event kind."""
    assert email_wanted(Kind.COMMENT, ["document"])
    assert not email_wanted(Kind.COMMENT, ["comment"])


def test_failed_e_mails_back_off_exponentially_and_are_never_given_up_on_for_a_transient_error() -> None:
    """R-NT-4: retried with exponential backoff, capped; a transient error (server down, 4xx) never fails an
    e-mail however many attempts it took; only a permanent refusal does."""
    assert [retry_delay_s(n, 1.0, 30.0) for n in (1, 2, 3, 4, 5, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert retry_delay_s(10_000, 2.0, 600.0) == 600.0
    assert next_email_state(permanent=False) == "pending"
    assert next_email_state(permanent=True) == "failed"


def test_with_the_default_settings_an_hour_long_outage_is_retried_and_delivered_soon_after() -> None:
    """R-NT-4: an SMTP server down for an hour: the e-mail keeps being retried all through it (no final failure),
    and the first attempt after the server is back comes at most ``email_retry_max_s`` (10 minutes) later."""
    s = Settings()
    elapsed, attempts = 0.0, 0
    while elapsed < 3600:
        attempts += 1
        assert next_email_state(permanent=False) == "pending"
        elapsed += retry_delay_s(attempts, s.email_retry_base_s, s.email_retry_max_s)
    assert elapsed - 3600 <= s.email_retry_max_s == 600
    assert attempts < 20  # backing off: a few attempts an hour, not one a second


def test_only_5xx_smtp_replies_are_permanent() -> None:
    assert is_permanent_smtp_code(550)
    assert not is_permanent_smtp_code(451)
    assert not is_permanent_smtp_code(None)
