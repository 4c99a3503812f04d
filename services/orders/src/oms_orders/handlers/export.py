"""The order list as an Excel workbook (R-UI-3): the rows the list shows with the same filters and sort."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from oms_orders import domain

STATUS_RU = {
    "new": "Новый",
    "editing": "Редактируется",
    "awaiting_approval": "Ожидает согласования",
    "agreed": "Согласован",
    "confirmed": "Подтвержден",
    "shipped": "Отгружен",
    "rejected": "Отклонен",
    "cancelled": "Отменен",
}

# (key of a list row, Russian header, English header); money as numbers, dates as dates.
COLUMNS: list[tuple[str, str, str]] = [
    ("number", "Номер", "Number"),
    ("created_at", "Дата", "Created"),
    ("buyer_name", "Покупатель", "Buyer"),
    ("supplier_name", "Поставщик", "Supplier"),
    ("price_list_name", "Прайс-лист", "Price list"),
    ("status", "Статус", "Status"),
    ("desired_shipment_date", "Желаемая дата отгрузки", "Desired shipment"),
    ("shipment_date", "Дата отгрузки", "Shipment date"),
    ("responsible_user_name", "Ответственный", "Responsible"),
    ("gross_total", "Сумма", "Total"),
    ("vat_amount", "В т.ч. НДС / НДС", "VAT"),
    ("paid_amount", "Оплачено", "Paid"),
    ("currency", "Валюта", "Currency"),
    ("overdue", "Просрочен", "Overdue"),
    ("updated_at", "Последнее изменение", "Last change"),
]
MONEY = {"gross_total", "vat_amount", "paid_amount"}
DATES = {"desired_shipment_date", "shipment_date"}
TIMES = {"created_at", "updated_at"}


def _cell(key: str, value: Any, lang: str) -> Any:
    if value is None or value == "":
        return None
    if key in MONEY:
        return Decimal(value)
    if key in DATES:
        return date.fromisoformat(value)
    if key in TIMES:
        return datetime.fromisoformat(value).replace(tzinfo=None)  # Excel keeps no time zone: UTC, as said
    if key == "status":
        return STATUS_RU.get(value, value) if lang == "ru" else domain.STATUS_LABELS[domain.Status(value)]
    if key == "overdue":
        return ("да" if lang == "ru" else "yes") if value else None
    return value


def workbook(rows: list[dict[str, Any]], lang: str) -> bytes:
    """One sheet, a header row in ``lang`` and one row per order; frozen header, filters on."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Заказы" if lang == "ru" else "Orders"
    ws.append([ru if lang == "ru" else en for _, ru, en in COLUMNS])
    for row in rows:
        ws.append([_cell(key, row.get(key), lang) for key, _, _ in COLUMNS])
    for n, (key, _, _) in enumerate(COLUMNS, start=1):
        letter = ws.cell(row=1, column=n).column_letter
        ws.column_dimensions[letter].width = 30 if key in {"buyer_name", "supplier_name", "price_list_name"} else 16
        if key in MONEY:
            for cell in ws[letter][1:]:
                cell.number_format = "#,##0.00"
        elif key in DATES:
            for cell in ws[letter][1:]:
                cell.number_format = "DD.MM.YYYY"
        elif key in TIMES:
            for cell in ws[letter][1:]:
                cell.number_format = "DD.MM.YYYY HH:MM"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
