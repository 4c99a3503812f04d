"""R-UI-10: analytics in the console — period and grouping in the URL, chart beside its table, details, Excel."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.unit.console.conftest import Console, a_me

BUYER = "7e6d5c4b-3a2f-4e1d-9c8b-a7f6e5d4c3b2"
STATUSES = ("new", "editing", "awaiting_approval", "agreed", "confirmed", "shipped", "rejected", "cancelled")


def a_report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date_from": "2026-03-01",
        "date_to": "2026-03-03",
        "group_by": "none",
        "interval": "day",
        "orders_count": 3,
        "orders_sum": "4800.00",
        "by_status": {s: {"count": 0, "sum": "0.00"} for s in STATUSES},
        "confirmed": {"count": 1, "sum": "1200.00", "share": 0.25},
        "shipped": {"count": 2, "sum": "3600.00", "share": 0.75},
        "rejected": {"count": 0, "sum": "0.00", "share": 0},
        "cancelled": {"count": 0, "sum": "0.00", "share": 0},
        "paid_sum": "3600.00",
        "average_order": "1600.00",
        "median_hours_to_confirm": 2.5,
        "median_hours_to_ship": 30.0,
        "overdue_count": 0,
        "series": [
            {"period": "2026-03-01", "count": 2, "sum": "3600.00", "confirmed": 0, "shipped": 2},
            {"period": "2026-03-02", "count": 0, "sum": "0.00", "confirmed": 0, "shipped": 0},
            {"period": "2026-03-03", "count": 1, "sum": "1200.00", "confirmed": 1, "shipped": 0},
        ],
    }
    body["by_status"]["shipped"] = {"count": 2, "sum": "3600.00"}
    body["by_status"]["confirmed"] = {"count": 1, "sum": "1200.00"}
    body.update(overrides)
    return body


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def test_the_period_and_grouping_in_the_url_reach_the_service_and_the_figures_show_with_chart_and_table(
    console: Console,
) -> None:
    """R-UI-10, R-AN-1: the summary of the period from the URL: figures, an SVG chart in Russian and its table."""
    console.signed_in_as_staff()
    summary = console.services.analytics.get("/api/v1/summary").respond(200, json=a_report())
    page = console.get("/analytics?date_from=2026-03-01&date_to=2026-03-03&group_by=none&interval=day")
    assert page.status_code == 200
    assert query_of(summary.calls.last.request) == {
        "date_from": ["2026-03-01"],
        "date_to": ["2026-03-03"],
        "group_by": ["none"],
        "interval": ["day"],
    }
    text = plain(page.text)
    assert "<h1>Аналитика</h1>" in text
    assert "<svg" in text and "01.03.2026: 2 · 3 600,00 ₽" in text  # a bar, labelled in Russian
    assert "4 800,00 ₽" in text  # the table's total
    assert 'href="/analytics/export.xlsx?date_from=2026-03-01&amp;date_to=2026-03-03' in text
    assert "/analytics/details?date_from=2026-03-01&amp;date_to=2026-03-03&amp;group_by=none&amp;interval=day" in text


def test_a_summary_by_buyer_lists_what_the_service_answers_for_this_manager(console: Console) -> None:
    """R-UI-10, R-AN-3: by buyer, the groups the service answers (a restricted manager's buyers only) are shown."""
    console.signed_in_as(a_me("supplier", is_owner=False, access_buyers="own"))
    group = {
        "key": BUYER,
        "name": "ИП Покупатель",
        **{k: v for k, v in a_report().items() if k not in ("series", "date_from", "date_to", "group_by", "interval")},
    }
    console.services.analytics.get("/api/v1/summary").respond(
        200, json=a_report(group_by="buyer", groups=[group], group_medians_omitted=False)
    )
    text = plain(console.get("/analytics?date_from=2026-03-01&date_to=2026-03-03&group_by=buyer").text)
    assert "ИП Покупатель" in text
    assert f"buyer_id={BUYER}" in text
    assert "ООО Другой" not in text


def test_a_mistyped_period_is_said_next_to_its_field_without_asking_the_service(console: Console) -> None:
    """R-UI-10: a wrong date stays in the form with a message; the service is not called."""
    console.signed_in_as_staff()
    summary = console.services.analytics.get("/api/v1/summary").respond(200, json=a_report())
    page = console.get("/analytics?date_from=2026-03-05&date_to=2026-03-01")
    assert page.status_code == 422
    assert "Конец раньше начала." in page.text or "раньше" in page.text
    assert 'value="2026-03-05"' in page.text
    assert not summary.called


def test_the_service_refusing_the_period_is_a_clear_message_not_an_error_page(console: Console) -> None:
    """R-UI-10: a 422 of the service is shown above the form."""
    console.signed_in_as_staff()
    console.services.analytics.get("/api/v1/summary").respond(
        422, json={"error": {"code": "range_too_long", "message": "too long", "details": None}}
    )
    page = console.get("/analytics?date_from=2026-03-01&date_to=2026-03-03")
    assert page.status_code == 422
    assert "flash-error" in page.text


def test_details_list_the_orders_behind_a_figure_page_by_page(console: Console) -> None:
    """R-UI-10: the orders behind a figure, linked to their pages, with the next page when there is one."""
    console.signed_in_as_staff()
    item = {
        "order_id": "0b3c6a9e-1111-4c5d-8e9f-000000000001",
        "number": "1001",
        "buyer_id": BUYER,
        "buyer_name": "ИП Покупатель",
        "responsible_user_id": None,
        "responsible_name": None,
        "status": "shipped",
        "total": "1800.00",
        "paid": "1800.00",
        "placed_at": "2026-03-01T09:00:00+00:00",
        "overdue": False,
    }
    details = console.services.analytics.get("/api/v1/summary/details").respond(
        200, json={"items": [item], "total": 120, "limit": 50, "offset": 0}
    )
    page = console.get(f"/analytics/details?date_from=2026-03-01&date_to=2026-03-03&figure=shipped&buyer_id={BUYER}")
    assert page.status_code == 200
    sent = query_of(details.calls.last.request)
    assert sent["figure"] == ["shipped"] and sent["buyer_id"] == [BUYER] and sent["offset"] == ["0"]
    text = plain(page.text)
    assert '<a href="/orders/0b3c6a9e-1111-4c5d-8e9f-000000000001">1001</a>' in text
    assert "1 800,00 ₽" in text
    assert "offset=50" in text


def test_the_excel_download_is_the_services_workbook_in_the_pages_language(console: Console) -> None:
    """R-UI-10, R-AN-2: the Excel file is the analytics workbook for the same period, in the user's language."""
    console.signed_in_as_staff()
    export = console.services.analytics.get("/api/v1/summary/export.xlsx").respond(200, content=b"PK-workbook")
    answer = console.get("/analytics/export.xlsx?date_from=2026-03-01&date_to=2026-03-03&group_by=manager")
    assert answer.status_code == 200
    assert answer.content == b"PK-workbook"
    assert "attachment" in answer.headers["content-disposition"]
    sent = query_of(export.calls.last.request)
    assert sent["lang"] == ["ru"] and sent["group_by"] == ["manager"]


def test_buyers_do_not_see_analytics(console: Console) -> None:
    """R-UI-10: analytics is the supplier's screen."""
    console.signed_in_as_buyer()
    assert console.get("/analytics").status_code == 404
