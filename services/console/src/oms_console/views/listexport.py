"""The order list as an Excel workbook (R-UI-3): the columns of the screen, numbers and dates as such."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from oms_console.auth import User
from oms_console.i18n import _
from oms_console.labels import payment_name, status_name


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _day(value: Any) -> date | None:
    if not value:
        return None
    text = str(value)
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)  # Excel has no zones: the services' UTC


def orders_workbook(rows: list[dict[str, Any]], *, user: User, people: dict[str, str], truncated: bool) -> bytes:
    from oms_console.views.orders import payment_state  # the screen's own rule

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("Orders")[:31]
    party = _("Buyer") if user.is_staff else _("Supplier")
    headers = [
        _("Number"),
        _("Created"),
        party,
        _("Price list"),
        _("Status"),
        _("Payment"),
        _("Shipment date"),
        _("Total"),
        _("Paid"),
        _("Currency"),
        _("Responsible"),
        _("Overdue"),
        _("Updated (UTC)"),
    ]
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for order in rows:
        ws.append(
            [
                order.get("number"),
                _day(order.get("created_at")),
                order.get("buyer_name") if user.is_staff else order.get("supplier_name"),
                order.get("price_list_name"),
                status_name(order.get("status")),
                payment_name(payment_state(order)),
                _day(order.get("shipment_date") or order.get("desired_shipment_date")),
                _amount(order.get("total")),
                _amount(order.get("paid_amount")),
                order.get("currency") or "RUB",
                people.get(str(order.get("responsible_user_id") or ""), ""),
                _("yes") if order.get("overdue") else "",
                _moment(order.get("updated_at")),
            ]
        )
    last = ws.max_row
    for row in ws.iter_rows(min_row=2, max_row=last):
        for index in (1, 6):
            row[index].number_format = "DD.MM.YYYY"
        for index in (7, 8):
            row[index].number_format = "#,##0.00"
        row[12].number_format = "DD.MM.YYYY HH:MM"
    if truncated:
        ws.append([])
        ws.append([_("Only the first %(num)d orders; narrow the filters for the rest.") % {"num": len(rows)}])
    widths = [10, 12, 32, 20, 18, 16, 14, 14, 14, 8, 22, 10, 18]
    for index, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
