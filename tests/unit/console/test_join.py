"""R-IN-2 / R-UI-2: the page behind a price list's link: a short registration for a new buyer (then signed in, on
that price list's catalogue), or joining for a buyer who is signed in already."""

from __future__ import annotations

import json
from typing import Any

from oms_console.auth import ACCESS_COOKIE, REFRESH_COOKIE
from tests.unit.console.conftest import Console, a_token

TOKEN = "link-token-1"
PL = "11111111-1111-4111-8111-111111111111"


def a_link() -> dict[str, Any]:
    return {
        "price_list_id": PL,
        "supplier_id": "sup-1",
        "supplier_name": "ООО Ромашка",
        "name": "Крепёж опт",
        "currency": "RUB",
        "vat_mode": "on_top",
        "warehouses": [],
        "items": [{"sku": "BOLT-M8", "name": "Болт М8", "unit": "шт", "price": "12.50", "vat_rate": "20"}],
    }


def tokens() -> dict[str, Any]:
    return {"access_token": a_token(), "refresh_token": "session-2.secret", "expires_in": 60,
            "refresh_expires_in": 43200, "token_type": "bearer"}  # fmt: skip


def test_the_link_shows_the_supplier_its_price_list_and_the_short_form(console: Console) -> None:
    """R-IN-2: a visitor who is not signed in sees the supplier, the price list and a short registration form."""
    console.services.orders.get(f"/api/v1/links/{TOKEN}").respond(200, json=a_link())
    page = console.get(f"/join/{TOKEN}")
    assert page.status_code == 200
    for shown in ("ООО Ромашка", "Крепёж опт", "Болт М8", "Компания", "ИНН", "Пароль ещё раз"):
        assert shown in page.text
    assert f'action="/join/{TOKEN}/register"' in page.text


def test_an_unknown_link_says_so(console: Console) -> None:
    """R-IN-2: a switched-off or mistyped link is a clear 404 page, not a form."""
    console.services.orders.get("/api/v1/links/nope").respond(
        404, json={"error": {"code": "link_not_found", "message": "this link is not valid", "details": None}}
    )
    page = console.get("/join/nope")
    assert page.status_code == 404
    assert "Ссылка недействительна" in page.text
    assert "register" not in page.text


def test_registering_signs_the_buyer_in_and_opens_the_price_lists_catalogue(console: Console) -> None:
    """R-IN-2: the short form registers the buyer; the buyer is signed in and lands on that price list."""
    console.services.orders.get(f"/api/v1/links/{TOKEN}").respond(200, json=a_link())
    registered = console.services.orders.post(f"/api/v1/links/{TOKEN}/register").respond(
        201, json={"account_id": "acc-2", "user_id": "u-2", "buyer_id": "b-2", "price_list_id": PL}
    )
    signed_in = console.services.orders.post("/api/v1/auth/token").respond(200, json=tokens())
    answer = console.post(
        f"/join/{TOKEN}/register",
        {"company_name": "ИП Смирнов", "inn": "7701234567", "kpp": "", "name": "Иван", "email": "ivan@example.com",
         "password": "a-long-secret", "password2": "a-long-secret"},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/catalogue?price_list={PL}"
    assert json.loads(registered.calls.last.request.content) == {
        "company_name": "ИП Смирнов", "inn": "7701234567", "kpp": "", "name": "Иван", "email": "ivan@example.com",
        "password": "a-long-secret",
    }  # fmt: skip
    assert json.loads(signed_in.calls.last.request.content)["email"] == "ivan@example.com"
    cookies = answer.headers.get_list("set-cookie")
    assert any(c.startswith(f"{ACCESS_COOKIE}=") for c in cookies)
    assert any(c.startswith(f"{REFRESH_COOKIE}=") for c in cookies)


def test_registration_errors_are_next_to_the_fields_and_keep_what_was_typed(console: Console) -> None:
    """R-IN-2: a missing company, differing passwords: said next to the fields, nothing sent, input kept."""
    console.services.orders.get(f"/api/v1/links/{TOKEN}").respond(200, json=a_link())
    registered = console.services.orders.post(f"/api/v1/links/{TOKEN}/register").respond(201, json={})
    answer = console.post(
        f"/join/{TOKEN}/register",
        {"company_name": "", "email": "ivan@example.com", "password": "a-long-secret", "password2": "other-secret"},
    )
    assert answer.status_code == 422
    assert "Введите название компании." in answer.text
    assert "Пароли не совпадают." in answer.text
    assert 'value="ivan@example.com"' in answer.text
    assert not registered.called


def test_an_email_registered_already_is_said_next_to_it(console: Console) -> None:
    """R-IN-2: the orders service refuses a taken e-mail (409): the form says to sign in and open the link."""
    console.services.orders.get(f"/api/v1/links/{TOKEN}").respond(200, json=a_link())
    console.services.orders.post(f"/api/v1/links/{TOKEN}/register").respond(
        409, json={"error": {"code": "email_taken", "message": "e-mail is taken", "details": None}}
    )
    answer = console.post(
        f"/join/{TOKEN}/register",
        {"company_name": "ИП Смирнов", "email": "ivan@example.com", "password": "a-long-secret",
         "password2": "a-long-secret"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert 'id="email-error"' in answer.text
    assert "Этот адрес уже зарегистрирован" in answer.text


def test_a_signed_in_buyer_joins_through_the_link(console: Console) -> None:
    """R-IN-2: a buyer with an account joins the supplier's price list and lands on its catalogue."""
    console.signed_in_as_buyer()
    console.services.orders.get(f"/api/v1/links/{TOKEN}").respond(200, json=a_link())
    page = console.get(f"/join/{TOKEN}")
    assert "Получить доступ к прайс-листу" in page.text
    joined = console.services.orders.post(f"/api/v1/links/{TOKEN}/join").respond(
        200, json={"buyer_id": "b-1", "price_list_id": PL}
    )
    answer = console.post(f"/join/{TOKEN}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/catalogue?price_list={PL}"
    assert joined.calls.last.request.headers["Authorization"].startswith("Bearer ")
