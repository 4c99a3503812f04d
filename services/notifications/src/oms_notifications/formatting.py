"""Amounts, quantities and dates as the reader's language writes them ("520,00 ₽", "22.12.2026"; "RUB 520.00",
"Dec 22, 2026"), with Babel's CLDR data. A value that is not what it claims to be is shown as it came."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal

DEFAULT_CURRENCY = "RUB"

# The Babel locale of each of our languages, and how a date is written in it.
_BABEL = {"ru": "ru_RU", "en": "en_US"}
_DATE = {"ru": "dd.MM.yyyy", "en": "medium"}
# English readers get the ISO code ("RUB 520.00"): the ruble sign is not on every English keyboard or font.
_MONEY = {"ru": None, "en": "¤¤\u00a0#,##0.00"}


def _lang(locale: str) -> str:
    short = (locale or "").split("-")[0].split("_")[0].lower()
    return short if short in _BABEL else "ru"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def money(value: Any, locale: str, currency: str | None = None) -> str:
    """An amount with its currency: ``520,00 ₽`` (ru), ``RUB 520.00`` (en)."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    lang = _lang(locale)
    code = (currency or DEFAULT_CURRENCY).upper()
    try:
        return str(format_currency(number, code, format=_MONEY[lang], locale=_BABEL[lang]))
    except (ValueError, KeyError):
        return str(format_currency(number, DEFAULT_CURRENCY, format=_MONEY[lang], locale=_BABEL[lang]))


def quantity(value: Any, locale: str) -> str:
    """A number without trailing zeros, grouped and with the locale's decimal sign: ``1 234,5`` / ``1,234.5``."""
    number = _decimal(value)
    if number is None:
        return "" if value is None else str(value)
    return str(format_decimal(number, format="#,##0.######", locale=_BABEL[_lang(locale)]))


def day(value: Any, locale: str) -> str:
    """A calendar date: ``22.12.2026`` (ru), ``Dec 22, 2026`` (en); accepts a date or an ISO string."""
    if value is None or value == "":
        return ""
    parsed: date | None
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        try:
            parsed = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    lang = _lang(locale)
    return str(format_date(parsed, _DATE[lang], locale=_BABEL[lang]))


def moment(value: datetime, locale: str) -> str:
    """A point in time in UTC: ``03.12.2026 15:00 UTC`` (ru), ``Dec 3, 2026, 3:00 PM UTC`` (en)."""
    at = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    lang = _lang(locale)
    time = format_time(at, "HH:mm" if lang == "ru" else "h:mm a", tzinfo=UTC, locale=_BABEL[lang])
    separator = " " if lang == "ru" else ", "
    return f"{day(at.date(), locale)}{separator}{time} UTC"


def line_value(field: str, value: Any, locale: str, currency: str | None = None) -> Any:
    """The old or new value of a changed line as the reader writes it (prices as money, quantities as numbers)."""
    if value is None:
        return None
    if field in ("moved", "copied"):  # the parts a line went from and to
        return f"{'No.' if _lang(locale) == 'en' else '№'} {value}"
    if field == "price":
        return money(value, locale, currency)
    if field == "quantity":
        return quantity(value, locale)
    if field == "vat_rate":
        number = _decimal(value)
        if number is not None:
            return f"{quantity(number * 100 if number < 1 else number, locale)}\u00a0%"
    return value
