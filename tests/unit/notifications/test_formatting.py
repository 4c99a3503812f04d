"""Amounts and dates in notifications and e-mails are written as the reader's language writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from oms_notifications.domain import Happening, Kind, Recipient, in_app_text
from oms_notifications.formatting import day, moment, money
from oms_notifications.handlers import Links, Notifier
from oms_notifications.mailer import PACKAGED_TEMPLATES, Renderer
from tests.unit.notifications.test_domain import a_user, happening

NBSP = "\u00a0"


def plain(text: str) -> str:
    """Non-breaking spaces as ordinary ones (what a reader sees)."""
    return text.replace(NBSP, " ").replace("\u202f", " ")


def test_money_dates_and_moments_in_russian_and_english() -> None:
    """R-NT-2: "520,00 ₽" and "22.12.2026" for a Russian reader; "RUB 520.00" and "Dec 22, 2026" for an English one;
    grouped thousands; another currency keeps its sign or code."""
    assert plain(money("520.0000", "ru")) == "520,00 ₽"
    assert plain(money("148179.0700", "ru")) == "148 179,07 ₽"
    assert plain(money("520.0000", "en")) == "RUB 520.00"
    assert plain(money("148179.07", "en-US")) == "RUB 148,179.07"
    assert plain(money("5", "ru", "EUR")) == "5,00 €"
    assert day("2026-12-22", "ru") == "22.12.2026"
    assert day("2026-12-22", "en") == "Dec 22, 2026"
    assert day("", "ru") == "" and day("soon", "ru") == "soon"
    assert moment(datetime(2026, 12, 3, 15, 0, tzinfo=UTC), "ru") == "03.12.2026 15:00 UTC"
    assert plain(moment(datetime(2026, 12, 3, 15, 0, tzinfo=UTC), "en")) == "Dec 3, 2026, 3:00 PM UTC"


def _new_order(**facts: Any) -> Happening:
    return happening(
        Kind.NEW_ORDER, facts={"total": "520.0000", "desired_shipment_date": "2026-12-22", "line_count": 2, **facts}
    )


def test_in_app_notifications_show_formatted_totals_and_dates() -> None:
    """R-NT-2: the in-app text of a new order and of a shipment date speaks the reader's formats, not raw values."""
    assert plain(in_app_text(_new_order(), "ru")[1]).endswith("Сумма: 520,00 ₽")
    assert plain(in_app_text(_new_order(), "en")[1]).endswith("Total: RUB 520.00")
    date = happening(Kind.SHIPMENT_DATE, facts={"shipment_date": "2026-12-22"})
    assert in_app_text(date, "ru")[1] == "Дата отгрузки: 22.12.2026"
    assert in_app_text(date, "en")[1] == "Shipment date: Dec 22, 2026"
    edit = happening(
        Kind.LINES_EDITED,
        facts={"line_changes": [{"line_id": "l1", "sku": "SKU-1", "field": "price", "old": "2.5000", "new": "3"}]},
    )
    assert plain(in_app_text(edit, "ru")[1]) == "SKU-1: цена 2,50 ₽ → 3,00 ₽"


def _email(h: Happening, user: Recipient, kind: str) -> tuple[str, str, str]:
    title, body = in_app_text(h, user.locale)
    context = Notifier(Links("http://oms.test"))._email_context(h, user, title, body)
    rendered = Renderer(PACKAGED_TEMPLATES).render(kind, user.locale, context)
    return plain(rendered.subject), plain(rendered.text), plain(rendered.html)


def test_e_mails_show_formatted_totals_dates_and_prices() -> None:
    """R-NT-2: a new order's e-mail says "сумма: 520,00 ₽" and "22.12.2026" (en: "RUB 520.00", "Dec 22, 2026"); a
    shipment date's subject carries the formatted date; a price change shows money."""
    ru, en = a_user("u-ru", locale="ru"), a_user("u-en", locale="en")
    _s, text, html = _email(_new_order(), ru, "new_order")
    assert "сумма: 520,00 ₽" in text and "520,00 ₽" in html and "Желаемая дата отгрузки: 22.12.2026" in text
    _s, text, _h = _email(_new_order(), en, "new_order")
    assert "total: RUB 520.00" in text and "Desired shipment date: Dec 22, 2026" in text
    subject, _t, _h = _email(happening(Kind.SHIPMENT_DATE, facts={"shipment_date": "2026-12-22"}), ru, "shipment_date")
    assert subject.endswith(": 22.12.2026")
    edit = happening(
        Kind.LINES_EDITED,
        facts={
            "line_changes": [{"line_id": "l1", "sku": "SKU-1", "field": "price", "old": "2.5000", "new": "3"}],
            "currency": "RUB",
        },
    )
    _s, text, _h = _email(edit, ru, "lines_edited")
    assert "SKU-1: цена 2,50 ₽ → 3,00 ₽" in text


def test_a_move_says_which_lines_went_from_which_part_to_which() -> None:
    """R-ED-2, R-NT-3: the in-app text and the e-mail of a move name each line (with its product name when the
    event carries it) and the parts it went from and to, not just "Order parts: 1024"."""
    moved = happening(
        Kind.LINES_MOVED,
        facts={
            "related_numbers": ["1024-2"],
            "line_changes": [
                {"line_id": "l1", "sku": "SKU-1", "name": "Болт", "field": "moved", "old": "1024", "new": "1024-2"}
            ],
        },
    )
    assert in_app_text(moved, "ru")[1] == "SKU-1 Болт: перенесена № 1024 → № 1024-2"
    assert in_app_text(moved, "en")[1] == "SKU-1 Болт: moved No. 1024 → No. 1024-2"
    _s, text, html = _email(moved, a_user("u-ru", locale="ru"), "lines_moved")
    assert "- SKU-1 Болт: перенесена № 1024 → № 1024-2" in text and "<td>SKU-1 Болт</td>" in html
