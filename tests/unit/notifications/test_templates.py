"""Every notification kind has an e-mail in Russian and English: subject, plain text and HTML with the order link."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from oms_notifications.domain import FIELD_LABELS, LOCALES, Kind
from oms_notifications.mailer import PACKAGED_TEMPLATES, Prepared, Renderer, TemplateFailure


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
    """a template error is kept as failed with the reason (the sender records this message)."""
    with pytest.raises(TemplateFailure, match=r"de/comment\.j2"):
        Renderer(PACKAGED_TEMPLATES).render("comment", "de", a_context("ru"))
    with pytest.raises(TemplateFailure, match="order_number"):
        Renderer(PACKAGED_TEMPLATES).render(
            "comment", "ru", {k: v for k, v in a_context("ru").items() if k != "order_number"}
        )


def _prepared(kind: str, locale: str, **over: Any) -> Prepared:
    context = a_context(locale, **over)
    row = SimpleNamespace(kind=kind, email_id=kind, locale=locale)
    return Prepared(row, context, Renderer(PACKAGED_TEMPLATES).render(kind, locale, context))


def test_coalesced_e_mails_show_each_subject_and_body_once_escaped_once() -> None:
    """R-NT-2: an edit's two e-mails as one: both subjects in the subject, both bodies, HTML escaped exactly once;
    a move told by the order and by its part (the same lines) is told once."""
    renderer = Renderer(PACKAGED_TEMPLATES)
    edited = _prepared(
        "lines_edited", "ru", line_changes=[{"line_id": "l", "sku": "<SKU>", "field": "quantity", "old": 4, "new": 3}]
    )
    status = _prepared("status_changed", "ru", to_status="Редактируется", from_status="Подтверждён")
    rendered, _context = renderer.render_group("ru", [edited, status])
    assert rendered.subject == "Изменения в заказе № 1024; Заказ № 1024: статус «Редактируется»"
    assert "- <SKU>: количество 4 → 3" in rendered.text and "Подтверждён → Редактируется" in rendered.text
    assert "<table" in rendered.html and "<td>&lt;SKU&gt;</td>" in rendered.html and "&amp;lt;" not in rendered.html
    assert "Отключить" not in rendered.text and "http://oms.test/settings/notifications" in rendered.text

    move = [{"line_id": "l", "sku": "SKU-1", "field": "moved", "old": "№ 1024", "new": "№ 1024-2"}]
    on_order = _prepared("lines_moved", "en", line_changes=move)
    on_part = _prepared("lines_moved", "en", line_changes=move, order_number="1024-2")
    rendered, _context = renderer.render_group("en", [on_order, on_part])
    assert rendered == on_order.rendered
