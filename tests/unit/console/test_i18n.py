"""R-UI-1: the console speaks Russian (and English): catalogs complete, formats of the locale."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from babel.numbers import format_currency, format_decimal

from oms_console import i18n, labels
from oms_console.catalogs import extract, problems, read


@pytest.fixture
def russian() -> None:
    i18n.activate("ru", i18n.load_catalogs())


@pytest.fixture
def english() -> None:
    i18n.activate("en", i18n.load_catalogs())


def test_no_russian_message_is_empty_fuzzy_untranslated_or_missing() -> None:
    """Extraction of the code and templates finds no message the catalogs lack; none is empty or fuzzy."""
    assert problems() == []


def test_russian_translations_are_russian_and_keep_their_placeholders() -> None:
    ru = read("ru")
    for message in ru:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[0]))
        for text in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", text)) == wanted, ids[0]
            if re.search(r"[A-Za-z]{4,}", ids[0]) and not re.fullmatch(r"[A-Z0-9 .%()sd–-]*", ids[0]):
                assert re.search(r"[а-яА-ЯёЁ]", text), f"not Russian: {ids[0]!r} -> {text!r}"


def test_the_pot_lists_what_the_code_uses() -> None:
    assert len(extract()) > 50


def test_money_numbers_and_dates_in_russian(russian: None) -> None:
    assert i18n.money(Decimal("1234.5")).replace("\u00a0", " ").replace("\u202f", " ") == "1 234,50 ₽"
    assert i18n.number("1234.500").replace("\u00a0", " ").replace("\u202f", " ") == "1 234,5"
    assert i18n.number("12") == "12"
    assert i18n.date_("2026-12-22") == "22.12.2026"
    assert i18n.date_(date(2026, 12, 22)) == "22.12.2026"
    assert i18n.datetime_(datetime(2026, 12, 22, 11, 5, tzinfo=UTC)) == "22.12.2026, 14:05"
    assert i18n.money(None) == "" and i18n.date_(None) == ""


def test_money_and_dates_in_english(english: None) -> None:
    assert "1,234.50" in i18n.money("1234.5")
    assert i18n.date_("2026-12-22") == "12/22/26"


AMOUNTS = ["0", "-0", "1", "-1", "0.005", "0.015", "-0.004", "99.995", "1234.5", "-12345.678", "1E+6", "123456789.125"]


@pytest.mark.parametrize("code", ["ru", "en"])
def test_money_and_numbers_read_as_babel_formats_them(code: str) -> None:
    """The formats made once per locale and currency give exactly what Babel's own functions give."""
    i18n.activate(code, i18n.load_catalogs())
    for value in AMOUNTS:
        amount = Decimal(value)
        for currency in ("RUB", "USD", "EUR", "JPY", "KZT", "BHD", "XYZ"):
            assert i18n.money(value, currency) == format_currency(amount, currency, locale=code), (value, currency)
        plain = amount.normalize() if amount == amount.to_integral() else amount
        assert i18n.number(value) == format_decimal(plain, locale=code), value
        assert i18n.number(value, 2) == format_decimal(amount, format="#,##0.00", locale=code), value
        assert i18n.number(value, 0) == format_decimal(amount, format="#,##0", locale=code), value


def test_names_of_codes_follow_the_locale() -> None:
    i18n.activate("ru", i18n.load_catalogs())
    assert (labels.status_name("confirmed"), labels.payment_name("partial")) == ("Подтверждён", "Оплачен частично")
    i18n.activate("en", i18n.load_catalogs())
    assert (labels.status_name("confirmed"), labels.payment_name("partial")) == ("Confirmed", "Partly paid")
    assert labels.status_name("unheard_of") == "unheard_of" and labels.status_name(None) == ""


def test_plural_forms_follow_russian_grammar(russian: None) -> None:
    forms = [i18n.ngettext_("%(num)d unread", "%(num)d unread", n) % {"num": n} for n in (1, 3, 5, 21)]
    assert forms == ["1 непрочитанное", "3 непрочитанных", "5 непрочитанных", "21 непрочитанное"]


@pytest.mark.parametrize(
    ("cookie", "user", "accept", "expected"),
    [
        ("en", "ru", "ru", "en"),
        (None, "en", "ru-RU", "en"),
        (None, None, "de-DE,en;q=0.8,ru;q=0.5", "en"),
        (None, None, "de", "ru"),
        ("xx", None, None, "ru"),
    ],
)
def test_the_locale_is_the_switch_then_the_user_then_the_browser_then_russian(
    cookie: str | None, user: str | None, accept: str | None, expected: str
) -> None:
    assert i18n.choose_locale(cookie, user, accept) == expected
