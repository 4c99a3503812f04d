"""The password reset e-mail exists in Russian and English and carries the reset link, escaped in HTML."""

from __future__ import annotations

import pytest

from oms_notifications.handlers import PASSWORD_RESET_KIND, Links
from oms_notifications.mailer import PACKAGED_TEMPLATES, Renderer


@pytest.mark.parametrize(("locale", "subject"), [("ru", "Сброс пароля OMS"), ("en", "Reset your OMS password")])
def test_the_reset_e_mail_carries_its_one_time_link(locale: str, subject: str) -> None:
    """R-ACC-1: the reset link points at the web UI's /reset page with the token, in the user's language."""
    url = Links("https://oms.example.com/").password_reset("abc-_123&x")
    assert url == "https://oms.example.com/reset?token=abc-_123%26x"
    context = {"recipient_name": "Анна <A>", "reset_url": url, "expires_at": "2026-12-03 15:00 UTC"}
    rendered = Renderer(PACKAGED_TEMPLATES).render(PASSWORD_RESET_KIND, locale, context)
    assert rendered.subject == subject
    assert url in rendered.text and "2026-12-03 15:00 UTC" in rendered.text
    assert 'href="https://oms.example.com/reset?token=abc-_123%26x"' in rendered.html
    assert "Анна &lt;A&gt;" in rendered.html
