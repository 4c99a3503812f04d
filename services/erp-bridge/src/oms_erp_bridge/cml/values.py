"""Normalising CommerceML scalar values as 1C and site modules really write them (COMMERCEML.md pitfall 6).

Text is padded with spaces (`Номер1С`, unit codes like `"796 "`, names), numbers use a decimal comma and
spaces between thousands (`"1 234,50"`), booleans are `true`/`false` or `Да`/`Нет`, and dates come without
zero padding (`2014-06-01T0:20:10`), with an offset (`2015-08-12+03:00`), as `T` or `0001-01-01` when empty,
or with the time in a separate `Время` element. Every function takes the raw text (or None) and returns a
clean Python value, None for "no value", or raises `CmlError` for text that is not what it claims to be.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal

from oms_erp_bridge.cml.errors import CmlError

_SPACES = re.compile(r"[\s\u00a0\u202f\u2007\u2009]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_TRUE = frozenset({"true", "да", "истина", "1"})
_FALSE = frozenset({"false", "нет", "ложь", "0"})

_TIME = r"(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:[.,](?P<F>\d+))?)?"
_TZ = r"(?P<tz>Z|[+-]\d{1,2}(?::?\d{2})?)"
_DATE_ISO = r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
_DATE_RU = r"(?P<rd>\d{1,2})\.(?P<rm>\d{1,2})\.(?P<ry>\d{4})"
_DATETIME_RE = re.compile(rf"(?:{_DATE_ISO}|{_DATE_RU})(?:(?:T|\s+){_TIME})?\s*{_TZ}?", re.IGNORECASE)
_TIME_RE = re.compile(rf"{_TIME}\s*{_TZ}?", re.IGNORECASE)


def clean_text(value: str | None) -> str:
    """Text without the padding 1C adds around it (spaces, tabs, new lines, no-break spaces); None → ""."""
    return "" if value is None else value.strip()


def parse_decimal(value: str | None) -> Decimal | None:
    """`"1 234,50"`, `"1234.50"`, `" 7 "` → Decimal; empty → None; anything else → CmlError."""
    text = _SPACES.sub("", clean_text(value))
    if not text:
        return None
    if "," in text and "." in text:
        raise CmlError(f"{value!r} is not a number (it has both a decimal comma and a decimal point)")
    text = text.replace(",", ".")
    if not _NUMBER.fullmatch(text):
        raise CmlError(f"{value!r} is not a number")
    return Decimal(text)


def parse_vat_rate(value: str | None) -> Decimal | None:
    """A VAT rate in percent: `"18"`, `"20%"`, `"10,00"` → Decimal; `"Без налога"`, `"БезНДС"`, empty → None."""
    text = clean_text(value).rstrip("%").strip()
    try:
        return parse_decimal(text)
    except CmlError:
        return None


def parse_bool(value: str | None) -> bool | None:
    """`true`/`false`, `Да`/`Нет`, `Истина`/`Ложь`, `1`/`0` in any case → bool; empty → None."""
    text = clean_text(value).lower()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CmlError(f"{value!r} is not a boolean (expected true/false or Да/Нет)")


def _offset(text: str | None) -> tzinfo | None:
    if not text:
        return None
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours > 23 or minutes > 59:
        raise CmlError(f"{text!r} is not a time zone offset")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _time_of(match: re.Match[str], tz: tzinfo | None) -> time:
    fraction = (match.group("F") or "").ljust(6, "0")[:6]
    return time(int(match.group("H")), int(match.group("M")), int(match.group("S") or 0), int(fraction), tzinfo=tz)


def _is_empty_date(text: str) -> bool:
    return not text or text.upper() == "T" or text.startswith("0001-01-01") or text.startswith("01.01.0001")


def parse_time(value: str | None) -> time | None:
    """`"15:39:10"`, `"0:20:10"`, `"13:38:17+03:00"` → time (aware when an offset is given); empty or T → None."""
    text = clean_text(value)
    if not text or text.upper() == "T":
        return None
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise CmlError(f"{value!r} is not a time")
    try:
        return _time_of(match, _offset(match.group("tz")))
    except ValueError as exc:
        raise CmlError(f"{value!r} is not a time ({exc})") from exc


def parse_datetime(value: str | None, time_value: str | None = None) -> datetime | None:
    """A 1C date or date-time → datetime; `time_value` is a separate `Время` used when `value` has no time.

    Accepts `2015-06-29`, `2015-06-29T15:39:10`, `2014-06-01T0:20:10`, `2007-10-16 15:44:47`,
    `2015-08-13T22:25:56.526+03:00`, `2015-08-12+03:00` (date with an offset) and `11.02.2021 18:45:21`.
    The result is aware only when the text carries an offset; a date without any time is midnight.
    Empty, `T` and 1C's empty date `0001-01-01…` → None.
    """
    text = clean_text(value)
    if _is_empty_date(text):
        return None
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise CmlError(f"{value!r} is not a date")
    separate = parse_time(time_value) if match.group("H") is None else None
    try:
        tz = _offset(match.group("tz"))
        if match.group("y"):
            day = date(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        else:
            day = date(int(match.group("ry")), int(match.group("rm")), int(match.group("rd")))
        if match.group("H") is not None:
            moment = _time_of(match, tz)
        else:
            moment = separate if separate is not None else time()
            if tz is not None:
                moment = moment.replace(tzinfo=tz)
        return datetime.combine(day, moment)
    except ValueError as exc:
        raise CmlError(f"{value!r} is not a date ({exc})") from exc


def parse_date(value: str | None) -> date | None:
    """Only the calendar date of `parse_datetime` (`2015-08-12+03:00` → 2015-08-12); empty → None."""
    moment = parse_datetime(value)
    return None if moment is None else moment.date()
