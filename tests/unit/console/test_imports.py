"""R-UI-7 / R-IN-3: a manager imports an order for a buyer from Excel: the templates, the upload (bounded by the
console before it is forwarded), the row-by-row report, the new order's link."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from oms_console.app import create_app
from oms_console.settings import Settings
from tests.unit.console.conftest import CONSOLE, Console, Services

PL = "11111111-1111-4111-8111-111111111111"
BUYER = "44444444-4444-4444-8444-444444444444"
ORDER_ID = "33333333-3333-4333-8333-333333333333"
XLSX = b"PK\x03\x04 a small workbook"


def serve_choices(console: Console) -> None:
    console.services.orders.get("/api/v1/buyers").respond(
        200, json={"items": [{"buyer_id": BUYER, "name": "ИП Смирнов", "inn": "7701234567"}], "total": 1}
    )
    console.services.orders.get("/api/v1/price-lists").respond(
        200, json={"items": [{"price_list_id": PL, "name": "Крепёж опт"}], "total": 1}
    )


def upload(console: Console, content: bytes = XLSX, **fields: Any) -> Any:
    data = {"buyer_id": BUYER, "price_list_id": PL, "idempotency_key": "key-1", **fields}
    return console.post("/orders/import", data, files={"file": ("order.xlsx", content)})


def test_the_import_page_offers_both_templates_buyers_and_price_lists(console: Console) -> None:
    """R-UI-7: the page offers the generic template and each price list's, and the buyer and price list to choose."""
    console.signed_in_as_staff()
    serve_choices(console)
    page = console.get("/orders/import")
    assert page.status_code == 200
    assert 'href="/orders/import/template.xlsx"' in page.text
    assert f'href="/orders/import/template.xlsx?price_list={PL}"' in page.text
    assert "ИП Смирнов" in page.text and "Крепёж опт" in page.text
    assert 'enctype="multipart/form-data"' in page.text


def test_the_templates_download_from_the_orders_service(console: Console) -> None:
    """R-UI-7: both templates come from the orders service, in the page's language, as .xlsx downloads."""
    console.signed_in_as_staff()
    generic = console.services.orders.get("/api/v1/imports/template.xlsx").respond(200, content=b"generic")
    own = console.services.orders.get(f"/api/v1/price-lists/{PL}/import-template.xlsx").respond(200, content=b"own")
    first = console.get("/orders/import/template.xlsx")
    assert first.status_code == 200 and first.content == b"generic"
    assert first.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in first.headers["content-disposition"]
    assert generic.calls.last.request.url.params["lang"] == "ru"
    second = console.get(f"/orders/import/template.xlsx?price_list={PL}")
    assert second.content == b"own" and own.called


def test_an_imported_order_links_to_its_page(console: Console) -> None:
    """R-UI-7: the file goes to the orders service with the buyer and price list; the page links the new order."""
    console.signed_in_as_staff()
    serve_choices(console)
    imported = console.services.orders.post("/api/v1/orders/import").respond(
        201, json={"order_id": ORDER_ID, "number": "R-7", "status": "editing"}
    )
    answer = upload(console)
    assert answer.status_code == 201
    assert f'href="/orders/{ORDER_ID}"' in answer.text
    assert "Заказ R-7 создан" in answer.text
    request = imported.calls.last.request
    assert request.headers["Idempotency-Key"] == "key-1"
    body = request.content
    assert XLSX in body and BUYER.encode() in body and PL.encode() in body


def test_bad_rows_are_reported_row_by_row(console: Console) -> None:
    """R-UI-7, R-IN-3: nothing imported; each bad row with its SKU and what is wrong (in the page's language);
    the choices kept."""
    console.signed_in_as_staff()
    serve_choices(console)
    console.services.orders.post("/api/v1/orders/import").respond(
        422,
        json={
            "error": {
                "code": "invalid_lines",
                "message": "2 rows are not valid; nothing was imported",
                "details": [
                    {"row": 3, "sku": "NOPE-1", "reasons": ["SKU 'NOPE-1' is not in this price list"]},
                    {"row": 5, "sku": "BOLT-M8", "reasons": ["quantity must be greater than zero"]},
                ],
            }
        },
    )
    answer = upload(console)
    assert answer.status_code == 422
    assert "Ничего не загружено" in answer.text
    for shown in ("Артикула NOPE-1 нет в этом прайс-листе", "BOLT-M8", "Количество должно быть больше нуля"):
        assert shown in answer.text
    assert '<td class="num">3</td>' in answer.text and '<td class="num">5</td>' in answer.text
    assert f'<option value="{BUYER}" selected>' in answer.text


def test_a_sheet_without_the_templates_columns_is_said_next_to_the_file(console: Console) -> None:
    """R-UI-7: a workbook that is not the template is refused next to the file field, in the page's language."""
    console.signed_in_as_staff()
    serve_choices(console)
    console.services.orders.post("/api/v1/orders/import").respond(
        422,
        json={
            "error": {
                "code": "invalid_import",
                "message": "the sheet must have the columns sku, warehouse, quantity; missing: sku",
                "details": {"missing_columns": ["sku"], "expected": ["sku", "warehouse", "quantity"]},
            }
        },
    )
    answer = upload(console)
    assert answer.status_code == 422
    assert 'id="file-error"' in answer.text
    assert "В листе нет столбцов шаблона" in answer.text


def test_a_missing_file_and_choices_are_said_next_to_the_fields(console: Console) -> None:
    """R-UI-7: no buyer, no price list, no file: each said next to its field; nothing is sent."""
    console.signed_in_as_staff()
    serve_choices(console)
    imported = console.services.orders.post("/api/v1/orders/import").respond(201, json={})
    answer = console.post("/orders/import", {"buyer_id": "", "price_list_id": ""}, files={"file": ("", b"")})
    assert answer.status_code == 422
    for field in ("buyer_id", "price_list_id", "file"):
        assert f'id="{field}-error"' in answer.text
    assert not imported.called


def test_a_buyer_the_manager_is_not_responsible_for_is_said_next_to_the_buyer(console: Console) -> None:
    """R-UI-7: the orders service decides who may import for whom; its refusal is shown next to the buyer."""
    console.signed_in_as_staff()
    serve_choices(console)
    console.services.orders.post("/api/v1/orders/import").respond(
        403, json={"error": {"code": "not_your_buyer", "message": "you are not responsible", "details": None}}
    )
    answer = upload(console)
    assert answer.status_code == 422
    assert "Вы не отвечаете за этого покупателя." in answer.text


@pytest.fixture
def small_upload_console(services: Services, console_settings: Settings) -> Any:
    settings = console_settings.model_copy(update={"max_upload_bytes": 1024})
    with TestClient(create_app(settings), base_url=CONSOLE, raise_server_exceptions=False) as client:
        yield Console(client, services)


def test_an_over_large_file_is_refused_by_the_console_before_it_is_forwarded(small_upload_console: Console) -> None:
    """R-UI-7: a file over the upload limit never reaches the orders service; the page says how large it may be."""
    console = small_upload_console
    console.signed_in_as_staff()
    serve_choices(console)
    imported = console.services.orders.post("/api/v1/orders/import").respond(201, json={})
    answer = upload(console, b"x" * 2048)
    assert answer.status_code == 413
    assert 'id="file-error"' in answer.text
    assert not imported.called
    # Far over the limit (more than the form's allowance): refused before the body is read at all.
    refused = upload(console, b"x" * 200_000)
    assert refused.status_code == 413
    assert not imported.called


def test_buyers_do_not_see_the_import(console: Console) -> None:
    """R-UI-7: import is the manager's (R-IN-3): a buyer finds no such page."""
    console.signed_in_as_buyer()
    assert console.get("/orders/import").status_code == 404
