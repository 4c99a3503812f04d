"""Locale choice, gettext per request, and the Babel formats of money, numbers and dates.

The catalogs are the ``.po`` files under ``locale/``, compiled in memory when the app starts (no build step,
no ``.mo`` in the repository). Locale: the switch's cookie, then the user's locale, then Accept-Language,
then Russian.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import gettext
import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import (
    NumberPattern,
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    parse_pattern,
)

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
LOCALE_COOKIE = "oms_locale"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


@functools.lru_cache(maxsize=4)
def load_catalogs(locale_dir: Path = LOCALE_DIR) -> dict[str, gettext.NullTranslations]:
    """Every locale's ``.po`` compiled in memory (once per process); a missing catalog leaves the English
    source text."""
    found: dict[str, gettext.NullTranslations] = {}
    for code in LOCALES:
        po = locale_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po.exists():
            found[code] = gettext.NullTranslations()
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=code)
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        buf.seek(0)
        found[code] = gettext.GNUTranslations(buf)
    return found


_current: contextvars.ContextVar[gettext.NullTranslations | None] = contextvars.ContextVar(
    "oms_console_translations", default=None
)
_NO_TRANSLATION = gettext.NullTranslations()
_locale: contextvars.ContextVar[str] = contextvars.ContextVar("oms_console_locale", default=DEFAULT_LOCALE)
# The zone times are shown in (the services keep UTC); set by the app from OMS_CONSOLE_TIMEZONE.
_zone: contextvars.ContextVar[str] = contextvars.ContextVar("oms_console_zone", default="Europe/Moscow")


def activate(code: str, catalogs: dict[str, gettext.NullTranslations], zone: str | None = None) -> None:
    """Make ``code`` the locale of the current request (templates and ``gettext`` below follow it)."""
    _locale.set(code)
    _current.set(catalogs.get(code, gettext.NullTranslations()))
    if zone:
        _zone.set(zone)


def current_locale() -> str:
    return _locale.get()


def _translations() -> gettext.NullTranslations:
    return _current.get() or _NO_TRANSLATION


def gettext_(message: str) -> str:
    return _translations().gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def pgettext_(context: str, message: str) -> str:
    return _translations().pgettext(context, message)


def npgettext_(context: str, singular: str, plural: str, n: int) -> str:
    return _translations().npgettext(context, singular, plural, n)


# Python code marks its messages with ``_`` (extracted by pybabel like the templates' ``_()``).
_ = gettext_


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated later, where it is shown."""
    return message


def supported(code: str | None) -> str | None:
    if not code:
        return None
    code = code.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LOCALES else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an Accept-Language header, by its q-values."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        lang, _sep, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        code = supported(lang)
        if code and q > 0:
            ranked.append((-q, index, code))
    return sorted(ranked)[0][2] if ranked else None


def choose_locale(cookie: str | None, user_locale: str | None, accept_language: str | None) -> str:
    for candidate in (supported(cookie), supported(user_locale), from_accept_language(accept_language)):
        if candidate:
            return candidate
    return DEFAULT_LOCALE


# -- formats -------------------------------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


# A list page formats a few hundred amounts, dates and quantities: the Babel locale and the parsed patterns are
# made once per locale (and currency), not per value (Babel's format_currency also looks up the currency's
# symbol, digits and plural name each time).


@functools.lru_cache(maxsize=8)
def _babel_locale(code: str) -> Locale:
    return Locale.parse(code)


@functools.lru_cache(maxsize=32)
def _number_pattern(code: str, fmt: str | None) -> NumberPattern:
    return parse_pattern(fmt if fmt is not None else _babel_locale(code).decimal_formats[None])


@functools.lru_cache(maxsize=64)
def _money_pattern(code: str, currency: str) -> NumberPattern | None:
    """The locale's currency pattern with this currency's symbol and digits written in; ``None`` when the
    pattern spells the currency's name (it depends on the amount: Babel formats those)."""
    locale = _babel_locale(code)
    pattern: NumberPattern = copy.copy(locale.currency_formats["standard"])
    if any("¤¤¤" in affix for affix in (*pattern.prefix, *pattern.suffix)):
        return None
    symbol = get_currency_symbol(currency, locale)

    def put(affix: str) -> str:
        return affix.replace("¤¤", currency.upper()).replace("¤", symbol)

    pattern.prefix = (put(pattern.prefix[0]), put(pattern.prefix[1]))
    pattern.suffix = (put(pattern.suffix[0]), put(pattern.suffix[1]))
    digits = get_currency_precision(currency)
    pattern.frac_prec = (digits, digits)
    return pattern


def money(value: Any, currency: str = "RUB") -> str:
    """``1 234,50 ₽`` in Russian, ``RUB 1,234.50`` in English; empty for no value (as Babel's
    ``format_currency``)."""
    amount = _decimal(value)
    if amount is None:
        return ""
    code, currency = current_locale(), currency or "RUB"
    pattern = _money_pattern(code, currency)
    if pattern is None:
        return format_currency(amount, currency, locale=_babel_locale(code))
    return str(pattern.apply(amount, _babel_locale(code)))


def _format_decimal(amount: Decimal | float, fmt: str | None = None) -> str:
    """Babel's ``format_decimal`` in the current locale."""
    code = current_locale()
    return str(_number_pattern(code, fmt).apply(amount, _babel_locale(code)))


def number(value: Any, digits: int | None = None) -> str:
    """A number in the user's locale (``1 234,5``), trailing zeros of a quantity dropped."""
    amount = _decimal(value)
    if amount is None:
        return ""
    if digits is not None:
        return _format_decimal(amount, f"#,##0.{'0' * digits}" if digits else "#,##0")
    return _format_decimal(amount.normalize() if amount == amount.to_integral() else amount)


def _parse_dt(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if not value:
        return None
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def date_(value: Any) -> str:
    """``22.12.2026`` in Russian, ``12/22/2026`` in English."""
    parsed = _parse_dt(value)
    if parsed is None:
        return ""
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    code = current_locale()
    return format_date(day, format="short" if code == "en" else "dd.MM.yyyy", locale=_babel_locale(code))


def datetime_(value: Any) -> str:
    """``22.12.2026, 14:05`` in Russian, in the console's time zone (``OMS_CONSOLE_TIMEZONE``)."""
    parsed = _parse_dt(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, datetime):
        return date_(parsed)
    code = current_locale()
    pattern = "dd.MM.yyyy, HH:mm" if code == "ru" else "MM/dd/yyyy, h:mm a"
    return format_datetime(parsed, format=pattern, tzinfo=_timezone(_zone.get()), locale=_babel_locale(code))


@functools.lru_cache(maxsize=8)
def _timezone(name: str) -> Any:
    return get_timezone(name)


def file_size(size: int) -> str:
    """``10 МБ``, ``512 КБ``: a size as people read it."""
    if size >= 1024 * 1024:
        return gettext_("%(size)s MB") % {"size": _format_decimal(round(size / (1024 * 1024), 1))}
    return gettext_("%(size)s KB") % {"size": _format_decimal(max(1, round(size / 1024)))}


def language_name(code: str) -> str:
    return (Locale.parse(code).get_display_name(code) or code).capitalize()


def install(env: Any) -> None:
    """Give a Jinja environment the per-request gettext callables and the format filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True, pgettext=pgettext_, npgettext=npgettext_)
    env.filters.update(money=money, number=number, date=date_, datetime=datetime_, file_size=file_size)
    env.globals.update(current_locale=current_locale, LOCALES=LOCALES, language_name=language_name)
