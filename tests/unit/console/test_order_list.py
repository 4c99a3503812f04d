"""R-UI-3: the order lists on both sides, with every filter, sort and page in the URL, and the Excel export."""

from __future__ import annotations

import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
from openpyxl import load_workbook

from tests.unit.console.builders import BUYER_ID, PRICE_LIST_ID, a_page, a_summary
from tests.unit.console.conftest import Console, a_me, me_answers_after


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(str(request.url)).query)


def test_staff_see_customer_orders_with_names_pills_and_totals(console: Console) -> None:
    """R-UI-3: customer orders: buyer and responsible named, status and payment pills, money summed."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(
        200,
        json=a_page(
            a_summary(number="41", total="1234.5", paid_amount="1234.5", status="confirmed"),
            a_summary(number="42", total="1000", paid_amount="100", overdue=True),
            total=2,
        ),
    )
    page = console.get("/orders")
    assert page.status_code == 200
    text = page.text.replace("\u00a0", " ").replace("\u202f", " ")
    assert "<h1>Заказы покупателей</h1>" in text
    assert "ИП Смирнов" in text and "Мария Менеджер" in text
    assert '<span class="pill pill-confirmed">Подтверждён</span>' in text
    assert '<span class="pill pill-pay-paid">Оплачен</span>' in text
    assert '<span class="pill pill-pay-partial">Оплачен частично</span>' in text
    assert "2 234,50 ₽" in text  # the page's total
    assert "1 334,50 ₽" in text  # the page's paid
    assert "просрочен" in text
    assert "2 заказа" in text


def test_the_list_is_asked_for_together_with_the_user(console: Console) -> None:
    """R-UI-3: the page of orders does not wait for the user's own answer: one round of service calls."""
    console.signed_in_as_staff()
    listing = console.services.orders.get("/api/v1/orders").respond(200, json=a_page(a_summary(number="41")))
    asked = me_answers_after(console, listing)
    page = console.get("/orders")
    assert page.status_code == 200 and ">41</a>" in page.text
    assert sorted(asked) == ["/api/v1/me", "/api/v1/orders"]
    assert page.headers["X-OMS-Service-Calls"] == "6"  # with the badge and the names (buyers, price lists, people)


def test_buyers_see_orders_to_suppliers_named_by_supplier(console: Console) -> None:
    """R-UI-3: the buyer's side: "orders to suppliers", the supplier's name, no staff-only filters."""
    console.signed_in_as_buyer()
    console.services.orders.get("/api/v1/orders").respond(200, json=a_page(a_summary()))
    text = console.get("/orders").text
    assert "<h1>Заказы поставщикам</h1>" in text
    assert "ООО Ромашка" in text
    assert 'name="buyer_id"' not in text


def test_every_filter_sort_and_page_in_the_url_reaches_the_api(console: Console) -> None:
    """R-UI-3: the filters, the sort and the page live in the URL and go to the orders API as they are."""
    console.signed_in_as_staff()
    listing = console.services.orders.get("/api/v1/orders").respond(200, json=a_page(a_summary(), total=120))
    url = (
        f"/orders?status=new&status=confirmed&buyer_id={BUYER_ID}&price_list_id={PRICE_LIST_ID}&number=42"
        "&search=Смирнов&created_from=2026-12-01&created_to=2026-12-31&shipment_from=2026-12-10"
        "&shipment_to=2026-12-20&updated_from=2026-12-02&updated_to=2026-12-03&total_min=100&total_max=5000,5"
        "&paid_min=0&paid_max=10&overdue=true&sort=-total&per_page=25&page=3"
    )
    page = console.get(url)
    assert page.status_code == 200
    sent = query_of(listing.calls.last.request)
    assert sent == {
        "status": ["new,confirmed"],
        "buyer_id": [BUYER_ID],
        "price_list_id": [PRICE_LIST_ID],
        "number": ["42"],
        "search": ["Смирнов"],
        "created_from": ["2026-12-01"],
        "created_to": ["2026-12-31"],
        "shipment_from": ["2026-12-10"],
        "shipment_to": ["2026-12-20"],
        "updated_from": ["2026-12-02"],
        "updated_to": ["2026-12-03"],
        "total_min": ["100"],
        "total_max": ["5000.5"],
        "paid_min": ["0"],
        "paid_max": ["10"],
        "overdue": ["true"],
        "sort": ["-total"],
        "limit": ["25"],
        "offset": ["50"],
    }
    html = page.text
    # The filters show what is applied; the pages and the sort links keep every filter.
    assert 'value="new" checked' in html and 'value="confirmed" checked' in html
    assert f'<option value="{BUYER_ID}" selected>' in html
    assert 'name="total_max" value="5000.5"' in html
    assert 'aria-sort="descending"' in html
    prev = next(a for a in html.split("<a ") if 'rel="prev"' in a)
    assert "page=2" in prev and "status=confirmed" in prev and "sort=-total" in prev and "per_page=25" in prev
    nxt = next(a for a in html.split("<a ") if 'rel="next"' in a)
    assert "page=4" in nxt


def test_a_changed_filter_from_htmx_renders_only_the_results(console: Console) -> None:
    """R-UI-3: the filter form updates the results in place (and htmx pushes the URL)."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(200, json=a_page(a_summary(number="77")))
    answer = console.get("/orders?status=new", headers={"HX-Request": "true", "HX-Target": "results"})
    assert answer.status_code == 200
    assert "<html" not in answer.text and 'class="filters"' not in answer.text
    assert ">77</a>" in answer.text


def test_a_mistyped_filter_is_said_next_to_it_and_kept(console: Console) -> None:
    """R-UI-3: a wrong date or amount is shown next to its field, in Russian, with what was typed; the API is
    not asked."""
    console.signed_in_as_staff()
    listing = console.services.orders.get("/api/v1/orders").respond(200, json=a_page())
    page = console.get("/orders?created_from=31.12.2026&total_min=много&status=new")
    assert page.status_code == 422
    assert "Введите дату." in page.text and "Введите сумму." in page.text
    assert 'value="31.12.2026"' in page.text and 'value="много"' in page.text
    assert 'value="new" checked' in page.text
    assert not listing.called


def test_a_mistyped_filter_is_said_in_the_users_language(console: Console) -> None:
    """R-UI-3 / R-UI-1: the messages next to the filters follow the user's locale, not only the browser's."""
    console.signed_in_as(a_me("supplier", locale="en"))
    page = console.get("/orders?created_from=31.12.2026", headers={"Accept-Language": "ru"})
    assert page.status_code == 422
    assert "Enter a date." in page.text


def test_a_refusal_of_the_api_keeps_the_filters(console: Console) -> None:
    """R-UI-3: a 422 of the orders API shows as an error above the results; the filters stay."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(
        422,
        json={
            "error": {
                "code": "validation_error",
                "message": "the request is not valid; see details",
                "details": [{"field": "search", "reason": "String should have at most 200 characters"}],
            }
        },
    )
    page = console.get("/orders?search=Смирнов")
    assert page.status_code == 422
    assert 'value="Смирнов"' in page.text
    assert 'class="flash flash-error"' in page.text


def test_the_export_honours_the_filters_and_sort(console: Console) -> None:
    """R-UI-3: the export link carries the list's query; the workbook has the filtered rows, pages followed."""
    console.signed_in_as_staff()
    listing = console.services.orders.get("/api/v1/orders")
    listing.side_effect = [
        httpx.Response(200, json=a_page(a_summary(number="41", total="1234.5"), total=2)),
        httpx.Response(200, json=a_page(a_summary(number="41", total="1234.5"), total=2, next_cursor="c1")),
        httpx.Response(200, json=a_page(a_summary(number="42", status="confirmed"), total=2)),
    ]
    html = console.get("/orders?status=new&sort=-total&buyer_id=" + BUYER_ID).text
    link = next(a for a in html.split("<a ") if "export.xlsx" in a).split('href="')[1].split('"')[0]
    link = link.replace("&amp;", "&")
    assert urlsplit(link).path == "/orders/export.xlsx"
    assert parse_qs(urlsplit(link).query) == {"status": ["new"], "sort": ["-total"], "buyer_id": [BUYER_ID]}

    answer = console.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    first, second = (query_of(c.request) for c in listing.calls[1:])
    assert first["status"] == ["new"] and first["sort"] == ["-total"] and first["buyer_id"] == [BUYER_ID]
    assert "cursor" not in first and second["cursor"] == ["c1"]
    sheet = load_workbook(io.BytesIO(answer.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("Номер", "Создан", "Покупатель", "Прайс-лист", "Статус")
    assert [r[0] for r in rows[1:]] == ["41", "42"]
    assert float(rows[1][7]) == 1234.5
    assert rows[2][4] == "Подтверждён"


def test_the_russian_list_has_no_english(console: Console) -> None:
    """R-UI-3: every word the console itself writes on the list is Russian (filters, headings, pills, pager)."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(
        200, json=a_page(a_summary(status="awaiting_approval", overdue=True), total=1, next_cursor="c")
    )
    html = console.get("/orders?status=new&total_min=1").text
    visible = unescape(re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", html, flags=re.S))
    assert set(re.findall(r"[A-Za-z]{3,}", visible)) <= {"OMS", "Excel"}
    placeholders = re.findall(r'(?:placeholder|aria-label|title)="([^"]*)"', html)
    assert all(not re.search(r"[A-Za-z]{3,}", p) for p in placeholders), placeholders
