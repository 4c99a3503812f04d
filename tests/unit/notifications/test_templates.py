"""Every notification kind has an e-mail in Russian and English: subject, plain text and HTML with the order link."""

from __future__ import annotations

from typing import Any

import pytest

from oms_notifications.domain import FIELD_LABELS, LOCALES, Kind
from oms_notifications.mailer import PACKAGED_TEMPLATES, Renderer, TemplateFailure


def a_context(locale: str, **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "x",
        "locale": locale,
        "recipient_name": "Анна",
        "order_id": "o-1",
        "order_number": "1024",
        "buyer_name": "ООО <Ромашка> & Co",
        "order_url": "http://oms.test/orders/o-1",
        "unsubscribe_url": "http://oms.test/settings/notifications",
        "title": "t",
        "summary": "s",
        "from_status": "Новый",
        "to_status": "Подтверждён",
        "comment": "<b>срочно</b>",
        "document": "invoice.pdf",
        "shipment_date": "2026-12-01",
        "desired_shipment_date": "",
        "total": "30.00",
        "line_count": 2,
        "detail": "",
        "related_numbers": ["1024-2"],
        "line_changes": [{"line_id": "l1", "sku": "SKU-1", "field": "quantity", "old": "10", "new": "7"}],
        "field_labels": FIELD_LABELS[locale],
    }
    values.update(over)
    return values


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", list(Kind))
def test_each_kind_renders_subject_text_and_html_with_the_order_link(kind: Kind, locale: str) -> None:
    """R-NT-2 / R-NT-3: per-kind templates in both languages, with a link to the order."""
    rendered = Renderer(PACKAGED_TEMPLATES).render(kind.value, locale, a_context(locale))
    assert "1024" in rendered.subject and "\n" not in rendered.subject
    assert "http://oms.test/orders/o-1" in rendered.text
    assert 'href="http://oms.test/orders/o-1"' in rendered.html
    assert "<Ромашка>" not in rendered.html  # values are escaped in HTML
    assert "&lt;b&gt;" not in rendered.text  # ... and not in plain text


def test_line_edits_show_old_and_new_values_in_the_users_language() -> None:
    """R-ED-3: the buyer sees exactly which lines changed and how."""
    rendered = Renderer(PACKAGED_TEMPLATES).render("lines_edited", "ru", a_context("ru"))
    assert "SKU-1: количество 10 → 7" in rendered.text


def test_a_missing_template_is_a_template_failure_with_the_reason() -> None:
    """Issue 5: a template error is kept as failed with the reason (the sender records this message)."""
    with pytest.raises(TemplateFailure, match=r"de/comment\.j2"):
        Renderer(PACKAGED_TEMPLATES).render("comment", "de", a_context("ru"))
    with pytest.raises(TemplateFailure, match="order_number"):
        Renderer(PACKAGED_TEMPLATES).render(
            "comment", "ru", {k: v for k, v in a_context("ru").items() if k != "order_number"}
        )
