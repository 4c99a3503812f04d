"""R-UI-2 / R-IN-1: the buyer's catalogue (price lists, names, units, prices, VAT, availability per warehouse and
in total, search, pages), the cart kept in the browser, and sending it as an order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oms_console.cart import CART_COOKIE, Cart, decode, encode
from oms_console.views.catalogue import error_id
from tests.unit.console.conftest import Console

PL = "11111111-1111-4111-8111-111111111111"
OTHER_PL = "22222222-2222-4222-8222-222222222222"
WH_A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
WH_B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
ORDER_ID = "33333333-3333-4333-8333-333333333333"


def a_price_list(items: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "price_list_id": PL,
        "supplier_id": "sup-1",
        "supplier_name": "ООО Ромашка",
        "name": "Крепёж опт",
        "warehouse_ids": [WH_A, WH_B],
        "warehouses": [{"warehouse_id": WH_A, "name": "Москва"}, {"warehouse_id": WH_B, "name": "Казань"}],
        "currency": "RUB",
        "vat_mode": "on_top",
        "items": items
        if items is not None
        else [
            {"sku": "BOLT-M8", "name": "Болт М8", "unit": "шт", "price": "12.50", "vat_rate": "20"},
            {"sku": "NUT-M8", "name": "Гайка М8", "unit": "шт", "price": "3.00", "vat_rate": "20"},
        ],
        **extra,
    }


def availability(items: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    return {
        "price_list_id": PL,
        "name": "Крепёж опт",
        "warehouse_ids": [WH_A, WH_B],
        "total": len(items),
        "limit": None,
        "offset": 0,
        "items": [
            {
                "sku": sku,
                "name": "",
                "warehouses": [{"warehouse_id": WH_A, "available": a}, {"warehouse_id": WH_B, "available": b}],
                "total_available": total,
                "total_available_in_list": total,
            }
            for sku, a, b, total in items
        ],
    }


def serve_catalogue(console: Console, price_list: dict[str, Any] | None = None) -> None:
    pl = price_list or a_price_list()
    console.services.orders.get("/api/v1/price-lists").respond(200, json={"items": [pl], "total": 1})
    console.services.orders.get(f"/api/v1/price-lists/{PL}").respond(200, json=pl)
    console.services.inventory.get(f"/api/v1/price-lists/{PL}/availability").respond(
        200, json=availability([("BOLT-M8", "120", "5", "140"), ("NUT-M8", "0", "7", "7")])
    )


def cart_of(console: Console) -> Cart:
    """The cart as the browser holds it (the cookie, verified with the app's key)."""
    from oms_console import cart as carts

    return decode(console.client.cookies.get(CART_COOKIE), carts._PROCESS_KEY, "u-1")


def test_catalogue_shows_names_units_prices_vat_and_availability_per_warehouse(console: Console) -> None:
    """R-UI-2: the price list open to the buyer, with product name, SKU, unit, price, VAT and availability on each
    warehouse and in total (R-STK-2)."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    page = console.get("/catalogue")
    assert page.status_code == 200
    text = page.text
    for shown in ("Крепёж опт", "ООО Ромашка", "Болт М8", "BOLT-M8", "шт", "12,50", "20 %", "Москва", "Казань", "140"):
        assert shown in text
    assert 'aria-label="Количество BOLT-M8 со склада Москва"' in text
    assert "Доступно на складах и всего" in text


def test_catalogue_search_by_name_or_sku_is_in_the_url(console: Console) -> None:
    """R-UI-2: search by name or SKU, kept in the URL; a search asks inventory for the whole list's figures."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    by_name = console.get(f"/catalogue?price_list={PL}&q=гайка")
    assert "Гайка М8" in by_name.text and "Болт М8" not in by_name.text
    by_sku = console.get(f"/catalogue?price_list={PL}&q=bolt")
    assert "Болт М8" in by_sku.text and "Гайка М8" not in by_sku.text
    calls = console.services.router.calls
    asked = [c.request.url for c in calls if "availability" in c.request.url.path]
    assert "limit" not in asked[-1].params
    nothing = console.get(f"/catalogue?price_list={PL}&q=шуруп")
    assert "Ничего не найдено." in nothing.text


def test_catalogue_pages_through_a_long_list(console: Console) -> None:
    """R-UI-2: a long price list is shown a page at a time, the page in the URL, inventory asked for that page."""
    items = [
        {"sku": f"SKU-{n:03}", "name": f"Товар {n}", "unit": "шт", "price": "1.00", "vat_rate": "20"}
        for n in range(120)
    ]
    console.signed_in_as_buyer()
    serve_catalogue(console, a_price_list(items))
    page = console.get(f"/catalogue?price_list={PL}&page=2")
    assert "SKU-050" in page.text and "SKU-099" in page.text
    assert "SKU-049" not in page.text and "SKU-100" not in page.text
    assert f"/catalogue?price_list={PL}&amp;page=3" in page.text
    assert "51–100 из 120" in page.text
    asked = next(c.request.url for c in console.services.router.calls if "availability" in c.request.url.path)
    assert asked.params["limit"] == "50" and asked.params["offset"] == "50"


def test_catalogue_opens_without_availability_when_inventory_does_not_answer(console: Console) -> None:
    """R-UI-2: inventory down must not take the catalogue with it: the lines show, availability says unknown."""
    console.signed_in_as_buyer()
    pl = a_price_list()
    console.services.orders.get("/api/v1/price-lists").respond(200, json={"items": [pl], "total": 1})
    console.services.inventory.get(f"/api/v1/price-lists/{PL}/availability").respond(503)
    page = console.get("/catalogue")
    assert page.status_code == 200
    assert "Болт М8" in page.text
    assert "Наличие сейчас неизвестно." in page.text


def test_a_buyer_with_no_price_lists_is_told_how_to_get_one(console: Console) -> None:
    """R-UI-2: no price list open yet: the page says how one opens, not an empty table."""
    console.signed_in_as_buyer()
    console.services.orders.get("/api/v1/price-lists").respond(200, json={"items": [], "total": 0})
    page = console.get("/catalogue")
    assert page.status_code == 200
    assert "Вам пока не открыт ни один прайс-лист" in page.text


def test_quantities_per_warehouse_go_into_the_cart_and_the_cart_sums_with_vat(console: Console) -> None:
    """R-UI-2: quantities per warehouse into the cart; the cart shows its lines and sums with VAT."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    added = console.post(
        "/catalogue/cart",
        {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10", f"qty|{WH_B}|BOLT-M8": "", f"qty|{WH_B}|NUT-M8": "4"},
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/catalogue?price_list={PL}&done=cart"
    cookie = next(c for c in added.headers.get_list("set-cookie") if c.startswith(f"{CART_COOKIE}="))
    assert "HttpOnly" in cookie
    assert cart_of(console).lines == {("BOLT-M8", WH_A): "10", ("NUT-M8", WH_B): "4"}

    back = console.get(added.headers["location"])
    assert "Корзина обновлена." in back.text
    assert f'name="qty|{WH_A}|BOLT-M8" value="10"' in back.text

    cart = console.get("/cart")
    assert cart.status_code == 200
    # 10 × 12,50 + 4 × 3,00 = 137,00; VAT 20 % on top = 27,40; total 164,40
    for shown in ("Болт М8", "Москва", "Гайка М8", "Казань", "137,00", "27,40", "164,40"):
        assert shown in cart.text


def test_a_bad_quantity_is_shown_next_to_its_field_and_nothing_goes_into_the_cart(console: Console) -> None:
    """R-UI-2: a quantity that is not a number is refused next to its field, with what was typed kept."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    answer = console.post(
        "/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "десять", f"qty|{WH_B}|NUT-M8": "4"}
    )
    assert answer.status_code == 422
    assert "Введите количество: число, не больше 3 знаков после запятой." in answer.text
    assert 'value="десять"' in answer.text and 'aria-invalid="true"' in answer.text
    assert CART_COOKIE not in console.client.cookies


def test_the_cart_holds_one_price_list(console: Console) -> None:
    """R-UI-2: an order is from one price list: lines of another are refused until the cart is sent or emptied."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "1"})
    other = a_price_list(price_list_id=OTHER_PL, name="Другой")
    console.services.orders.get(f"/api/v1/price-lists/{OTHER_PL}").respond(200, json=other)
    console.services.inventory.get(f"/api/v1/price-lists/{OTHER_PL}/availability").respond(200, json=availability([]))
    answer = console.post("/catalogue/cart", {"price_list_id": OTHER_PL, f"qty|{WH_A}|NUT-M8": "2"})
    assert answer.status_code == 422
    assert "В корзине строки другого прайс-листа" in answer.text
    assert cart_of(console).lines == {("BOLT-M8", WH_A): "1"}


def test_a_tampered_or_foreign_cart_cookie_is_an_empty_cart() -> None:
    """R-UI-2: the cart cookie is signed and bound to its user: altered, or another user's, it is empty."""
    key = b"k" * 32
    value = encode(Cart(user_id="u-1", price_list_id=PL, lines={("BOLT-M8", WH_A): "2"}), key)
    assert decode(value, key, "u-1").lines == {("BOLT-M8", WH_A): "2"}
    assert decode(value, key, "u-2").empty
    assert decode(value[:-2] + "AA", key, "u-1").empty
    assert decode("garbage", key, "u-1").empty


def test_sending_the_cart_places_the_order_and_opens_it(console: Console) -> None:
    """R-UI-2, R-IN-1: desired date, comment and the one-shipment flag go with the lines, with an Idempotency-Key;
    the cart empties and the new order's page opens."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10", f"qty|{WH_B}|NUT-M8": "4"})
    placed = console.services.orders.post("/api/v1/orders").respond(
        201, json={"order_id": ORDER_ID, "number": "R-1"}, headers={"ETag": '"1"'}
    )
    answer = console.post(
        "/cart",
        {
            "action": "send",
            "idempotency_key": "key-1",
            f"qty|{WH_A}|BOLT-M8": "12",
            f"qty|{WH_B}|NUT-M8": "4",
            "desired_date": "2026-12-22",
            "comment": "Доставка до 17:00",
            "one_shipment": "on",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/orders/{ORDER_ID}"
    request = placed.calls.last.request
    assert request.headers["Idempotency-Key"] == "key-1"
    assert json.loads(request.content) == {
        "price_list_id": PL,
        "lines": [
            {"sku": "BOLT-M8", "warehouse_id": WH_A, "quantity": "12"},
            {"sku": "NUT-M8", "warehouse_id": WH_B, "quantity": "4"},
        ],
        "desired_shipment_date": "2026-12-22",
        "comment": "Доставка до 17:00",
        "one_shipment": True,
    }
    assert cart_of(console).empty


def test_a_refused_line_is_shown_next_to_it_and_the_form_keeps_what_was_typed(console: Console) -> None:
    """R-UI-2: the service's refusal of a line is shown next to that line, in the page's language; the date and
    comment stay; the cart stays."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10", f"qty|{WH_B}|NUT-M8": "4"})
    console.services.orders.post("/api/v1/orders").respond(
        422,
        json={
            "error": {
                "code": "invalid_lines",
                "message": "1 of 2 lines are not valid",
                "details": [
                    {"line": 1, "sku": "NUT-M8", "reasons": ["quantity 4.5 is not a whole number: шт is counted whole"]}
                ],
            }
        },
    )
    answer = console.post(
        "/cart", {"action": "send", "desired_date": "2026-12-22", "comment": "Срочно", f"qty|{WH_B}|NUT-M8": "4"}
    )
    assert answer.status_code == 422
    assert "Количество 4.5 не целое: «шт» считается целыми единицами" in answer.text
    assert f'id="{error_id(f"qty|{WH_B}|NUT-M8")}"' in answer.text
    assert 'value="2026-12-22"' in answer.text and "Срочно</textarea>" in answer.text
    assert len(cart_of(console).lines) == 2


def test_a_price_list_no_longer_open_says_so(console: Console) -> None:
    """R-UI-2: the price list closed since the lines were put in the cart: the cart says so and offers to empty."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10"})
    console.services.orders.post("/api/v1/orders").respond(
        404, json={"error": {"code": "price_list_not_found", "message": "no such price list", "details": None}}
    )
    answer = console.post("/cart", {"action": "send"})
    assert answer.status_code == 422
    assert "Этот прайс-лист вам больше не открыт." in answer.text


def test_a_bad_desired_date_is_refused_next_to_the_field(console: Console) -> None:
    """R-UI-2: a desired date that is not a date is refused by the console next to the field; nothing is sent."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10"})
    placed = console.services.orders.post("/api/v1/orders").respond(201, json={"order_id": ORDER_ID})
    answer = console.post("/cart", {"action": "send", "desired_date": "32.13.2026"})
    assert answer.status_code == 422
    assert 'id="desired_date-error"' in answer.text
    assert not placed.called


def test_removing_a_line_and_emptying_the_cart(console: Console) -> None:
    """R-UI-2: a line can be taken out of the cart, and the cart emptied."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "10", f"qty|{WH_B}|NUT-M8": "4"})
    removed = console.post("/cart", {"remove": f"qty|{WH_A}|BOLT-M8"})
    assert removed.status_code == 303
    assert cart_of(console).lines == {("NUT-M8", WH_B): "4"}
    cleared = console.post("/cart/clear")
    assert cleared.status_code == 303
    assert cart_of(console).empty
    assert "Корзина пуста." in console.get("/cart").text


def test_staff_see_the_catalogue_without_a_cart(console: Console) -> None:
    """R-UI-2: the supplier's people see their price lists with availability, but order nothing from them."""
    console.signed_in_as_staff()
    serve_catalogue(console)
    page = console.get("/catalogue")
    assert page.status_code == 200
    assert "Болт М8" in page.text
    assert "/catalogue/cart" not in page.text


def test_a_price_list_not_open_to_the_buyer_is_not_found(console: Console) -> None:
    """R-UI-2, R-ACC-4: a price list the buyer has no access to (or a malformed id) is a 404 page, never a trace."""
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.services.orders.get(f"/api/v1/price-lists/{OTHER_PL}").respond(
        404, json={"error": {"code": "price_list_not_found", "message": "no such price list", "details": None}}
    )
    console.services.orders.get("/api/v1/price-lists/not-an-id").respond(
        422, json={"error": {"code": "validation_error", "message": "bad id", "details": []}}
    )
    assert console.get(f"/catalogue?price_list={OTHER_PL}").status_code == 404
    malformed = console.get("/catalogue?price_list=not-an-id")
    assert malformed.status_code == 404
    assert "bad id" not in malformed.text


def test_the_cart_is_bounded_to_one_cookie() -> None:
    """R-UI-2: the cart is not business data and stays small: more lines than fit in one cookie are refused."""
    from oms_console.cart import MAX_LINES, CartFull

    key = b"k" * 32
    lines = {(f"SKU-{n:05}-{'x' * 40}", WH_A): "1" for n in range(MAX_LINES + 1)}
    with pytest.raises(CartFull):
        encode(Cart(user_id="u-1", price_list_id=PL, lines=lines), key)
    fits = {(f"SKU-{n}", WH_A): "1" for n in range(20)}
    assert len(encode(Cart(user_id="u-1", price_list_id=PL, lines=fits), key)) < 3800


def test_an_over_full_cart_is_refused_with_a_message(console: Console, monkeypatch: Any) -> None:
    """R-UI-2: putting lines into a full cart says so next to the form; the cart keeps what it had."""
    from oms_console import cart as carts

    monkeypatch.setattr(carts, "MAX_LINES", 1)
    console.signed_in_as_buyer()
    serve_catalogue(console)
    console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_A}|BOLT-M8": "1"})
    answer = console.post("/catalogue/cart", {"price_list_id": PL, f"qty|{WH_B}|NUT-M8": "2"})
    assert answer.status_code == 422
    assert "Корзина заполнена" in answer.text
    assert cart_of(console).lines == {("BOLT-M8", WH_A): "1"}
