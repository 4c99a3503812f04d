"""R-UI-12: the printable order and its PDF, with both sides' details, lines, VAT and totals."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from oms_console import pdf
from tests.unit.console.conftest import Console, a_me
from tests.unit.console.orders_data import BUYER, ORDER_ID, PART_ID, a_line, an_order

PRINT = f"/orders/{ORDER_ID}/print"


def an_order_with_a_part(console: Console) -> None:
    orders = console.services.orders
    orders.get(f"/api/v1/orders/{ORDER_ID}").respond(
        200, json=an_order("confirmed", part_ids=[PART_ID], shipment_date="2026-12-22"), headers={"ETag": '"3"'}
    )
    part = an_order(
        "confirmed",
        order_id=PART_ID,
        number="1024-1",
        parent_order_id=ORDER_ID,
        lines=[a_line("l-9", sku="WASHER-8", name="Шайба М8", quantity="4", price="2.50", gross_amount="10.00")],
        total="10.00",
    )
    orders.get(f"/api/v1/orders/{PART_ID}").respond(200, json=part, headers={"ETag": '"1"'})
    orders.get(f"/api/v1/buyers/{BUYER}").respond(
        200, json={"buyer_id": BUYER, "name": "ИП Смирнов Иван", "inn": "770123456789", "kpp": "", "contacts": ""}
    )


def test_the_print_page_shows_both_sides_lines_vat_and_totals_in_russian(console: Console) -> None:
    """R-UI-12: the order and its parts with the supplier's and the buyer's details, lines, VAT, totals,
    formatted money and dates, and print styles."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    page = staff.get(PRINT)
    assert page.status_code == 200
    text = page.text
    assert '<html lang="ru">' in text
    assert "Заказ № 1024 от 01.12.2026" in text
    assert "ООО Ромашка" in text and "ИП Смирнов Иван" in text and "770123456789" in text
    assert "Болт М8" in text and "Часть 1024-1" in text and "Шайба М8" in text
    assert "В том числе НДС" in text and "250,00" in text
    assert "Всего к оплате" in text and "1\u00a0500,00\u00a0₽" in text
    assert "Дата отгрузки" in text and "22.12.2026" in text
    assert "@media print" in text
    assert f'href="/orders/{ORDER_ID}/print.pdf"' in text


def test_the_pdf_has_the_order_number_the_cyrillic_buyer_and_the_total(console: Console) -> None:
    """R-UI-12: the PDF, made on the server from the same HTML with the vendored Cyrillic font, carries the
    order number, the buyer's name in Cyrillic and the total."""
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    answer = staff.get(f"{PRINT}.pdf")
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(answer.content))
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    assert "1024" in text
    assert "ИП Смирнов Иван" in text
    assert "Всего к оплате" in text
    assert re.search(r"1\s?500,00\s?₽", text), text
    fonts = {
        str(font.get("/BaseFont", ""))
        for page in reader.pages
        for font in (page["/Resources"].get("/Font") or {}).values()  # type: ignore[union-attr]
        for font in [font.get_object()]
    }
    assert any("OMS-DejaVu-Sans" in name for name in fonts), fonts  # the vendored font, embedded


def test_without_weasyprint_the_pdf_link_says_so_and_the_print_page_still_works(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-UI-12: a machine where WeasyPrint cannot load answers the PDF link with a clear message."""

    def missing() -> None:
        raise pdf.PdfUnavailable("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr(pdf, "_weasyprint", missing)
    staff = console.signed_in_as_staff()
    an_order_with_a_part(console)
    answer = staff.get(f"{PRINT}.pdf")
    assert answer.status_code == 503
    assert "Сейчас сервер не может сделать PDF-файл. Распечатайте эту страницу." in answer.text
    assert "Болт М8" in answer.text
    assert staff.get(PRINT).status_code == 200


def test_the_pdf_fetches_only_the_consoles_own_static_files() -> None:
    """R-UI-12: the renderer reads the vendored font and nothing outside the console's static files."""
    assert pdf.static_file(pdf.BASE_URL + "static/vendor/dejavu-sans-2.37.3.ttf") is not None
    assert pdf.static_file(pdf.BASE_URL + "static/../pdf.py") is None
    assert pdf.static_file("file:///etc/passwd") is None
    assert pdf.static_file("http://example.com/static/console.css") is None


def test_the_print_page_speaks_the_users_language(console: Console) -> None:
    """R-UI-12: an English-speaking user gets the printed order in English, with English formats."""
    staff = console.signed_in_as(a_me("supplier", locale="en"))
    an_order_with_a_part(console)
    page = staff.get(PRINT)
    assert '<html lang="en">' in page.text
    assert "Order No. 1024 of 12/1/26" in page.text
    assert "Total to pay" in page.text and "RUB1,500.00" in page.text
    assert "Всего к оплате" not in page.text


def test_a_buyer_prints_with_its_own_details(console: Console) -> None:
    """R-UI-12: a buyer's print shows its own INN and KPP (from its account) and the supplier's name."""
    me = a_me("buyer", name="Иван Смирнов")
    me["account"] |= {"inn": "501234567890", "kpp": "501001001"}
    buyer = console.signed_in_as(me)
    console.services.orders.get(f"/api/v1/orders/{ORDER_ID}").respond(200, json=an_order("new"))
    page = buyer.get(PRINT)
    assert page.status_code == 200
    assert "501234567890" in page.text and "501001001" in page.text and "ООО Ромашка" in page.text
