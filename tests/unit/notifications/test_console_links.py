"""Every link of every e-mail opens a page of the web console, at the address OMS_CONSOLE_PUBLIC_URL names."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from types import SimpleNamespace
from typing import Any

import pytest

from oms_notifications.domain import LOCALES, Happening, Kind, OrderRef, Recipient, audience_for
from oms_notifications.handlers import Links, Notifier
from oms_notifications.mailer import PACKAGED_TEMPLATES, Prepared, Rendered, Renderer, build_message, message_bytes
from oms_notifications.settings import Settings

CONSOLE = "https://oms.example.com"
URL = re.compile(r"""https?://[^\s"'<>]+""")
ORDER_ID = str(uuid.uuid4())


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OMS_CONSOLE_PUBLIC_URL", CONSOLE)
    monkeypatch.setenv("OMS_NOTIFICATIONS_PUBLIC_BASE_URL", "http://old-name.example")
    return Settings()


def links_of(rendered: Rendered, message: Message) -> list[str]:
    """Every URL of the e-mail: in the plain text, in the HTML (hrefs and text) and in its headers."""
    headers = " ".join(str(v) for _, v in message.items())
    found = URL.findall(rendered.text) + URL.findall(rendered.html) + URL.findall(headers)
    found += re.findall(r'href="([^"]*)"', rendered.html)
    return found


def sent(row_kind: str, rendered: Rendered, settings: Settings, context: dict[str, Any]) -> Message:
    row = SimpleNamespace(email_id=str(uuid.uuid4()), to_address="anna@buyer.example", order_id=ORDER_ID, kind=row_kind)
    return message_from_bytes(message_bytes(build_message(row, rendered, settings, context)))


def order_context(notifier: Notifier, kind: Kind, locale: str) -> dict[str, Any]:
    order = OrderRef(tenant_id="t", order_id=ORDER_ID, number="1024", buyer_id="b", buyer_name="ООО «Ромашка»")
    facts = {
        "from_status": "new",
        "to_status": "confirmed",
        "comment": "Можно быстрее?",
        "document": "invoice.pdf",
        "shipment_date": "2026-12-01",
        "total": "30",
        "currency": "RUB",
        "line_count": 1,
        "related_numbers": ["1024-2"],
        "line_changes": [{"line_id": "l1", "sku": "SKU-1", "field": "quantity", "old": "10", "new": "7"}],
    }
    happening = Happening(kind, order, None, audience_for(kind), facts, ("l1",))
    user = Recipient(user_id="u", account_id="a", email="anna@buyer.example", name="Анна", locale=locale)
    return json.loads(json.dumps(notifier._email_context(happening, user, "title", "body")))  # as stored


@pytest.mark.parametrize("locale", LOCALES)
def test_every_e_mail_links_only_to_the_console(settings: Settings, locale: str) -> None:
    """R-UI (served by the system itself: the links in its e-mails open it), R-NT-2: every kind of e-mail — each
    order notification, several coalesced into one, a password reset and a buyer invitation — links only to pages
    of the console at OMS_CONSOLE_PUBLIC_URL (which wins over the setting's former name), on its routes."""
    assert settings.links_base_url == CONSOLE
    notifier = Notifier(Links(settings.links_base_url))
    renderer = Renderer(PACKAGED_TEMPLATES)
    checked: dict[str, list[str]] = {}
    prepared = []
    for kind in Kind:
        context = order_context(notifier, kind, locale)
        rendered = renderer.render(kind.value, locale, context)
        checked[kind.value] = links_of(rendered, sent(kind.value, rendered, settings, context))
        assert f"{CONSOLE}/orders/{ORDER_ID}" in checked[kind.value]
        assert f"{CONSOLE}/settings/notifications?unsubscribe={kind.value}" in checked[kind.value]
        prepared.append(Prepared(SimpleNamespace(kind=kind.value), context, rendered))

    rendered, context = renderer.render_group(locale, prepared[:3])
    checked["digest"] = links_of(rendered, sent("digest", rendered, settings, context))
    assert f"{CONSOLE}/settings/notifications" in checked["digest"]

    expires = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    reset = notifier.password_reset_context(
        SimpleNamespace(locale=locale, name="Анна", token="reset token/1", expires_at=expires)
    )
    rendered = renderer.render("password_reset", locale, reset)
    checked["password_reset"] = links_of(rendered, sent("password_reset", rendered, settings, reset))
    assert f"{CONSOLE}/reset?token=reset+token%2F1" in checked["password_reset"]

    invitation = notifier.invitation_context(
        SimpleNamespace(
            locale=locale,
            supplier_name="Поставщик",
            buyer_name="Ромашка",
            invited_by_name="Иван",
            token="inv-1",
            expires_at=expires,
        )
    )
    rendered = renderer.render("buyer_invitation", locale, invitation)
    checked["buyer_invitation"] = links_of(rendered, sent("buyer_invitation", rendered, settings, invitation))
    assert f"{CONSOLE}/invitation?token=inv-1" in checked["buyer_invitation"]
    joining = notifier.employee_invitation_context(
        SimpleNamespace(
            locale=locale,
            account_name="Поставщик",
            name="Олег",
            invited_by_name="Иван",
            token="emp-1",
            expires_at=expires,
        )
    )
    rendered = renderer.render("employee_invitation", locale, joining)
    checked["employee_invitation"] = links_of(rendered, sent("employee_invitation", rendered, settings, joining))
    assert f"{CONSOLE}/join-team?token=emp-1" in checked["employee_invitation"]

    for kind, urls in checked.items():
        assert urls, kind
        strays = [u for u in urls if not u.startswith(f"{CONSOLE}/")]
        assert not strays, f"{kind} links elsewhere: {strays}"


def test_the_former_setting_name_still_sets_the_links_and_a_bad_url_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without OMS_CONSOLE_PUBLIC_URL the former OMS_NOTIFICATIONS_PUBLIC_BASE_URL decides; a URL that is not an
    absolute http(s) one stops the service at start with the reason, never a broken link in an e-mail."""
    monkeypatch.delenv("OMS_CONSOLE_PUBLIC_URL", raising=False)
    monkeypatch.setenv("OMS_NOTIFICATIONS_PUBLIC_BASE_URL", "https://old.example.com/")
    assert Settings().links_base_url == "https://old.example.com"
    monkeypatch.setenv("OMS_CONSOLE_PUBLIC_URL", "oms.example.com")
    with pytest.raises(ValueError, match="absolute http"):
        Settings()
