"""Locale choice, gettext per request, and the Babel formats of money, numbers and dates.

The catalogs are the ``.po`` files under ``locale/``, compiled in memory when the app starts (no build step,
no ``.mo`` in the repository). Locale: the switch's cookie, then the user's locale, then Accept-Language,
then Russian.
"""

from __future__ import annotations

import contextvars
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
from babel.numbers import format_currency, format_decimal

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


def money(value: Any, currency: str = "RUB") -> str:
    """``1 234,50 ₽`` in Russian, ``RUB 1,234.50`` in English; empty for no value."""
    amount = _decimal(value)
    if amount is None:
        return ""
    return format_currency(amount, currency or "RUB", locale=current_locale())


def number(value: Any, digits: int | None = None) -> str:
    """A number in the user's locale (``1 234,5``), trailing zeros of a quantity dropped."""
    amount = _decimal(value)
    if amount is None:
        return ""
    if digits is not None:
        return format_decimal(amount, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=current_locale())
    return format_decimal(amount.normalize() if amount == amount.to_integral() else amount, locale=current_locale())


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
    return format_date(day, format="short" if current_locale() == "en" else "dd.MM.yyyy", locale=current_locale())


def datetime_(value: Any) -> str:
    """``22.12.2026, 14:05`` in Russian, in the console's time zone (``OMS_CONSOLE_TIMEZONE``)."""
    parsed = _parse_dt(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, datetime):
        return date_(parsed)
    pattern = "dd.MM.yyyy, HH:mm" if current_locale() == "ru" else "MM/dd/yyyy, h:mm a"
    return format_datetime(parsed, format=pattern, tzinfo=get_timezone(_zone.get()), locale=current_locale())


def file_size(size: int) -> str:
    """``10 МБ``, ``512 КБ``: a size as people read it."""
    if size >= 1024 * 1024:
        return gettext_("%(size)s MB") % {
            "size": format_decimal(round(size / (1024 * 1024), 1), locale=current_locale())
        }
    return gettext_("%(size)s KB") % {"size": format_decimal(max(1, round(size / 1024)), locale=current_locale())}


def language_name(code: str) -> str:
    return (Locale.parse(code).get_display_name(code) or code).capitalize()


def install(env: Any) -> None:
    """Give a Jinja environment the per-request gettext callables and the format filters."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True, pgettext=pgettext_, npgettext=npgettext_)
    env.filters.update(money=money, number=number, date=date_, datetime=datetime_, file_size=file_size)
    env.globals.update(current_locale=current_locale, LOCALES=LOCALES, language_name=language_name)
