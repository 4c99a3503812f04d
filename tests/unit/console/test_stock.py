"""The stock screens (R-UI-9): stock per warehouse, the drill-down to the orders holding an item and back from an
order line, manual reserves, expected deliveries and their receipt, stock from a file."""

from __future__ import annotations

import json
from html import unescape

import httpx

from tests.unit.console.builders import ORDER_ID, WAREHOUSE_ID, a_line, an_order
from tests.unit.console.conftest import Console, a_me
from tests.unit.console.test_order_page import answer_order

LINE_ID = "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f"
INCOMING_ID = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
ITEM = f"/stock/item?warehouse={WAREHOUSE_ID}&sku=A-100"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def answer_warehouses(console: Console) -> None:
    console.services.inventory.get("/api/v1/warehouses").respond(
        200,
        json={
            "items": [{"warehouse_id": WAREHOUSE_ID, "code": "MSK", "name": "Москва"}],
            "total": 1,
            "limit": 200,
            "offset": 0,
        },
    )


def a_stock_item(**overrides: object) -> dict[str, object]:
    return {
        "warehouse_id": WAREHOUSE_ID,
        "sku": "A-100",
        "name": "Болт М8",
        "unit": "шт",
        "on_hand": "120",
        "reserved": "10",
        "available": "110",
        "incoming": "50",
        **overrides,
    }


def answer_item(console: Console, *holders: dict[str, object]) -> None:
    console.services.inventory.get("/api/v1/stock/reserves").respond(
        200, json={**a_stock_item(), "holders": list(holders)}
    )


ORDER_HOLDER: dict[str, object] = {
    "kind": "order",
    "order_id": ORDER_ID,
    "order_number": "42",
    "buyer_name": "ООО «Стройка»",
    "line_id": LINE_ID,
    "reserved": "8",
    "requested": "10",
    "shortage": "2",
    "since": "2026-12-01T09:00:00+00:00",
}
INTEGRATION_HOLD: dict[str, object] = {
    "kind": "integration",
    "reserved": "2",
    "reason": "erp",
    "by_user_id": None,
    "since": "2026-12-01T10:00:00+00:00",
}
MANUAL_HOLD: dict[str, object] = {
    "kind": "manual",
    "reserved": "5",
    "reason": "звонок",
    "by_user_id": "u-1",
    "since": "2026-12-01T11:00:00+00:00",
}


def test_stock_lists_items_per_warehouse_with_search_and_page_in_the_url(console: Console) -> None:
    """R-UI-9, R-STK-1: on hand, reserved, available and incoming per warehouse item; the warehouse, the search and
    the page are the URL's and reach inventory."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    stock = console.services.inventory.get("/api/v1/stock").respond(
        200, json={"items": [a_stock_item()], "total": 120, "limit": 50, "offset": 50}
    )
    page = console.get(f"/stock?warehouse={WAREHOUSE_ID}&q=болт&page=2")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Болт М8" in text and "Москва" in text and "110" in text and "50" in text
    sent = stock.calls.last.request.url.params
    assert sent["warehouse_id"] == WAREHOUSE_ID and sent["q"] == "болт" and sent["offset"] == "50"
    assert f"/stock/item?warehouse={WAREHOUSE_ID}&amp;sku=A-100" in page.text
    assert "page=3" in page.text and "page=1" not in page.text  # next page kept with the filters
    assert 'rel="prev"' in page.text


def test_stock_search_from_htmx_answers_only_the_results(console: Console) -> None:
    """R-UI-9: the filter form swaps only the table."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    console.services.inventory.get("/api/v1/stock").respond(
        200, json={"items": [], "total": 0, "limit": 50, "offset": 0}
    )
    page = console.htmx_get("/stock?q=nothing", headers={"HX-Target": "results"})
    assert page.status_code == 200
    assert "<html" not in page.text and "Ничего не найдено" in unescape(page.text)


def test_buyers_find_no_stock_screen(console: Console) -> None:
    """R-UI-9: stock is the supplier's screen; a buyer gets 404 and inventory is not asked."""
    console.signed_in_as_buyer()
    stock = console.services.inventory.get("/api/v1/stock").respond(200, json={"items": []})
    assert console.get("/stock").status_code == 404
    assert console.get(ITEM).status_code == 404
    assert not stock.called


def test_an_item_shows_the_orders_holding_it_by_number_and_buyer_and_marks_integration(console: Console) -> None:
    """R-RSV-5, R-UI-9: from a warehouse item to the orders holding it (number and buyer name, a link to the order
    page and to the line's reserve), manual and Integration reserves marked."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    answer_item(console, ORDER_HOLDER, INTEGRATION_HOLD, MANUAL_HOLD)
    page = console.get(ITEM)
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Заказ 42" in text and "ООО «Стройка»" in text
    assert "<h1>Болт М8 " in text and "Москва" in text and "<dd>110</dd>" in text  # the item's own figures
    assert f'href="/orders/{ORDER_ID}"' in page.text
    assert f'href="/stock/orders/{ORDER_ID}/lines/{LINE_ID}"' in page.text
    assert "Интеграция" in text and "Ручной резерв" in text and "звонок" in text
    assert ORDER_ID not in text.replace(f"/orders/{ORDER_ID}", "")  # ids only in links, never shown


def test_a_restricted_manager_sees_the_holders_inventory_gives_them(console: Console) -> None:
    """R-RSV-5, R-ACC-1: a manager restricted to their own buyers sees the item's totals and only the orders
    inventory answers for them (the service decides); the console adds nothing of its own."""
    me = a_me("supplier", is_owner=False, access_buyers="own", access_orders="change")
    me["access"] = {"buyers": "own", "orders": "change"}
    console.signed_in_as(me)
    answer_warehouses(console)
    answer_item(console, ORDER_HOLDER)
    text = unescape(console.get(ITEM).text)
    assert "Заказ 42" in text and "<dd>110</dd>" in text
    assert text.count('href="/orders/') == 1 + text.count('href="/orders/import"')


def test_the_item_page_in_english(console: Console) -> None:
    """R-UI-9: the same drill-down in English."""
    console.signed_in_as(_english_me())
    answer_warehouses(console)
    answer_item(console, ORDER_HOLDER, INTEGRATION_HOLD)
    text = unescape(console.get(ITEM).text)
    assert "Order 42" in text and "Integration" in text and "Who holds the reserves" in text


def _english_me() -> dict[str, object]:
    return a_me("supplier", locale="en")


def test_a_manual_reserve_is_set_and_the_page_says_so(console: Console) -> None:
    """R-RSV-3: the manual reserve of an item is set with its reason; the idempotency key is sent."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    answer_item(console, ORDER_HOLDER)
    put = console.services.inventory.put("/api/v1/manual-reserves").respond(200, json=a_stock_item())
    form = {"warehouse": WAREHOUSE_ID, "sku": "A-100", "quantity": "5,5", "reason": "звонок", "idempotency_key": "k-1"}
    answer = console.post("/stock/item/manual-reserve", form)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/stock/item?warehouse={WAREHOUSE_ID}&sku=A-100&done=reserve"
    body = json.loads(put.calls.last.request.content)
    assert body == {"warehouse_id": WAREHOUSE_ID, "sku": "A-100", "quantity": "5.5", "reason": "звонок"}
    assert put.calls.last.request.headers["Idempotency-Key"] == "k-1"
    assert "Ручной резерв сохранён" in unescape(console.get(answer.headers["location"]).text)


def test_a_manual_reserve_is_cleared(console: Console) -> None:
    """R-RSV-3: clearing sends 0, whatever the quantity field holds."""
    console.signed_in_as_staff()
    put = console.services.inventory.put("/api/v1/manual-reserves").respond(200, json=a_stock_item())
    form = {"warehouse": WAREHOUSE_ID, "sku": "A-100", "quantity": "7", "clear": "true"}
    answer = console.post("/stock/item/manual-reserve", form)
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=cleared")
    assert json.loads(put.calls.last.request.content)["quantity"] == "0"


def test_a_bad_quantity_is_said_next_to_its_field_and_nothing_is_sent(console: Console) -> None:
    """R-RSV-3: a quantity that is not a number is refused by the console with what was typed kept."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    answer_item(console)
    put = console.services.inventory.put("/api/v1/manual-reserves").respond(200, json=a_stock_item())
    answer = console.post("/stock/item/manual-reserve", {"warehouse": WAREHOUSE_ID, "sku": "A-100", "quantity": "-3x"})
    assert answer.status_code == 422
    assert "Введите количество" in unescape(answer.text) and 'value="-3x"' in answer.text
    assert not put.called


def test_more_than_available_is_refused_with_how_much_can_be_held(console: Console) -> None:
    """R-RSV-2, R-RSV-3: inventory refuses a manual reserve above availability; the page says the most it takes."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    answer_item(console)
    console.services.inventory.put("/api/v1/manual-reserves").respond(
        422,
        json={
            "error": {
                "code": "exceeds_available",
                "message": "only 115 can be reserved manually",
                "details": {"available": "110", "manual_reserved": "5"},
            }
        },
    )
    answer = console.post("/stock/item/manual-reserve", {"warehouse": WAREHOUSE_ID, "sku": "A-100", "quantity": "500"})
    assert answer.status_code == 422
    text = unescape(answer.text)
    assert "115" in text and 'value="500"' in answer.text


def test_from_an_order_line_to_its_reserve_and_back(console: Console) -> None:
    """R-RSV-5: the order page's line links to its reserve; the reserve page names the order and the buyer and
    leads to the warehouse item."""
    console.signed_in_as_staff()
    answer_order(console, an_order(lines=[a_line()]))
    order_page = console.get(f"/orders/{ORDER_ID}")
    assert f'href="/stock/orders/{ORDER_ID}/lines/{LINE_ID}"' in order_page.text
    answer_warehouses(console)
    console.services.inventory.get(f"/api/v1/orders/{ORDER_ID}/lines/{LINE_ID}/reserves").respond(
        200,
        json={
            "line_id": LINE_ID,
            "sku": "A-100",
            "warehouse_id": WAREHOUSE_ID,
            "requested": "10",
            "reserved": "8",
            "shortage": "2",
            "state": "active",
            "confirmed_at": "2026-12-01T09:00:00+00:00",
            "order_id": ORDER_ID,
            "order_number": "42",
            "buyer_name": "ООО «Стройка»",
            "entries": [{"kind": "order", "quantity": "8", "reason": "confirmed", "at": "2026-12-01T09:00:00+00:00"}],
        },
    )
    page = console.get(f"/stock/orders/{ORDER_ID}/lines/{LINE_ID}")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Заказ 42" in text and "ООО «Стройка»" in text and "Москва" in text
    assert f"/stock/item?warehouse={WAREHOUSE_ID}&amp;sku=A-100" in page.text


def test_a_line_of_an_order_not_yet_confirmed_says_nothing_is_reserved(console: Console) -> None:
    """R-RSV-5: an order inventory holds nothing for is said so, not an error page."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    console.services.inventory.get(f"/api/v1/orders/{ORDER_ID}/lines/{LINE_ID}/reserves").respond(
        404, json={"error": {"code": "order_not_found", "message": "inventory holds nothing for this order"}}
    )
    page = console.get(f"/stock/orders/{ORDER_ID}/lines/{LINE_ID}")
    assert page.status_code == 200 and "Пока ничего не зарезервировано" in unescape(page.text)


def test_buyers_see_no_reserve_link_on_their_order(console: Console) -> None:
    """R-RSV-5: the line's reserve is the supplier's view."""
    console.signed_in_as_buyer()
    answer_order(console, an_order(lines=[a_line()]))
    assert "/stock/orders/" not in console.get(f"/orders/{ORDER_ID}").text


def an_incoming(**overrides: object) -> dict[str, object]:
    return {
        "incoming_id": INCOMING_ID,
        "warehouse_id": WAREHOUSE_ID,
        "sku": "A-100",
        "quantity": "100",
        "expected_date": "2026-12-20",
        "status": "expected",
        **overrides,
    }


def test_expected_deliveries_are_listed_and_one_is_received(console: Console) -> None:
    """R-UI-9, R-STK-1: the expected deliveries with their quantity; receiving one puts it into stock."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    listed = console.services.inventory.get("/api/v1/incoming").respond(
        200, json={"items": [an_incoming()], "total": 1, "limit": 50, "offset": 0}
    )
    page = console.get("/stock/incoming")
    text = unescape(page.text)
    assert page.status_code == 200 and "20.12.2026" in text and "Принять" in text
    assert f'id="q-{INCOMING_ID}" name="quantity" inputmode="decimal" size="8" value="100"' in page.text
    assert listed.calls.last.request.url.params["status"] == "expected"
    received = console.services.inventory.post(f"/api/v1/incoming/{INCOMING_ID}/receive").respond(
        200, json=an_incoming(status="received", quantity="60")
    )
    answer = console.post(f"/stock/incoming/{INCOMING_ID}/receive", {"quantity": "60", "idempotency_key": "k-2"})
    assert answer.status_code == 303 and answer.headers["location"] == "/stock/incoming?done=received"
    assert received.calls.last.request.headers["Idempotency-Key"] == "k-2"
    assert json.loads(received.calls.last.request.content) == {"quantity": "60"}
    assert "Поставка принята" in unescape(console.get(answer.headers["location"]).text)


def test_a_bad_or_excessive_arrived_quantity_is_said_next_to_it(console: Console) -> None:
    """R-UI-9: a quantity that is not a number is refused before inventory is asked; more than expected is
    inventory's refusal, said next to the field with what was typed kept."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    console.services.inventory.get("/api/v1/incoming").respond(
        200, json={"items": [an_incoming()], "total": 1, "limit": 50, "offset": 0}
    )
    receive = console.services.inventory.post(f"/api/v1/incoming/{INCOMING_ID}/receive").respond(
        422, json={"error": {"code": "exceeds_expected", "message": "more than the 100 expected"}}
    )
    answer = console.post(f"/stock/incoming/{INCOMING_ID}/receive", {"quantity": "abc"})
    assert answer.status_code == 422 and "Введите количество, которое пришло" in unescape(answer.text)
    assert not receive.called and 'value="abc"' in answer.text
    answer = console.post(f"/stock/incoming/{INCOMING_ID}/receive", {"quantity": "150"})
    assert answer.status_code == 422 and "Больше, чем ожидается" in unescape(answer.text)
    assert 'value="150"' in answer.text and 'aria-invalid="true"' in answer.text


def test_a_delivery_received_twice_is_said_so(console: Console) -> None:
    """R-UI-9: a second receipt (another tab, a double click) is refused with a message, never counted twice."""
    console.signed_in_as_staff()
    answer_warehouses(console)
    console.services.inventory.get("/api/v1/incoming").respond(
        200, json={"items": [], "total": 0, "limit": 50, "offset": 0}
    )
    console.services.inventory.post(f"/api/v1/incoming/{INCOMING_ID}/receive").respond(
        409, json={"error": {"code": "already_received", "message": "the delivery is already received"}}
    )
    answer = console.post(f"/stock/incoming/{INCOMING_ID}/receive")
    assert answer.status_code == 409 and "уже принята" in unescape(answer.text)


def test_stock_upload_applies_the_file_and_says_how_many_items(console: Console) -> None:
    """R-UI-9, R-STK-1: stock on hand from an Excel file."""
    console.signed_in_as_staff()
    upload = console.services.inventory.post("/api/v1/stock/upload").respond(
        200, json={"items": [a_stock_item(), a_stock_item(sku="B-200")]}
    )
    files = {"file": ("stock.xlsx", b"PK\x03\x04 workbook", XLSX)}
    answer = console.post("/stock/upload", {"idempotency_key": "k-3"}, files=files)
    assert answer.status_code == 200
    assert "Остатки заданы для 2 позиций" in unescape(answer.text)
    assert b"PK\x03\x04 workbook" in upload.calls.last.request.content


def test_stock_upload_with_bad_rows_shows_the_row_report(console: Console) -> None:
    """R-UI-9: one bad row applies nothing; the report names each row and why, in the user's language."""
    console.signed_in_as_staff()
    console.services.inventory.post("/api/v1/stock/upload").respond(
        422,
        json={
            "error": {
                "code": "invalid_rows",
                "message": "2 row(s) are not valid; nothing was applied",
                "details": [
                    {"row": 3, "field": "sku", "code": "unknown_sku", "message": "no product with SKU 'X'"},
                    {"row": 5, "field": "on_hand", "code": "below_reserved", "message": "A-100: 10 is reserved"},
                ],
            }
        },
    )
    files = {"file": ("stock.xlsx", b"PK\x03\x04 workbook", XLSX)}
    answer = console.post("/stock/upload", files=files)
    assert answer.status_code == 422
    text = unescape(answer.text)
    assert "Ничего не изменено" in text
    assert "Нет товара с таким артикулом" in text and "Меньше, чем зарезервировано" in text
    assert "no product" not in text


def test_stock_upload_too_large_is_refused_before_inventory(console: Console, console_settings: object) -> None:
    """R-UI-9: the upload is bounded by the console; inventory is not called for a larger file."""
    console.signed_in_as_staff()
    upload = console.services.inventory.post("/api/v1/stock/upload").respond(200, json={"items": []})
    limit = console.client.app.state.settings.max_upload_bytes  # type: ignore[attr-defined]
    files = {"file": ("stock.xlsx", b"x" * (limit + 1), XLSX)}
    answer = console.post("/stock/upload", files=files)
    assert answer.status_code == 413 and not upload.called


def test_stock_upload_without_a_file_asks_for_one(console: Console) -> None:
    """R-UI-9: no file chosen is said next to the field."""
    console.signed_in_as_staff()
    answer = console.post("/stock/upload", {})
    assert answer.status_code == 422 and "Выберите файл Excel" in unescape(answer.text)


def test_inventory_down_shows_the_service_page(console: Console) -> None:
    """R-UI-9: inventory not answering is the "does not answer" page, never a trace."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/warehouses").mock(side_effect=httpx.ConnectError("down"))
    console.services.inventory.get("/api/v1/stock").mock(side_effect=httpx.ConnectError("down"))
    page = console.get("/stock")
    assert page.status_code == 503 and "Traceback" not in page.text
