"""Value normalisation (COMMERCEML.md pitfall 6): padding, decimal commas, booleans, dates as 1C writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from oms_erp_bridge.cml import (
    CmlError,
    clean_text,
    parse_bool,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_time,
    parse_vat_rate,
)

MSK = timezone(timedelta(hours=3))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("R2041      ", "R2041"),  # Номер1С right-padded (1C-Bitrix module, handwritten/cml31_containers_utf8_bom.xml)
        ("796 ", "796"),  # unit code with a trailing space (samples 08, 09, the CML 3.1 layout)
        ("штука" + " " * 90, "штука"),  # НаименованиеПолное padded with ~90 spaces (the CML 3.1 layout)
        ("Kaneyon 5Kg\n        ", "Kaneyon 5Kg"),  # name wrapped by an editor (sample 06)
        ("\u00a0Болт M8\t", "Болт M8"),
        ("Б- 130005", "Б- 130005"),  # inner spaces are data
        (None, ""),
    ],
)
def test_pitfall_6_padding_is_stripped_from_text(raw: str | None, clean: str) -> None:
    """R-ERP-1: numbers, names and codes arrive padded with spaces."""
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("1 234,50", Decimal("1234.50")),
        ("1\u00a0234,5", Decimal("1234.5")),
        ("8186.84", Decimal("8186.84")),
        (" 231.7400 ", Decimal("231.7400")),
        ("0,01", Decimal("0.01")),
        ("-5", Decimal("-5")),
        ("1.0000", Decimal("1")),
    ],
)
def test_pitfall_6_decimals_with_a_comma_or_spaces(raw: str, number: Decimal) -> None:
    """R-ERP-1: amounts and quantities with a decimal comma and thousands separated by spaces."""
    parsed = parse_decimal(raw)
    assert parsed == number and isinstance(parsed, Decimal)


@pytest.mark.parametrize("raw", ["", "   ", None])
def test_an_empty_number_is_none(raw: str | None) -> None:
    assert parse_decimal(raw) is None


@pytest.mark.parametrize("raw", ["abc", "1,234.50", "NaN", "Infinity", "1e5", "12-3", "1_000"])
def test_a_text_that_is_not_a_number_is_refused(raw: str) -> None:
    with pytest.raises(CmlError, match="not a number"):
        parse_decimal(raw)


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        ("true", True),
        ("TRUE", True),
        (" True ", True),
        ("Да", True),
        ("да", True),
        ("ДА", True),
        ("Истина", True),
        ("false", False),
        ("False", False),
        ("Нет", False),
        ("нет", False),
        ("Ложь", False),
        ("", None),
        (None, None),
    ],
)
def test_pitfall_6_booleans_true_false_da_net_in_any_case(raw: str | None, flag: bool | None) -> None:
    """R-ERP-1: 1C writes booleans as true/false, site modules as Да/Нет."""
    assert parse_bool(raw) is flag


def test_a_text_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(CmlError, match="not a boolean"):
        parse_bool("maybe")


@pytest.mark.parametrize("raw", ["", "T", "t", "  T ", None, "0001-01-01T00:00:00", "0001-01-01"])
def test_pitfall_6_empty_dates_arrive_as_t_or_as_the_1c_empty_date(raw: str | None) -> None:
    """R-ERP-1: an empty date is "T" (or 1C's 0001-01-01), not an error."""
    assert parse_datetime(raw) is None
    assert parse_date(raw) is None


@pytest.mark.parametrize(
    ("raw", "moment"),
    [
        ("2014-06-01T0:20:10", datetime(2014, 6, 1, 0, 20, 10)),  # cscart orders_1C.xml, no zero padding
        ("2015-6-9T9:5:7", datetime(2015, 6, 9, 9, 5, 7)),
        ("2015-06-29T15:39:10", datetime(2015, 6, 29, 15, 39, 10)),
        ("2015-06-29", datetime(2015, 6, 29)),
        ("2007-10-16 15:44:47", datetime(2007, 10, 16, 15, 44, 47)),  # sample 03
        ("11.02.2021 18:45:21", datetime(2021, 2, 11, 18, 45, 21)),  # sample 06
        ("2015-08-12+03:00", datetime(2015, 8, 12, tzinfo=MSK)),  # status-only orders: a date with an offset
        ("2015-08-13T22:25:56.526+03:00", datetime(2015, 8, 13, 22, 25, 56, 526000, tzinfo=MSK)),
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_pitfall_6_dates_without_padding_or_with_an_offset(raw: str, moment: datetime) -> None:
    """R-ERP-1: every date layout seen in the samples becomes a datetime (aware only with an offset)."""
    parsed = parse_datetime(raw)
    assert parsed == moment and parsed is not None and parsed.tzinfo == moment.tzinfo


def test_pitfall_6_separate_date_and_time_fields_are_combined() -> None:
    """R-ERP-1: `Дата` + `Время` → one datetime; the date's offset applies to the time (status-only orders)."""
    assert parse_datetime("2015-06-29", "15:39:10") == datetime(2015, 6, 29, 15, 39, 10)
    assert parse_datetime("2015-08-12+03:00", "13:38:17") == datetime(2015, 8, 12, 13, 38, 17, tzinfo=MSK)
    assert parse_datetime("2015-06-29", "T") == datetime(2015, 6, 29)
    assert parse_datetime("2015-06-29", "") == datetime(2015, 6, 29)
    assert parse_datetime("", "15:39:10") is None


def test_dates_and_times_alone() -> None:
    assert parse_date("2015-08-12+03:00") == date(2015, 8, 12)
    assert parse_date("2014-06-01T0:20:10") == date(2014, 6, 1)
    assert parse_time("0:20:10") == time(0, 20, 10)
    assert parse_time("13:38:17+03:00") == time(13, 38, 17, tzinfo=MSK)
    assert parse_time(" ") is None


@pytest.mark.parametrize("raw", ["yesterday", "2015-13-01", "2015-02-30", "2015-06-29T25:00:00", "29/06/2015"])
def test_a_text_that_is_not_a_date_is_refused(raw: str) -> None:
    with pytest.raises(CmlError, match="not a date"):
        parse_datetime(raw)


def test_a_text_that_is_not_a_time_is_refused() -> None:
    with pytest.raises(CmlError, match="not a time"):
        parse_time("noon")


@pytest.mark.parametrize(
    ("raw", "rate"),
    [("18", Decimal(18)), ("20%", Decimal(20)), ("10,00", Decimal(10)), ("Без налога", None), ("БезНДС", None)],
)
def test_vat_rates_in_percent_and_no_vat(raw: str, rate: Decimal | None) -> None:
    """R-ERP-1: `Ставка` is a number of percent or "Без налога" (the CML 3.1 layout)."""
    assert parse_vat_rate(raw) == rate
