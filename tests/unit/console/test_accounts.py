"""R-UI-1 / R-IN-2: getting an account without a session: "forgot password" from the sign-in page, and a new
buyer registering through an invitation (then signed in, on the catalogue); the navigation per role."""

from __future__ import annotations

import json
import re

from oms_console.auth import ACCESS_COOKIE, CSRF_COOKIE
from tests.unit.console.conftest import Console, a_me, a_token

TOKEN = "invite-token-1"


def invitation() -> dict[str, object]:
    return {"supplier_name": "ООО Ромашка", "buyer_name": "ИП Смирнов", "inn": "", "kpp": "",
            "email": "ivan@example.com", "expires_at": "2026-12-10T00:00:00Z"}  # fmt: skip


def test_the_sign_in_page_offers_forgot_password_and_the_link_is_requested(console: Console) -> None:
    """R-UI-1: "forgot password" on the sign-in page sends the reset request; the answer never says whether the
    address is registered."""
    assert 'href="/forgot"' in console.get("/login").text
    asked = console.services.orders.post("/api/v1/auth/password-reset").respond(202, json={"status": "accepted"})
    answer = console.post("/forgot", {"email": "ivan@example.com"})
    assert answer.status_code == 200
    assert "Если адрес ivan@example.com зарегистрирован" in answer.text
    assert json.loads(asked.calls.last.request.content) == {"email": "ivan@example.com"}
    assert "Authorization" not in asked.calls.last.request.headers


def test_forgot_password_without_an_email_says_so_next_to_the_field(console: Console) -> None:
    """R-UI-1: an empty address is refused next to the field, nothing is sent."""
    asked = console.services.orders.post("/api/v1/auth/password-reset").respond(202, json={})
    answer = console.post("/forgot", {"email": " "})
    assert answer.status_code == 422
    assert 'id="email-error"' in answer.text
    assert not asked.called


def test_forgot_password_throttled_says_wait(console: Console) -> None:
    """R-UI-1: too many requests: the page says to wait, not a trace."""
    console.services.orders.post("/api/v1/auth/password-reset").respond(
        429, json={"error": {"code": "too_many_attempts", "message": "slow down", "details": None}}
    )
    answer = console.post("/forgot", {"email": "ivan@example.com"})
    assert answer.status_code == 422
    assert "Слишком много попыток" in answer.text


def test_a_new_buyer_registers_through_the_invitation_and_is_signed_in(console: Console) -> None:
    """R-IN-2: the invitation page offers registration; the buyer registers, is signed in, lands on the catalogue."""
    console.services.orders.get(f"/api/v1/invitations/{TOKEN}").respond(200, json=invitation())
    assert f'href="/invitation/register?token={TOKEN}"' in console.get(f"/invitation?token={TOKEN}").text
    form = console.get(f"/invitation/register?token={TOKEN}")
    assert form.status_code == 200
    assert "ООО Ромашка" in form.text and 'value="ivan@example.com"' in form.text
    registered = console.services.orders.post(f"/api/v1/invitations/{TOKEN}/register").respond(
        201, json={"account_id": "acc-2", "user_id": "u-2", "buyer_id": "b-2"}
    )
    console.services.orders.post("/api/v1/auth/token").respond(
        200, json={"access_token": a_token(), "refresh_token": "s.secret", "expires_in": 60}
    )
    answer = console.post(
        "/invitation/register",
        {"token": TOKEN, "email": "ivan@example.com", "name": "Иван", "password": "a-long-secret",
         "password2": "a-long-secret"},
    )  # fmt: skip
    assert answer.status_code == 303
    assert answer.headers["location"] == "/catalogue?done=invitation"
    assert json.loads(registered.calls.last.request.content)["email"] == "ivan@example.com"
    assert any(c.startswith(f"{ACCESS_COOKIE}=") for c in answer.headers.get_list("set-cookie"))


def test_an_unknown_invitation_offers_no_form(console: Console) -> None:
    """R-IN-2: a used or expired invitation says so (404) and offers no registration."""
    console.services.orders.get("/api/v1/invitations/used").respond(
        404, json={"error": {"code": "invitation_not_found", "message": "not valid", "details": None}}
    )
    page = console.get("/invitation/register?token=used")
    assert page.status_code == 404
    assert "Приглашение не найдено, уже использовано или истекло." in page.text
    assert 'action="/invitation/register"' not in page.text


def test_registration_refused_keeps_the_form(console: Console) -> None:
    """R-IN-2: differing passwords: said next to the field; what was typed stays; nothing is sent."""
    console.services.orders.get(f"/api/v1/invitations/{TOKEN}").respond(200, json=invitation())
    registered = console.services.orders.post(f"/api/v1/invitations/{TOKEN}/register").respond(201, json={})
    answer = console.post(
        "/invitation/register",
        {"token": TOKEN, "email": "ivan@example.com", "name": "Иван", "password": "a-long-secret",
         "password2": "different-secret"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert 'id="password2-error"' in answer.text and 'value="Иван"' in answer.text
    assert not registered.called


def test_navigation_offers_catalogue_to_buyers_and_import_to_staff_who_may(console: Console) -> None:
    """R-UI-2, R-UI-7: buyers see the catalogue and no import; staff with change access to orders see import."""
    console.signed_in_as_buyer()
    console.services.orders.get("/api/v1/price-lists").respond(200, json={"items": [], "total": 0})
    buyer_page = console.get("/catalogue").text
    assert 'href="/catalogue"' in buyer_page and 'href="/orders/import"' not in buyer_page

    console.signed_in_as_staff()
    assert 'href="/orders/import"' in console.get("/catalogue").text

    reader = a_me("supplier", is_owner=False)
    reader["access"] = {"buyers": "read", "orders": "read"}
    console.signed_in_as(reader)
    assert 'href="/orders/import"' not in console.get("/catalogue").text
    assert console.get("/orders/import").status_code == 404


def test_every_form_carries_the_browsers_csrf_token(console: Console) -> None:
    """R-UI-1: a form posted from the page itself passes the CSRF check: each hidden token is the cookie's."""
    console.services.orders.get(f"/api/v1/invitations/{TOKEN}").respond(200, json=invitation())
    console.services.orders.get("/api/v1/links/t").respond(
        200, json={"price_list_id": "p", "name": "Крепёж", "supplier_name": "ООО Ромашка", "items": []}
    )
    for path in ("/login", "/forgot", f"/invitation/register?token={TOKEN}", "/join/t", "/reset?token=x"):
        page = console.get(path)
        tokens = re.findall(r'name="csrf_token" value="([^"]*)"', page.text)
        assert tokens, path
        assert set(tokens) == {console.client.cookies.get(CSRF_COOKIE)}, path
