"""The buyer invitation e-mail exists in Russian and English and carries the invitation link, escaped in HTML."""

from __future__ import annotations

import pytest

from oms_notifications.handlers import BUYER_INVITATION_KIND, Links
from oms_notifications.mailer import PACKAGED_TEMPLATES, Renderer


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("ru", "ООО «Рога & Копыта» приглашает ИП <Петров> заказывать в OMS"),
        ("en", "ООО «Рога & Копыта» invites ИП <Петров> to order in OMS"),
    ],
)
def test_the_invitation_e_mail_carries_its_one_time_link(locale: str, subject: str) -> None:
    """R-IN-2: the link points at the web UI's /invitation page with the token, in the chosen language; names
    are plain in the subject and text and escaped in HTML."""
    url = Links("https://oms.example.com/").invitation("abc-_123&x")
    assert url == "https://oms.example.com/invitation?token=abc-_123%26x"
    context = {
        "supplier_name": "ООО «Рога & Копыта»",
        "buyer_name": "ИП <Петров>",
        "invited_by_name": "Анна",
        "invitation_url": url,
        "expires_at": "2026-12-10 15:00 UTC",
    }
    rendered = Renderer(PACKAGED_TEMPLATES).render(BUYER_INVITATION_KIND, locale, context)
    assert rendered.subject == subject
    assert url in rendered.text and "2026-12-10 15:00 UTC" in rendered.text and "(Анна)" in rendered.text
    assert 'href="https://oms.example.com/invitation?token=abc-_123%26x"' in rendered.html
    assert "ИП &lt;Петров&gt;" in rendered.html and "Рога &amp; Копыта" in rendered.html
