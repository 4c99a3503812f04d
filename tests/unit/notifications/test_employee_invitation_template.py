"""The employee invitation e-mail exists in Russian and English and carries its one-time link, escaped in HTML."""

from __future__ import annotations

import pytest

from oms_notifications.handlers import EMPLOYEE_INVITATION_KIND, Links
from oms_notifications.mailer import PACKAGED_TEMPLATES, Renderer


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("ru", "ООО «Рога & Копыта» приглашает вас работать в OMS"),
        ("en", "ООО «Рога & Копыта» invites you to work in OMS"),
    ],
)
def test_the_employee_invitation_e_mail_carries_its_one_time_link(locale: str, subject: str) -> None:
    """R-ACC-1: the link opens the console's page where the invited person sets a password, in their language."""
    url = Links("https://oms.example.com/").employee_invitation("abc-_123&x")
    assert url == "https://oms.example.com/join-team?token=abc-_123%26x"
    context = {
        "account_name": "ООО «Рога & Копыта»",
        "recipient_name": "Олег <Продажин>",
        "invited_by_name": "Анна",
        "invitation_url": url,
        "expires_at": "2026-12-10 15:00 UTC",
    }
    rendered = Renderer(PACKAGED_TEMPLATES).render(EMPLOYEE_INVITATION_KIND, locale, context)
    assert rendered.subject == subject
    assert url in rendered.text and "2026-12-10 15:00 UTC" in rendered.text and "(Анна)" in rendered.text
    assert 'href="https://oms.example.com/join-team?token=abc-_123%26x"' in rendered.html
    assert "Олег &lt;Продажин&gt;" in rendered.html and "Рога &amp; Копыта" in rendered.html
