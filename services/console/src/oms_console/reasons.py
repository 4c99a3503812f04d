"""The orders service's reasons for refusing a line or an uploaded sheet, in the user's language.

The services answer in English (``reasons`` of a line, the ``code`` of an error); a Russian page carries no English,
so the known ones are translated here and anything else is shown as the service said it."""

from __future__ import annotations

import re
from collections.abc import Callable

from oms_console.i18n import _


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


_LINE_REASONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"SKU (.+) is not in this price list"),
        lambda m: _("SKU %(sku)s is not in this price list") % {"sku": _unquote(m[1])},
    ),
    (
        re.compile(r"SKU (.+) is listed twice for the same warehouse"),
        lambda m: _("SKU %(sku)s is listed twice for the same warehouse") % {"sku": _unquote(m[1])},
    ),
    (
        re.compile(r"warehouse (.*) is unknown"),
        lambda m: _("Warehouse %(warehouse)s is unknown") % {"warehouse": _unquote(m[1])},
    ),
    (
        re.compile(r"warehouse (.*) is not linked to this price list"),
        lambda m: _("Warehouse %(warehouse)s does not serve this price list") % {"warehouse": _unquote(m[1])},
    ),
    (
        re.compile(r"quantity must be a number|quantity .* is not a number|quantity must be a finite number"),
        lambda m: _("The quantity is not a number"),
    ),
    (re.compile(r"quantity must be greater than zero"), lambda m: _("The quantity must be greater than zero")),
    (re.compile(r"quantity must not be negative"), lambda m: _("The quantity must not be negative")),
    (re.compile(r"quantity is too large"), lambda m: _("The quantity is too large")),
    (
        re.compile(r"quantity (\S+) has more than (\d+) decimal places"),
        lambda m: (
            _("The quantity %(quantity)s has more than %(places)s decimal places") % {"quantity": m[1], "places": m[2]}
        ),
    ),
    (
        re.compile(r"quantity (\S+) is not a whole number: (.*) is counted whole"),
        lambda m: (
            _("The quantity %(quantity)s is not whole: %(unit)s is counted in whole units")
            % {"quantity": m[1], "unit": m[2]}
        ),
    ),
    (re.compile(r"no rows"), lambda m: _("The sheet has no rows to import")),
    (re.compile(r"no lines"), lambda m: _("The order has no lines")),
]


def line_reason(text: str) -> str:
    """One reason a line or a row was refused, translated when it is a known one."""
    for pattern, message in _LINE_REASONS:
        found = pattern.fullmatch(text.strip())
        if found:
            return message(found)
    return text


def file_problem(code: str, message: str) -> str:
    """Why an uploaded sheet could not be read, by the service's error code."""
    known = {
        "not_a_spreadsheet": _("The file is not a readable .xlsx workbook."),
        "unsupported_file_type": _("Upload an .xlsx file."),
        "empty_upload": _("The file is empty."),
        "upload_too_large": _("The file is too large for the orders service."),
        "file_too_large": _("The file is too large for the orders service."),
        "too_many_rows": _("The sheet has too many rows."),
        "too_many_columns": _("The sheet has too many columns."),
        "cell_too_long": _("A cell of the sheet is too long."),
        "upload_too_slow": _("The file takes too long to read; split it into smaller ones."),
        "invalid_import": _("The sheet lacks the template's columns: download the template and fill it in."),
        "xml_entities_forbidden": _("The file is not a readable .xlsx workbook."),
        "too_many_entries": _("The file is not a readable .xlsx workbook."),
        "suspicious_compression": _("The file is not a readable .xlsx workbook."),
        "bad_file_name": _("The file's name is not valid."),
    }
    return known.get(code) or message or _("The file could not be read.")
