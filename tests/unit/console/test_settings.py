"""R-UI-11: the settings in the console: the landing page, employees and their access (R-ACC-1), warehouses,
buyers, price lists with automatic confirmation (R-ST-3) and their share link (R-IN-2), and a supplier's sign-up.
The services are answered by respx: the console shows what they answer and sends what the user chose."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.console.conftest import Console, a_me, a_token

USER_2 = "22222222-2222-4222-8222-222222222222"
BUYER = "33333333-3333-4333-8333-333333333333"
PL = "44444444-4444-4444-8444-444444444444"
WH = "55555555-5555-4555-8555-555555555555"


def refused(status: int, code: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": "refused", "details": details}}


def sent(route: Any) -> dict[str, Any]:
    return dict(json.loads(route.calls.last.request.content))


def people() -> dict[str, Any]:
    return {
        "items": [
            {"user_id": "u-1", "email": "anna@example.com", "name": "Анна Петрова", "is_owner": True, "active": True,
             "access_buyers": "full", "access_orders": "full", "restricted_to_own_buyers": False, "manage_users": True},
            {"user_id": USER_2, "email": "oleg@example.com", "name": "Олег Продажин", "is_owner": False,
             "active": True, "access_buyers": "read", "access_orders": "change", "restricted_to_own_buyers": True,
             "manage_users": False},
        ],
        "total": 2,
    }  # fmt: skip


# -- the landing page ---------------------------------------------------------------------------------


def test_settings_lists_every_section(console: Console) -> None:
    """R-UI-11: the Settings page links to every section, in Russian and in English."""
    page = console.signed_in_as_staff().get("/settings")
    assert page.status_code == 200
    for href in ("/settings/employees", "/settings/buyers", "/settings/price-lists", "/settings/warehouses",
                 "/settings/company", "/settings/time-limits", "/settings/erp", "/settings/notifications"):  # fmt: skip
        assert f'href="{href}"' in page.text
    assert "Сотрудники" in page.text and "Прайс-листы" in page.text
    console.client.cookies.set("oms_locale", "en", domain="console.test", path="/")
    english = console.get("/settings")
    assert "Employees" in english.text and "Price lists" in english.text


def test_a_buyer_does_not_see_settings(console: Console) -> None:
    """R-UI-11: settings are the supplier's screens: a buyer gets 404."""
    assert console.signed_in_as_buyer().get("/settings").status_code == 404
    assert console.get("/settings/price-lists").status_code == 404


# -- employees ----------------------------------------------------------------------------------------


def pending() -> dict[str, Any]:
    return {"items": [
        {"invitation_id": "i-1", "email": "vera@example.com", "name": "Вера Новая", "access_buyers": "read",
         "access_orders": "change", "restricted_to_own_buyers": True, "manage_users": False,
         "created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-08T10:00:00Z", "accepted_at": None},
    ]}  # fmt: skip


def test_employees_show_their_access_levels(console: Console) -> None:
    """R-ACC-1: every employee with access per section and "only own buyers"; invitations not yet accepted."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get("/api/v1/users/invitations").respond(200, json=pending())
    page = console.get("/settings/employees")
    assert page.status_code == 200
    assert "Олег Продажин" in page.text and "oleg@example.com" in page.text
    assert f'action="/settings/employees/{USER_2}"' in page.text
    assert 'value="change" selected' in page.text
    assert "Только свои покупатели" in page.text
    assert "Приглашения, ожидающие ответа" in page.text and "vera@example.com" in page.text
    assert 'name="password"' not in page.text  # nobody types another person's password


def test_inviting_an_employee_with_restricted_access(console: Console) -> None:
    """R-ACC-1: the invitation form sends the e-mail, levels per section and "only own buyers"; orders e-mails the
    link where the employee sets a password."""
    console.signed_in_as_staff()
    invited = console.services.orders.post("/api/v1/users/invitations").respond(201, json={"invitation_id": "i-1"})
    answer = console.post("/settings/employees", {
        "email": "oleg@example.com", "name": "Олег", "locale": "ru",
        "access_buyers": "read", "access_orders": "change", "restricted": "1", "key": "k-1",
    })  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/settings/employees?done=employee"
    body = sent(invited)
    assert body == {"email": "oleg@example.com", "name": "Олег", "locale": "ru", "access_buyers": "read",
                    "access_orders": "change", "restricted_to_own_buyers": True, "manage_users": False}  # fmt: skip
    assert invited.calls.last.request.headers["Idempotency-Key"] == "k-1"


def test_a_taken_email_keeps_the_form_and_says_so(console: Console) -> None:
    """R-ACC-1: a refused invitation shows the reason next to the field and keeps what was typed."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get("/api/v1/users/invitations").respond(200, json={"items": []})
    console.services.orders.post("/api/v1/users/invitations").respond(409, json=refused(409, "email_taken"))
    answer = console.post("/settings/employees", {
        "email": "oleg@example.com", "name": "Олег Новый", "access_buyers": "read", "access_orders": "read",
    })  # fmt: skip
    assert answer.status_code == 422
    assert "уже зарегистрирован" in answer.text
    assert 'value="Олег Новый"' in answer.text


def test_bad_employee_input_is_refused_before_calling(console: Console) -> None:
    """R-ACC-1: no e-mail or an unknown level: clear messages next to the fields, nothing sent."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get("/api/v1/users/invitations").respond(200, json={"items": []})
    invited = console.services.orders.post("/api/v1/users/invitations").respond(201, json={})
    answer = console.post("/settings/employees", {"email": "nope", "access_buyers": "root"})
    assert answer.status_code == 422
    assert not invited.called
    assert 'aria-invalid="true" aria-describedby="email-error"' in answer.text
    assert 'id="access_buyers-error"' in answer.text


def test_changing_access_and_deactivating(console: Console) -> None:
    """R-ACC-1: access is changed for one employee; deactivating sends active=false (the service ends their
    sessions)."""
    console.signed_in_as_staff()
    patched = console.services.orders.patch(f"/api/v1/users/{USER_2}").respond(200, json=people()["items"][1])
    answer = console.post(f"/settings/employees/{USER_2}", {
        "action": "access", "access_buyers": "full", "access_orders": "read", "manage_users": "1",
    })  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=access")
    assert sent(patched) == {
        "access_buyers": "full",
        "access_orders": "read",
        "restricted_to_own_buyers": False,
        "manage_users": True,
    }
    answer = console.post(f"/settings/employees/{USER_2}", {"action": "deactivate"})
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=deactivated")
    assert sent(patched) == {"active": False}


def test_a_refused_access_change_says_why(console: Console) -> None:
    """R-ACC-1: granting above one's own level is refused by orders; the page says so in the employee's row."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get("/api/v1/users/invitations").respond(200, json={"items": []})
    console.services.orders.patch(f"/api/v1/users/{USER_2}").respond(403, json=refused(403, "above_own_level"))
    answer = console.post(f"/settings/employees/{USER_2}", {
        "action": "access", "access_buyers": "full", "access_orders": "full",
    })  # fmt: skip
    assert answer.status_code == 403
    assert "У вас нет к этому доступа." in answer.text


# -- warehouses ---------------------------------------------------------------------------------------


def test_warehouses_list_and_create(console: Console) -> None:
    """R-UI-11: the warehouses from inventory; a new one is created there."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/warehouses").respond(
        200, json={"items": [{"warehouse_id": WH, "code": "MSK", "name": "Склад Москва"}], "total": 1}
    )
    page = console.get("/settings/warehouses")
    assert "MSK" in page.text and "Склад Москва" in page.text
    created = console.services.inventory.post("/api/v1/warehouses").respond(
        201, json={"warehouse_id": WH, "code": "SPB", "name": "Склад СПб"}
    )
    answer = console.post("/settings/warehouses", {"code": "SPB", "name": "Склад СПб"})
    assert answer.status_code == 303
    assert sent(created) == {"code": "SPB", "name": "Склад СПб"}


def test_a_duplicate_warehouse_code_is_shown_on_the_field(console: Console) -> None:
    """R-UI-11: inventory refuses a code in use: the form says so and keeps the input."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/warehouses").respond(200, json={"items": [], "total": 0})
    console.services.inventory.post("/api/v1/warehouses").respond(409, json=refused(409, "warehouse_exists"))
    answer = console.post("/settings/warehouses", {"code": "MSK", "name": "Второй"})
    assert answer.status_code == 422
    assert "Склад с таким кодом уже есть." in answer.text
    assert 'value="Второй"' in answer.text


# -- buyers -------------------------------------------------------------------------------------------


def a_buyer(**values: Any) -> dict[str, Any]:
    return {"buyer_id": BUYER, "name": "ООО Покупатель", "inn": "7701234567", "kpp": "", "contacts": "",
            "segment": "опт", "manager_user_ids": [USER_2], "buyer_account_id": None, "deleted": False,
            **values}  # fmt: skip


def test_buyers_are_searched_and_show_their_managers(console: Console) -> None:
    """R-UI-11: the buyer list searched by name or INN, with managers by name (as orders answers it: a restricted
    manager gets only theirs)."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    listed = console.services.orders.get("/api/v1/buyers").respond(200, json={"items": [a_buyer()], "total": 1})
    page = console.get("/settings/buyers?q=7701")
    assert page.status_code == 200
    assert listed.calls.last.request.url.params["search"] == "7701"
    assert "ООО Покупатель" in page.text and "Олег Продажин" in page.text and "опт" in page.text
    partial = console.htmx_get("/settings/buyers?q=7701", headers={"HX-Target": "results"})
    assert "ООО Покупатель" in partial.text and "<html" not in partial.text


def test_adding_a_buyer_by_inn_and_inviting_it_by_email(console: Console) -> None:
    """R-UI-11: a buyer company with INN, segment and a manager; with an e-mail it is invited at once."""
    console.signed_in_as_staff()
    created = console.services.orders.post("/api/v1/buyers").respond(201, json=a_buyer())
    invited = console.services.orders.post(f"/api/v1/buyers/{BUYER}/invitations").respond(201, json={})
    answer = console.post("/settings/buyers", {
        "name": "ООО Покупатель", "inn": "7701234567", "segment": "опт", "managers": USER_2,
        "email": "buyer@example.com",
    })  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/settings/buyers/{BUYER}?done=invited"
    body = sent(created)
    assert body["inn"] == "7701234567" and body["segment"] == "опт" and body["manager_user_ids"] == [USER_2]
    assert sent(invited) == {"email": "buyer@example.com", "locale": "ru"}


def test_a_bad_inn_is_refused_before_calling(console: Console) -> None:
    """R-UI-11: an INN is 10 or 12 digits: said on the field, the name kept, nothing created."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get("/api/v1/buyers").respond(200, json={"items": [], "total": 0})
    created = console.services.orders.post("/api/v1/buyers").respond(201, json=a_buyer())
    answer = console.post("/settings/buyers", {"name": "ООО Покупатель", "inn": "12ab"})
    assert answer.status_code == 422 and not created.called
    assert "10 или 12 цифр" in answer.text and 'value="ООО Покупатель"' in answer.text


def test_a_buyer_page_changes_managers_and_segment(console: Console) -> None:
    """R-UI-11: one buyer: its managers and segment are changed; its invitations are listed."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get(f"/api/v1/buyers/{BUYER}").respond(200, json=a_buyer())
    console.services.orders.get(f"/api/v1/buyers/{BUYER}/invitations").respond(200, json={"items": [
        {"email": "buyer@example.com", "created_at": "2026-12-01T10:00:00Z", "expires_at": "2026-12-08T10:00:00Z",
         "accepted_at": None},
    ]})  # fmt: skip
    page = console.get(f"/settings/buyers/{BUYER}")
    assert page.status_code == 200 and "buyer@example.com" in page.text
    assert f'value="{USER_2}" checked' in page.text
    patched = console.services.orders.patch(f"/api/v1/buyers/{BUYER}").respond(200, json=a_buyer())
    answer = console.post(f"/settings/buyers/{BUYER}", {"name": "ООО Покупатель", "segment": "розница"})
    assert answer.status_code == 303
    assert sent(patched)["segment"] == "розница" and sent(patched)["manager_user_ids"] == []


def test_inviting_a_registered_buyer_says_it_has_an_account(console: Console) -> None:
    """R-UI-11: orders refuses an invitation for a buyer with an account: the page says so."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/users").respond(200, json=people())
    console.services.orders.get(f"/api/v1/buyers/{BUYER}").respond(200, json=a_buyer())
    console.services.orders.get(f"/api/v1/buyers/{BUYER}/invitations").respond(200, json={"items": []})
    console.services.orders.post(f"/api/v1/buyers/{BUYER}/invitations").respond(
        409, json=refused(409, "buyer_already_linked")
    )
    answer = console.post(f"/settings/buyers/{BUYER}/invitations", {"email": "buyer@example.com"})
    assert answer.status_code == 422
    assert "У этого покупателя уже есть учётная запись." in answer.text


# -- price lists --------------------------------------------------------------------------------------


def a_price_list(**values: Any) -> dict[str, Any]:
    return {"price_list_id": PL, "name": "Опт", "currency": "RUB", "vat_mode": "included", "auto_confirm": True,
            "warehouse_ids": [WH], "warehouses": [{"warehouse_id": WH, "name": "Склад Москва"}],
            "buyer_ids": [BUYER], "segments": ["опт"], "link_token": None, "version": 3,
            "items": [{"sku": "BOLT-M8", "name": "Болт М8", "unit": "шт", "price": "12.5", "vat_rate": "20"}],
            **values}  # fmt: skip


def editor_answers(console: Console) -> None:
    console.services.inventory.get("/api/v1/warehouses").respond(
        200, json={"items": [{"warehouse_id": WH, "code": "MSK", "name": "Склад Москва"}], "total": 1}
    )
    console.services.inventory.get("/api/v1/products").respond(200, json={"items": [
        {"sku": "BOLT-M8", "name": "Болт М8", "unit": "шт"}, {"sku": "NUT-M8", "name": "Гайка М8", "unit": "шт"},
    ], "total": 2})  # fmt: skip
    console.services.orders.get("/api/v1/buyers").respond(200, json={"items": [a_buyer()], "total": 1})


def test_price_lists_show_confirmation_and_link(console: Console) -> None:
    """R-UI-11, R-ST-3: each price list with its warehouses, automatic confirmation and whether its link is on."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/price-lists").respond(200, json={"items": [a_price_list()], "total": 1})
    page = console.get("/settings/price-lists")
    assert f'href="/settings/price-lists/{PL}"' in page.text
    assert "Склад Москва" in page.text and "Автоматическое" in page.text


def test_creating_a_price_list_from_the_catalogue(console: Console) -> None:
    """R-UI-11, R-ST-3: items from the catalogue with prices and VAT, a warehouse, a buyer, a segment and
    automatic confirmation go to orders; a product without a price stays out."""
    console.signed_in_as_staff()
    editor_answers(console)
    form = console.get("/settings/price-lists/new")
    assert "Гайка М8" in form.text and "Подтверждать заказы автоматически" in form.text
    created = console.services.orders.post("/api/v1/price-lists").respond(201, json=a_price_list())
    answer = console.post("/settings/price-lists/new", {
        "name": "Опт", "currency": "RUB", "vat_mode": "on_top", "auto_confirm": "1", "warehouse_ids": WH,
        "buyer_ids": BUYER, "segments": "опт, крупный опт", "sku": ["BOLT-M8", "NUT-M8"], "price": ["12,50", ""],
        "vat": ["20", ""],
    })  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/settings/price-lists/{PL}?done=price_list"
    body = sent(created)
    assert body["items"] == [{"sku": "BOLT-M8", "price": "12.50", "vat_rate": "20"}]
    assert body["auto_confirm"] is True and body["vat_mode"] == "on_top"
    assert body["warehouse_ids"] == [WH] and body["buyer_ids"] == [BUYER]
    assert body["segments"] == ["опт", "крупный опт"]


def test_a_bad_price_is_shown_on_its_line(console: Console) -> None:
    """R-UI-11: a price that is not a number is marked on its line; what was typed stays; nothing is sent."""
    console.signed_in_as_staff()
    editor_answers(console)
    created = console.services.orders.post("/api/v1/price-lists").respond(201, json=a_price_list())
    answer = console.post("/settings/price-lists/new", {
        "name": "Опт", "sku": ["BOLT-M8", "NUT-M8"], "price": ["дорого", "5"], "vat": ["", ""],
    })  # fmt: skip
    assert answer.status_code == 422 and not created.called
    assert 'value="дорого"' in answer.text and 'aria-invalid="true"' in answer.text


def test_saving_sends_the_version_and_a_stale_one_keeps_the_input(console: Console) -> None:
    """R-UI-11: a change sends the ETag the page was loaded with; a list changed meanwhile answers 412 and the
    page says so, keeping what the user typed."""
    console.signed_in_as_staff()
    editor_answers(console)
    console.services.orders.get(f"/api/v1/price-lists/{PL}").respond(200, json=a_price_list(), headers={"ETag": '"3"'})
    page = console.get(f"/settings/price-lists/{PL}")
    assert 'name="etag" value="&#34;3&#34;"' in page.text
    replaced = console.services.orders.put(f"/api/v1/price-lists/{PL}").respond(
        412, json=refused(412, "stale_version", {"current_version": 4})
    )
    answer = console.post(f"/settings/price-lists/{PL}", {
        "etag": '"3"', "name": "Опт новый", "sku": ["BOLT-M8"], "price": ["13"], "vat": ["20"],
    })  # fmt: skip
    assert replaced.calls.last.request.headers["If-Match"] == '"3"'
    assert answer.status_code == 412
    assert "изменил этот прайс-лист" in answer.text and 'value="Опт новый"' in answer.text


def test_the_share_link_is_switched_on_copied_renewed_and_off(console: Console) -> None:
    """R-IN-2: the link is switched on, shown with a copy button, made anew (the old one stops) and switched off."""
    console.signed_in_as_staff()
    editor_answers(console)
    console.services.orders.get(f"/api/v1/price-lists/{PL}").respond(200, json=a_price_list(link_token="tok-1"))
    page = console.get(f"/settings/price-lists/{PL}")
    assert 'value="http://console.test/join/tok-1"' in page.text
    assert "Скопировать ссылку" in page.text and "navigator.clipboard.writeText" in page.text
    link = console.services.orders.post(f"/api/v1/price-lists/{PL}/link").respond(
        200, json={"price_list_id": PL, "link_token": "tok-2", "path": "/api/v1/links/tok-2"}
    )
    answer = console.post(f"/settings/price-lists/{PL}/link", {"action": "regenerate"})
    assert answer.status_code == 303 and "done=link_new" in answer.headers["location"]
    assert link.calls.last.request.url.params["regenerate"] == "true"
    answer = console.post(f"/settings/price-lists/{PL}/link", {"action": "on"})
    assert "regenerate" not in link.calls.last.request.url.params
    off = console.services.orders.delete(f"/api/v1/price-lists/{PL}/link").respond(204)
    answer = console.post(f"/settings/price-lists/{PL}/link", {"action": "off"})
    assert off.called and "done=link_off" in answer.headers["location"]


# -- a supplier's sign-up -----------------------------------------------------------------------------


def test_signing_up_a_supplier_signs_the_owner_in_on_settings(console: Console) -> None:
    """R-UI-11: a supplier's first day starts with registering the company; the owner lands on Settings."""
    registered = console.services.orders.post("/api/v1/accounts").respond(
        201, json={"account_id": "acc-1", "user_id": "u-1"}
    )
    console.services.orders.post("/api/v1/auth/token").respond(200, json={
        "access_token": a_token(), "refresh_token": "s-1.secret", "expires_in": 60, "refresh_expires_in": 43200,
        "token_type": "bearer",
    })  # fmt: skip
    answer = console.post("/signup", {
        "company_name": "ООО Ромашка", "inn": "7707083893", "name": "Анна", "email": "anna@example.com",
        "password": "секрет-123", "password2": "секрет-123",
    })  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/settings"
    body = sent(registered)
    assert body["kind"] == "supplier" and body["name"] == "ООО Ромашка"
    assert body["owner"]["email"] == "anna@example.com"
    console.signed_in_as(a_me("supplier"))
    assert console.get("/settings").status_code == 200


def test_signing_up_with_a_taken_email_keeps_the_form(console: Console) -> None:
    """R-UI-11: a registered e-mail is said on the field; the company's name stays."""
    console.services.orders.post("/api/v1/accounts").respond(409, json=refused(409, "email_taken"))
    answer = console.post("/signup", {
        "company_name": "ООО Ромашка", "email": "anna@example.com", "password": "секрет-123",
        "password2": "секрет-123",
    })  # fmt: skip
    assert answer.status_code == 422
    assert "уже зарегистрирован" in answer.text and 'value="ООО Ромашка"' in answer.text


def test_buyers_the_form_does_not_show_stay_in_the_price_list(console: Console) -> None:
    """R-UI-11: the save replaces the whole list: buyers beyond the ones the form shows are sent back unchanged."""
    other = "66666666-6666-4666-8666-666666666666"
    console.signed_in_as_staff()
    editor_answers(console)
    console.services.orders.get(f"/api/v1/price-lists/{PL}").respond(
        200, json=a_price_list(buyer_ids=[BUYER, other]), headers={"ETag": '"3"'}
    )
    page = console.get(f"/settings/price-lists/{PL}")
    assert f'<input type="hidden" name="buyer_ids" value="{other}">' in page.text
    assert "И ещё 1 покупатель." in page.text
