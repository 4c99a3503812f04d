"""Excel export of a summary (R-AN-2): formatted tables, frozen headers, number formats, native charts."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from oms_analytics.charts import STATUS_LABELS

MONEY = "#,##0.00"
COUNT = "#,##0"
SHARE = "0.0%"
HOURS = "0.00"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="4C78A8")


# The workbook's words in Russian (the English ones are the keys); ``lang`` picks the language.
RU = {
    "All orders": "Все заказы",
    "Status now: ": "Статус сейчас: ",
    "Confirmed (reached)": "Подтверждены (за период)",
    "Shipped (reached)": "Отгружены (за период)",
    "Rejected (reached)": "Отклонены (за период)",
    "Cancelled (reached)": "Отменены (за период)",
    "Paid": "Оплачено",
    "Average order": "Средний заказ",
    "Overdue now": "Просрочены сейчас",
    "Summary": "Сводка",
    "Figure": "Показатель",
    "Orders": "Заказы",
    "Sum": "Сумма",
    "Share": "Доля",
    "Period": "Период",
    "Median hours to confirm": "Медиана часов до подтверждения",
    "Median hours to ship": "Медиана часов до отгрузки",
    "Orders by status": "Заказы по статусам",
    "Series": "Динамика",
    "Confirmed": "Подтверждены",
    "Shipped": "Отгружены",
    "Rejected": "Отклонены",
    "Cancelled": "Отменены",
    "Overdue": "Просрочены",
    "By buyer": "По покупателям",
    "By manager": "По менеджерам",
    "Buyer": "Покупатель",
    "Manager": "Менеджер",
    "Orders per day": "Заказы по дням",
    "Orders per week": "Заказы по неделям",
    "Orders per month": "Заказы по месяцам",
    "Sum by buyer": "Сумма по покупателям",
    "Sum by manager": "Сумма по менеджерам",
}
STATUS_RU = {
    "new": "Новый",
    "editing": "Редактируется",
    "awaiting_approval": "Ждёт согласования",
    "agreed": "Согласован",
    "confirmed": "Подтверждён",
    "shipped": "Отгружен",
    "rejected": "Отклонён",
    "cancelled": "Отменён",
}
LANGUAGES = ("ru", "en")


def workbook_language(asked: str | None, locale: str | None, accept_language: str | None) -> str:
    """The language asked for, else the user's, else the browser's first known one, else Russian."""
    for candidate in (asked, locale, *(accept_language or "").split(",")):
        code = (candidate or "").split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "ru"


def _words(lang: str) -> Callable[[str], str]:
    return (lambda text: RU.get(text, text)) if lang == "ru" else (lambda text: text)


def _d(value: str) -> Decimal:
    return Decimal(value)


def _table(ws: Worksheet, headers: list[str], rows: list[list[Any]], formats: list[str | None]) -> None:
    """A header row (bold, filled, frozen, filterable) and the rows below with per-column number formats."""
    ws.append(headers)
    for cell in ws[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in rows:
        ws.append(row)
    for col, fmt in enumerate(formats, start=1):
        if fmt is None:
            continue
        for (cell,) in ws.iter_rows(min_row=2, max_row=len(rows) + 1, min_col=col, max_col=col):
            cell.number_format = fmt
    for col, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[col - 1])) for r in rows if r[col - 1] is not None])
        ws.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 10), 45)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{len(rows) + 1}"


def _figures_rows(body: dict[str, Any], lang: str = "en") -> list[list[Any]]:
    t = _words(lang)
    labels = STATUS_RU if lang == "ru" else STATUS_LABELS
    n = body["orders_count"]
    rows: list[list[Any]] = [[t("All orders"), n, _d(body["orders_sum"]), 1 if n else 0]]
    for status, label in labels.items():
        figure = body["by_status"][status]
        rows.append([t("Status now: ") + label, figure["count"], _d(figure["sum"]), figure["count"] / n if n else 0])
    for outcome in ("confirmed", "shipped", "rejected", "cancelled"):
        f = body[outcome]
        rows.append([t(f"{outcome.capitalize()} (reached)"), f["count"], _d(f["sum"]), f["share"]])
    rows.append([t("Paid"), None, _d(body["paid_sum"]), None])
    rows.append([t("Average order"), None, _d(body["average_order"]), None])
    rows.append([t("Overdue now"), body["overdue_count"], None, body["overdue_count"] / n if n else 0])
    return rows


def render_workbook(body: dict[str, Any], lang: str = "en") -> bytes:
    """A workbook with the summary's figures, its series with a chart, and its groups with a chart, in ``lang``
    (ru or en)."""
    t = _words(lang)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = t("Summary")
    headers = [t("Figure"), t("Orders"), t("Sum"), t("Share")]
    _table(ws, headers, _figures_rows(body, lang), [None, COUNT, MONEY, SHARE])
    extra = len(ws["A"]) + 2
    ws.cell(extra, 1, t("Period")).font = Font(bold=True)
    ws.cell(extra, 2, f"{body['date_from']} — {body['date_to']}")
    ws.cell(extra + 1, 1, t("Median hours to confirm")).font = Font(bold=True)
    ws.cell(extra + 1, 2, body["median_hours_to_confirm"]).number_format = HOURS
    ws.cell(extra + 2, 1, t("Median hours to ship")).font = Font(bold=True)
    ws.cell(extra + 2, 2, body["median_hours_to_ship"]).number_format = HOURS
    status_chart = BarChart()
    status_chart.type = "bar"
    status_chart.title = t("Orders by status")
    status_chart.y_axis.title = t("Orders")
    status_chart.add_data(
        Reference(ws, min_col=2, min_row=1, max_row=1 + len(STATUS_LABELS) + 1), titles_from_data=True
    )
    status_chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=1 + len(STATUS_LABELS) + 1))
    status_chart.height, status_chart.width = 9, 16
    ws.add_chart(status_chart, "F2")

    series_ws = wb.create_sheet(t("Series"))
    series = body["series"]
    _table(
        series_ws,
        [t("Period"), t("Orders"), t("Sum"), t("Confirmed"), t("Shipped")],
        [[p["period"], p["count"], _d(p["sum"]), p["confirmed"], p["shipped"]] for p in series],
        [None, COUNT, MONEY, COUNT, COUNT],
    )
    bars = BarChart()
    bars.title = t(f"Orders per {body.get('interval', 'day')}")
    bars.y_axis.title = t("Orders")
    bars.x_axis.title = t("Period")
    bars.add_data(Reference(series_ws, min_col=2, min_row=1, max_row=len(series) + 1), titles_from_data=True)
    bars.set_categories(Reference(series_ws, min_col=1, min_row=2, max_row=len(series) + 1))
    line = LineChart()
    line.add_data(Reference(series_ws, min_col=3, min_row=1, max_row=len(series) + 1), titles_from_data=True)
    line.y_axis.axId = 200
    line.y_axis.title = t("Sum")
    line.y_axis.crosses = "max"
    bars += line
    bars.height, bars.width = 10, 24
    series_ws.add_chart(bars, "G2")

    if body.get("groups") is not None:
        groups_ws = wb.create_sheet(t("By buyer") if body["group_by"] == "buyer" else t("By manager"))
        rows = [
            [
                g["name"],
                g["orders_count"],
                _d(g["orders_sum"]),
                g["confirmed"]["count"],
                g["shipped"]["count"],
                g["rejected"]["count"],
                g["cancelled"]["count"],
                _d(g["paid_sum"]),
                _d(g["average_order"]),
                g["median_hours_to_confirm"],
                g["median_hours_to_ship"],
                g["overdue_count"],
            ]
            for g in body["groups"]
        ]
        _table(
            groups_ws,
            [
                t("Buyer") if body["group_by"] == "buyer" else t("Manager"),
                t("Orders"),
                t("Sum"),
                t("Confirmed"),
                t("Shipped"),
                t("Rejected"),
                t("Cancelled"),
                t("Paid"),
                t("Average order"),
                t("Median hours to confirm"),
                t("Median hours to ship"),
                t("Overdue"),
            ],
            rows,
            [None, COUNT, MONEY, COUNT, COUNT, COUNT, COUNT, MONEY, MONEY, HOURS, HOURS, COUNT],
        )
        chart = BarChart()
        chart.type = "bar"
        chart.title = t(f"Sum by {body['group_by']}")
        chart.x_axis.title = t(body["group_by"].capitalize())
        chart.y_axis.title = t("Sum")
        shown = min(len(rows), 20)
        chart.add_data(Reference(groups_ws, min_col=3, min_row=1, max_row=shown + 1), titles_from_data=True)
        chart.set_categories(Reference(groups_ws, min_col=1, min_row=2, max_row=shown + 1))
        chart.height, chart.width = 10, 20
        groups_ws.add_chart(chart, "N2")

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
