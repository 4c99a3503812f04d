"""R-UI-1: the invitation link (``/invitation?token=``): an invited buyer registers or, signed in, accepts."""

from __future__ import annotations

from tests.unit.console.conftest import Console

INVITATION = {
    "supplier_name": "ООО Ромашка",
    "buyer_name": "ИП Смирнов",
    "inn": "770000000000",
    "kpp": None,
    "email": "ivan@example.com",
    "expires_at": "2026-12-10T00:00:00+00:00",
}


def test_a_taken_email_is_said_in_russian_and_the_input_kept(console: Console) -> None:
    """R-UI-1: the service's refusal (409 email_taken) in the user's language, the typed values kept."""
    console.services.orders.get("/api/v1/invitations/t-1").respond(200, json=INVITATION)
    console.services.orders.post("/api/v1/invitations/t-1/register").respond(
        409, json={"error": {"code": "email_taken", "message": "this e-mail is taken", "details": None}}
    )
    answer = console.post(
        "/invitation/register",
        {
            "token": "t-1",
            "email": "ivan@example.com",
            "name": "Иван",
            "password": "a-long-secret",
            "password2": "a-long-secret",
        },
    )
    assert answer.status_code == 422
    assert "Этот адрес уже зарегистрирован" in answer.text
    assert 'value="Иван"' in answer.text
    assert "this e-mail is taken" not in answer.text


def test_a_signed_in_buyer_accepts(console: Console) -> None:
    """R-UI-1: signed in, the invitation is one button."""
    console.signed_in_as_buyer()
    console.services.orders.get("/api/v1/invitations/t-1").respond(200, json=INVITATION)
    accept = console.services.orders.post("/api/v1/invitations/t-1/accept").respond(200, json={"buyer_id": "b"})
    page = console.get("/invitation?token=t-1")
    assert "Принять приглашение" in page.text
    answer = console.post("/invitation", {"token": "t-1"})
    assert answer.status_code == 303 and accept.called


def test_an_unknown_invitation_says_so(console: Console) -> None:
    console.services.orders.get("/api/v1/invitations/nope").respond(
        404, json={"error": {"code": "invitation_not_found", "message": "x", "details": None}}
    )
    page = console.get("/invitation?token=nope")
    assert page.status_code == 200
    assert "Приглашение не найдено, уже использовано или истекло." in page.text
