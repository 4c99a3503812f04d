"""R-UI-11: the supplier's time limits (R-ST-4) and the ERP connection with its exchange log (R-ERP-6)."""

from __future__ import annotations

import json

from tests.unit.console.conftest import Console


def test_time_limits_show_the_services_hours_and_save_what_was_typed(console: Console) -> None:
    """R-UI-11, R-ST-4: the hours per status are shown; saving sends them, an empty field is no limit."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/settings/time-limits").respond(
        200, json={"limits": {"new": 24, "awaiting_approval": 48}}
    )
    saved = console.services.orders.put("/api/v1/settings/time-limits").respond(200, json={"limits": {"new": 12}})
    page = console.get("/settings/time-limits")
    assert page.status_code == 200
    assert "<h1>Сроки</h1>" in page.text or "Сроки" in page.text
    assert 'name="new" type="text" value="24"' in page.text
    answer = console.post("/settings/time-limits", {"new": "12", "awaiting_approval": "", "confirmed": "0"})
    assert answer.status_code == 303 and answer.headers["location"] == "/settings/time-limits?done=saved"
    assert json.loads(saved.calls.last.request.content) == {"limits": {"new": 12, "confirmed": 0}}


def test_a_wrong_number_of_hours_is_said_next_to_its_field_and_nothing_is_sent(console: Console) -> None:
    """R-UI-11, R-ST-4: hours that are not a whole number stay in the form with a message."""
    console.signed_in_as_staff()
    saved = console.services.orders.put("/api/v1/settings/time-limits").respond(200, json={"limits": {}})
    page = console.post("/settings/time-limits", {"new": "двое суток", "confirmed": "72"})
    assert page.status_code == 422
    assert 'value="двое суток"' in page.text and 'aria-invalid="true"' in page.text
    assert 'value="72"' in page.text
    assert not saved.called


def test_a_refusal_of_the_time_limits_keeps_the_form(console: Console) -> None:
    """R-UI-11: a user without full access to orders is told so; the typed hours stay."""
    console.signed_in_as_staff()
    console.services.orders.put("/api/v1/settings/time-limits").respond(
        403, json={"error": {"code": "forbidden", "message": "no", "details": None}}
    )
    page = console.post("/settings/time-limits", {"new": "30"})
    assert page.status_code == 422
    assert "У вас нет к этому доступа." in page.text
    assert 'value="30"' in page.text


CONNECTION = {
    "login": "ut-romashka",
    "enabled": True,
    "encoding": "windows-1251",
    "timezone": "Europe/Moscow",
    "zip": False,
    "status_map": {"Отгружен": "shipped"},
    "updated_at": "2026-03-01T09:00:00+00:00",
    "exchange_path": "/exchange/1c",
}
LOG = {
    "items": [
        {
            "id": 7,
            "kind": "sale.query",
            "outcome": "failure",
            "detail": "bad XML at line 3",
            "session_id": "sess-42",
            "filename": None,
            "caller": "ut-romashka",
            "at": "2026-03-01T10:00:00+00:00",
        }
    ],
    "total": 75,
    "limit": 50,
    "offset": 0,
}


def test_the_erp_page_shows_the_connection_and_the_exchange_log_with_its_errors(console: Console) -> None:
    """R-UI-11, R-ERP-6: login, encoding, status map of the connection; the log's calls, errors, sessions, pages."""
    console.signed_in_as_staff()
    console.services.erp_bridge.get("/api/v1/erp/connection").respond(200, json=CONNECTION)
    log = console.services.erp_bridge.get("/api/v1/erp/exchanges").respond(200, json=LOG)
    page = console.get("/settings/erp?session_id=sess-42")
    assert page.status_code == 200
    text = page.text
    assert 'value="ut-romashka"' in text
    assert '<option value="windows-1251" selected>' in text
    assert "Отгружен = shipped" in text
    assert "bad XML at line 3" in text and "sale.query" in text
    assert "/settings/erp?session_id=sess-42" in text
    assert "offset=50" in text
    assert "session_id=sess-42" in str(log.calls.last.request.url)


def test_saving_the_connection_sends_it_and_a_taken_login_is_said_next_to_it(console: Console) -> None:
    """R-UI-11, R-ERP-6: the form goes to erp-bridge as typed; a login another supplier uses is refused clearly."""
    console.signed_in_as_staff()
    console.services.erp_bridge.get("/api/v1/erp/exchanges").respond(200, json={"items": [], "total": 0})
    put = console.services.erp_bridge.put("/api/v1/erp/connection")
    put.respond(200, json=CONNECTION)
    form = {
        "login": "ut-romashka",
        "password": "s3cret-pass",
        "enabled": "on",
        "encoding": "utf-8",
        "timezone": "Europe/Moscow",
        "status_map": "Отгружен = shipped\nОтменён = cancelled",
    }
    answer = console.post("/settings/erp", form)
    assert answer.status_code == 303
    assert json.loads(put.calls.last.request.content) == {
        "login": "ut-romashka",
        "password": "s3cret-pass",
        "enabled": True,
        "encoding": "utf-8",
        "timezone": "Europe/Moscow",
        "zip": False,
        "status_map": {"Отгружен": "shipped", "Отменён": "cancelled"},
    }
    put.respond(409, json={"error": {"code": "login_taken", "message": "taken", "details": None}})
    page = console.post("/settings/erp", form)
    assert page.status_code == 422
    assert "Этот логин занят" in page.text
    assert "Отменён = cancelled" in page.text


def test_a_wrong_status_map_line_is_said_and_nothing_is_sent(console: Console) -> None:
    """R-UI-11: a line of the status map that names no order status is refused in the form."""
    console.signed_in_as_staff()
    console.services.erp_bridge.get("/api/v1/erp/exchanges").respond(200, json={"items": [], "total": 0})
    put = console.services.erp_bridge.put("/api/v1/erp/connection").respond(200, json=CONNECTION)
    page = console.post(
        "/settings/erp",
        {"login": "ut", "password": "s3cret-pass", "encoding": "utf-8", "timezone": "UTC", "status_map": "Отгружен"},
    )
    assert page.status_code == 422
    assert 'aria-invalid="true"' in page.text
    assert not put.called


def test_no_connection_yet_shows_an_empty_form(console: Console) -> None:
    """R-UI-11: before the first save the page offers the form with the defaults."""
    console.signed_in_as_staff()
    console.services.erp_bridge.get("/api/v1/erp/connection").respond(
        404, json={"error": {"code": "connection_not_found", "message": "none", "details": None}}
    )
    console.services.erp_bridge.get("/api/v1/erp/exchanges").respond(200, json={"items": [], "total": 0})
    page = console.get("/settings/erp")
    assert page.status_code == 200
    assert 'value="Europe/Moscow"' in page.text


PROFILE = {
    "account_id": "acc-1",
    "kind": "supplier",
    "name": "ООО Ромашка",
    "inn": "7707083893",
    "kpp": "773601001",
    "address": "Москва, ул. Вавилова, 19",
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "bank_account": "40702810938000012345",
    "correspondent_account": "30101810400000000225",
    "version": 4,
}


def test_the_company_profile_is_shown_and_saved_over_the_version_the_page_showed(console: Console) -> None:
    """R-UI-11: name, INN/KPP, address and bank details; the save carries If-Match of the page it was made on."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/account").respond(200, json=PROFILE, headers={"ETag": '"4"'})
    patch = console.services.orders.patch("/api/v1/account").respond(200, json=PROFILE, headers={"ETag": '"5"'})
    page = console.get("/settings/company")
    assert page.status_code == 200
    assert 'value="044525225"' in page.text and 'value="Москва, ул. Вавилова, 19"' in page.text
    form = {k: v for k, v in PROFILE.items() if k not in ("account_id", "kind", "version")}
    answer = console.post("/settings/company", {**form, "address": "Москва, ул. Новая, 1", "etag": '"4"'})
    assert answer.status_code == 303 and answer.headers["location"] == "/settings/company?done=saved"
    sent = patch.calls.last.request
    assert sent.headers["If-Match"] == '"4"'
    assert json.loads(sent.content)["address"] == "Москва, ул. Новая, 1"


def test_requisites_of_the_wrong_shape_are_said_next_to_their_fields_and_nothing_is_sent(console: Console) -> None:
    """R-UI-11: an INN or an account number of the wrong length stays in the form with a message."""
    console.signed_in_as_staff()
    patch = console.services.orders.patch("/api/v1/account").respond(200, json=PROFILE)
    page = console.post(
        "/settings/company", {"name": "ООО Ромашка", "inn": "12345", "bank_account": "4070", "etag": '"4"'}
    )
    assert page.status_code == 422
    assert 'value="12345"' in page.text and 'id="inn-error"' in page.text and 'id="bank_account-error"' in page.text
    assert not patch.called


def test_wrong_control_digits_and_a_stale_profile_are_told_clearly(console: Console) -> None:
    """R-UI-11: the service's check of control digits is shown at the field; 412 says someone else saved first."""
    console.signed_in_as_staff()
    patch = console.services.orders.patch("/api/v1/account")
    patch.respond(
        422,
        json={"error": {"code": "invalid_requisites", "message": "bad", "details": {"inn": "control digit"}}},
    )
    form = {"name": "ООО Ромашка", "inn": "7707083894", "etag": '"4"'}
    page = console.post("/settings/company", form)
    assert page.status_code == 422 and 'id="inn-error"' in page.text and 'value="7707083894"' in page.text
    patch.respond(412, json={"error": {"code": "stale_version", "message": "stale", "details": {"current_version": 5}}})
    page = console.post("/settings/company", form)
    assert page.status_code == 412
    assert "Перезагрузите страницу" in page.text


WAREHOUSE = "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"


def test_each_warehouse_is_mapped_to_a_1c_warehouse_and_a_taken_one_is_said_at_its_row(console: Console) -> None:
    """R-UI-11, R-ERP-6: the warehouses with their 1C Ид; saving sends it, an empty field clears the mapping."""
    console.signed_in_as_staff()
    console.services.erp_bridge.get("/api/v1/erp/warehouses").respond(
        200,
        json={
            "items": [
                {"warehouse_id": WAREHOUSE, "code": "MSK", "name": "Москва", "erp_id": "wh-1c", "deleted": False}
            ],
            "total": 1,
        },
    )
    put = console.services.erp_bridge.put(f"/api/v1/erp/warehouses/{WAREHOUSE}")
    put.respond(200, json={"warehouse_id": WAREHOUSE, "erp_id": None})
    page = console.get("/settings/erp/warehouses")
    assert page.status_code == 200 and 'value="wh-1c"' in page.text and "Москва" in page.text
    answer = console.post(f"/settings/erp/warehouses/{WAREHOUSE}", {"erp_id": ""})
    assert answer.status_code == 303
    assert json.loads(put.calls.last.request.content) == {"erp_id": None}
    put.respond(409, json={"error": {"code": "erp_id_taken", "message": "taken", "details": None}})
    page = console.post(f"/settings/erp/warehouses/{WAREHOUSE}", {"erp_id": "wh-2"})
    assert page.status_code == 422
    assert 'value="wh-2"' in page.text and "уже сопоставлен" in page.text
