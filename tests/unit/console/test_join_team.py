"""R-ACC-1: an employee invited by e-mail opens the link, sets a password and is signed in with the access the
owner chose (orders creates the user); a used link offers no form; bad input keeps the page and sends nothing."""

from __future__ import annotations

import json

from oms_console.auth import ACCESS_COOKIE
from tests.unit.console.conftest import Console, a_token

TOKEN = "team-token-1"


def invitation() -> dict[str, object]:
    return {"account_name": "ООО «Крепёж»", "email": "oleg@example.com", "name": "Олег", "access_buyers": "read",
            "access_orders": "change", "restricted_to_own_buyers": True, "manage_users": False,
            "expires_at": "2026-12-10T00:00:00Z"}  # fmt: skip


def test_an_invited_employee_sets_a_password_and_is_signed_in(console: Console) -> None:
    """R-ACC-1: the page names the company and the e-mail; the password is sent with the token, then the employee
    signs in with the invited e-mail and lands on the orders."""
    console.services.orders.get(f"/api/v1/employee-invitations/{TOKEN}").respond(200, json=invitation())
    page = console.get(f"/join-team?token={TOKEN}")
    assert page.status_code == 200
    assert "ООО «Крепёж»" in page.text and "oleg@example.com" in page.text and 'value="Олег"' in page.text
    accepted = console.services.orders.post(f"/api/v1/employee-invitations/{TOKEN}/accept").respond(
        201, json={"account_id": "acc-1", "user_id": "u-9", "email": "oleg@example.com"}
    )
    signed = console.services.orders.post("/api/v1/auth/token").respond(
        200, json={"access_token": a_token(), "refresh_token": "s.secret", "expires_in": 60}
    )
    answer = console.post(
        "/join-team", {"token": TOKEN, "name": "Олег", "password": "a-long-secret", "password2": "a-long-secret"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/orders"
    assert json.loads(accepted.calls.last.request.content) == {"password": "a-long-secret", "name": "Олег"}
    assert "Authorization" not in accepted.calls.last.request.headers
    assert json.loads(signed.calls.last.request.content)["email"] == "oleg@example.com"
    assert any(c.startswith(f"{ACCESS_COOKIE}=") for c in answer.headers.get_list("set-cookie"))


def test_differing_passwords_are_said_next_to_the_field(console: Console) -> None:
    """R-ACC-1: a short or repeated-wrong password: said on its field, nothing sent, the name stays."""
    console.services.orders.get(f"/api/v1/employee-invitations/{TOKEN}").respond(200, json=invitation())
    accepted = console.services.orders.post(f"/api/v1/employee-invitations/{TOKEN}/accept").respond(201, json={})
    answer = console.post(
        "/join-team", {"token": TOKEN, "name": "Олег П.", "password": "a-long-secret", "password2": "other-secret"}
    )
    assert answer.status_code == 422 and not accepted.called
    assert 'id="password2-error"' in answer.text and 'value="Олег П."' in answer.text
    short = console.post("/join-team", {"token": TOKEN, "password": "short", "password2": "short"})
    assert short.status_code == 422 and 'id="password-error"' in short.text and not accepted.called


def test_a_used_employee_invitation_offers_no_form(console: Console) -> None:
    """R-ACC-1: an unknown, used or expired link says so (404) and offers no form."""
    console.services.orders.get("/api/v1/employee-invitations/used").respond(
        404, json={"error": {"code": "invitation_not_found", "message": "not valid", "details": None}}
    )
    page = console.get("/join-team?token=used")
    assert page.status_code == 404
    assert "Приглашение не найдено, уже использовано или истекло." in page.text
    assert 'action="/join-team"' not in page.text
    assert console.get("/join-team").status_code == 404
