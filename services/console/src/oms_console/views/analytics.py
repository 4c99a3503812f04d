"""R-UI-10: analytics — a period and a grouping in the URL, a chart beside its data table, the orders behind a
figure on demand, and the summary as an Excel workbook (R-AN-1..3).

The analytics service computes every figure and decides what a restricted manager sees (only their buyers); the
page shows what it answers. The chart is drawn here, from the summary's JSON, as inline SVG: its labels are in
the user's language and it needs no script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_console import i18n
from oms_console.clients import ServiceError
from oms_console.i18n import _
from oms_console.labels import status_name
from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services, form_errors, require_staff

router = APIRouter()

GROUP_BYS = ("none", "buyer", "manager")
INTERVALS = ("day", "week", "month")
FIGURES = ("all", "confirmed", "shipped", "rejected", "cancelled", "overdue", "paid")
DETAILS_PAGE = 50
MAX_DAYS = 3660
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Period:
    """The analytics query as the URL carries it; what the user typed is kept even when it is wrong."""

    date_from: str = ""
    date_to: str = ""
    group_by: str = "none"
    interval: str = "day"
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_request(cls, request: Request) -> Period:
        params = request.query_params
        today = date.today()
        p = cls(
            date_from=(params.get("date_from") or today.replace(day=1).isoformat()).strip()[:20],
            date_to=(params.get("date_to") or today.isoformat()).strip()[:20],
        )
        group_by = params.get("group_by") or "none"
        p.group_by = group_by if group_by in GROUP_BYS else "none"
        interval = params.get("interval") or "day"
        p.interval = interval if interval in INTERVALS else "day"
        p.validate()
        return p

    def validate(self) -> None:
        days: dict[str, date] = {}
        for name in ("date_from", "date_to"):
            try:
                days[name] = date.fromisoformat(getattr(self, name))
            except ValueError:
                self.errors[name] = _("Enter a date.")
        if len(days) == 2:
            if days["date_from"] > days["date_to"]:
                self.errors["date_to"] = _("The end is before the start.")
            elif days["date_to"] - days["date_from"] > timedelta(days=MAX_DAYS):
                self.errors["date_to"] = _("The period is too long; choose at most ten years.")

    def params(self, **extra: Any) -> dict[str, Any]:
        values = {
            "date_from": self.date_from,
            "date_to": self.date_to,
            "group_by": self.group_by,
            "interval": self.interval,
            **extra,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    def url(self, path: str = "/analytics", **extra: Any) -> str:
        return f"{path}?{urlencode(self.params(**extra))}"


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def chart(series: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of the number of orders per period and their sums, as coordinates for the inline SVG."""
    width, height, top, bottom, left = 640, 240, 16, 40, 44
    plot_h = height - top - bottom
    plot_w = width - left - 8
    most = max((int(p.get("count") or 0) for p in series), default=0)
    scale = max(most, 1)
    slot = plot_w / max(len(series), 1)
    bar_w = max(min(slot * 0.7, 48), 1)
    step = max(1, len(series) // 12)
    bars = []
    for i, point in enumerate(series):
        count = int(point.get("count") or 0)
        h = plot_h * count / scale
        x = left + i * slot + (slot - bar_w) / 2
        bars.append(
            {
                "x": round(x, 1),
                "y": round(top + plot_h - h, 1),
                "w": round(bar_w, 1),
                "h": round(h, 1),
                "count": count,
                "sum": point.get("sum"),
                "period": point.get("period"),
                "label": i % step == 0,
                "cx": round(x + bar_w / 2, 1),
            }
        )
    ticks = sorted({0, most, most // 2}) if most else [0]
    return {
        "width": width,
        "height": height,
        "left": left,
        "base": top + plot_h,
        "right": width - 8,
        "bars": bars,
        "ticks": [{"value": t, "y": round(top + plot_h - plot_h * t / scale, 1)} for t in ticks],
    }


def status_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    by_status = summary.get("by_status") or {}
    total = sum(_amount((v or {}).get("sum")) for v in by_status.values()) or Decimal(1)
    return [
        {
            "status": s,
            "count": (v or {}).get("count", 0),
            "sum": (v or {}).get("sum"),
            "share": _amount(v.get("sum")) / total,
        }
        for s, v in by_status.items()
        if isinstance(v, dict)
    ]


@router.get("/analytics")
async def analytics(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-10: the summary of the period, grouped as asked: figures, chart and its table, the groups."""
    require_staff(user)
    period = Period.from_request(request)
    errors = dict(period.errors)
    summary: dict[str, Any] | None = None
    if not errors:
        try:
            summary = await api.analytics.summary(period.params())
        except ServiceError as exc:
            if exc.status not in (400, 422):
                raise
            errors = form_errors(exc)
    context = {
        "period": period,
        "summary": summary,
        "errors": errors,
        "chart": chart(list((summary or {}).get("series") or [])),
        "statuses": status_rows(summary or {}),
        "group_bys": GROUP_BYS,
        "intervals": INTERVALS,
        "figure_name": figure_name,
    }
    partial = is_htmx(request) and request.headers.get("HX-Target") == "report"
    return render(
        request, "analytics/page.html", context, block="report" if partial else None, status_code=422 if errors else 200
    )


@router.get("/analytics/details")
async def details(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-10: the orders behind a figure (of a group, of a period), a page at a time."""
    require_staff(user)
    period = Period.from_request(request)
    q = request.query_params
    figure = q.get("figure") or "all"
    figure = figure if figure in FIGURES or figure.startswith("status:") else "all"
    offset = q.get("offset") or "0"
    offset_n = int(offset) if offset.isdigit() and int(offset) <= 100_000 else 0
    filters = {k: q.get(k) for k in ("buyer_id", "manager_id", "period") if q.get(k)}
    errors = dict(period.errors)
    page: dict[str, Any] = {"items": [], "total": 0}
    if not errors:
        params = {
            "date_from": period.date_from,
            "date_to": period.date_to,
            "interval": period.interval,
            "figure": figure,
            "limit": DETAILS_PAGE,
            "offset": offset_n,
            **filters,
        }
        try:
            page = await api.analytics.details(params)
        except ServiceError as exc:
            if exc.status not in (400, 422):
                raise
            errors = form_errors(exc)
    items = list(page.get("items") or [])
    total = int(page.get("total") or 0)
    extra = {"figure": figure, **filters}
    pager = {
        "first": offset_n + 1 if items else 0,
        "last": offset_n + len(items),
        "total": total,
        "prev": period.url("/analytics/details", **extra, offset=max(offset_n - DETAILS_PAGE, 0)) if offset_n else None,
        "next": period.url("/analytics/details", **extra, offset=offset_n + DETAILS_PAGE)
        if offset_n + len(items) < total
        else None,
    }
    context = {
        "period": period,
        "items": items,
        "pager": pager,
        "figure": figure,
        "filters": filters,
        "errors": errors,
        "figure_name": figure_name,
    }
    return render(request, "analytics/details.html", context, status_code=422 if errors else 200)


@router.get("/analytics/export.xlsx")
async def export(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-10, R-AN-2: the summary as the analytics service writes it to Excel, in the page's language."""
    require_staff(user)
    period = Period.from_request(request)
    if period.errors:
        raise ServiceError("console", 422, "invalid_filter", next(iter(period.errors.values())))
    content = await api.analytics.export(period.params(lang=i18n.current_locale()))
    name = f"orders-summary-{period.group_by}-{period.date_from}-{period.date_to}.xlsx"
    return Response(
        content,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


FIGURE_NAMES = {
    "all": lambda: _("All orders"),
    "confirmed": lambda: _("Confirmed"),
    "shipped": lambda: _("Shipped"),
    "rejected": lambda: _("Rejected"),
    "cancelled": lambda: _("Cancelled"),
    "overdue": lambda: _("Overdue"),
    "paid": lambda: _("Paid"),
}


def figure_name(code: str) -> str:
    """A figure's name in the user's language (templates: ``figure_name``)."""
    if code.startswith("status:"):
        return status_name(code.removeprefix("status:"))
    name = FIGURE_NAMES.get(code)
    return name() if name else code
