"""R-UI-1: sign-in and out, the session kept fresh, an expired session back to sign-in, CSRF and Origin."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx

from oms_console.auth import ACCESS_COOKIE, REFRESH_COOKIE, safe_next
from tests.unit.console.builders import ORDER_ID
from tests.unit.console.conftest import CONSOLE, Console, a_me, a_token


def signed_in_answer(**extra: object) -> dict[str, object]:
    return {
        "access_token": a_token(),
        "token_type": "bearer",
        "expires_in": 60,
        "refresh_token": "session-1.secret",
        "refresh_expires_in": 43200,
        **extra,
    }


def test_sign_in_sets_httponly_cookies_and_returns_to_the_page_asked_for(console: Console) -> None:
    """R-UI-1: the page asked for sends to sign-in with ?next, and sign-in brings the user back there."""
    services = console.services
    first = console.get("/orders?status=new")
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/orders%3Fstatus%3Dnew"

    login_page = console.get(first.headers["location"])
    assert 'name="next" value="/orders?status=new"' in login_page.text

    token = services.orders.post("/api/v1/auth/token").respond(200, json=signed_in_answer())
    answer = console.post(
        "/login", {"email": "anna@example.com", "password": "a-long-secret", "next": "/orders?status=new"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/orders?status=new"
    assert token.calls.last.request.content == b'{"email":"anna@example.com","password":"a-long-secret"}'
    cookies = answer.headers.get_list("set-cookie")
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        header = next(c for c in cookies if c.startswith(f"{name}="))
        assert "HttpOnly" in header
        assert "SameSite=lax" in header
        assert "Secure" not in header  # the setting is off in development


def test_wrong_password_keeps_the_email_and_says_so(console: Console) -> None:
    """R-UI-1: a refused sign-in shows the reason next to the form, with what the user typed."""
    console.services.orders.post("/api/v1/auth/token").respond(
        401, json={"error": {"code": "invalid_credentials", "message": "wrong e-mail or password", "details": None}}
    )
    answer = console.post("/login", {"email": "anna@example.com", "password": "nope"})
    assert answer.status_code == 422
    assert "Неверный адрес эл. почты или пароль." in answer.text
    assert 'value="anna@example.com"' in answer.text
    assert ACCESS_COOKIE not in console.client.cookies


def test_sign_in_never_redirects_to_another_site(console: Console) -> None:
    """R-UI-1: ``next`` is followed only when it is a path of the console (no open redirect)."""
    console.services.orders.post("/api/v1/auth/token").respond(200, json=signed_in_answer())
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        answer = console.post("/login", {"email": "a@example.com", "password": "a-long-secret", "next": target})
        assert answer.headers["location"] == "/orders", target
    assert safe_next("/orders/1?x=2") == "/orders/1?x=2"


def test_an_expired_access_token_is_renewed_and_the_new_cookies_set(console: Console) -> None:
    """R-UI-1: the access token lives 60 s; the console renews it with the refresh token on its own."""
    console.signed_in_as_staff(access=a_token(expires_in=-5))
    fresh = a_token(expires_in=60, fresh=True)
    refresh = console.services.orders.post("/api/v1/auth/refresh").respond(
        200, json=signed_in_answer(access_token=fresh, refresh_token="session-1.next")
    )
    orders = console.services.orders.get("/api/v1/orders").respond(
        200, json={"items": [], "total": 0, "next_cursor": None}
    )
    page = console.get("/orders")
    assert page.status_code == 200
    assert refresh.calls.last.request.content == b'{"refresh_token":"session-1.secret"}'
    assert orders.calls.last.request.headers["Authorization"] == f"Bearer {fresh}"
    assert console.client.cookies.get(ACCESS_COOKIE) == fresh
    assert console.client.cookies.get(REFRESH_COOKIE) == "session-1.next"


def test_an_ended_session_sends_the_page_to_sign_in(console: Console) -> None:
    """R-UI-1: refresh refused (session ended) → 303 to sign-in with the page, cookies cleared."""
    console.signed_in_as_staff(access=a_token(expires_in=-5))
    console.services.orders.post("/api/v1/auth/refresh").respond(
        401, json={"error": {"code": "session_ended", "message": "this session has ended", "details": None}}
    )
    page = console.get(f"/orders/{ORDER_ID}?tab=lines")
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=/orders/{ORDER_ID}%3Ftab%3Dlines"
    assert ACCESS_COOKIE not in console.client.cookies


def test_an_htmx_request_of_an_ended_session_gets_hx_redirect(console: Console) -> None:
    """R-UI-1: htmx follows HX-Redirect only on 2xx, so an expired session answers 200 + HX-Redirect to the
    page the user was on."""
    answer = console.htmx_get("/orders?page=2", current="/orders?status=new")
    assert answer.status_code == 200
    assert answer.headers["HX-Redirect"] == "/login?next=/orders%3Fstatus%3Dnew"


def test_a_service_refusing_the_token_ends_the_session(console: Console) -> None:
    """R-UI-1: a disabled user (the services answer 401) is sent to sign in."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/me").respond(
        401, json={"error": {"code": "invalid_token", "message": "disabled", "details": None}}
    )
    page = console.get("/orders")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_sign_out_ends_the_session_at_orders_and_clears_cookies(console: Console) -> None:
    """R-UI-1: sign out."""
    console.signed_in_as_staff()
    logout = console.services.orders.post("/api/v1/auth/logout").respond(204)
    answer = console.post("/logout")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert logout.called
    assert ACCESS_COOKIE not in console.client.cookies
    assert REFRESH_COOKIE not in console.client.cookies


def test_a_write_without_the_csrf_token_is_refused(console: Console) -> None:
    """R-UI-1: every form carries the CSRF token; a write without it (or with another) does nothing."""
    console.signed_in_as_staff()
    logout = console.services.orders.post("/api/v1/auth/logout").respond(204)
    console.csrf()
    for form in ({}, {"csrf_token": "forged"}):
        answer = console.client.post("/logout", data=form, headers={"Origin": CONSOLE}, follow_redirects=False)
        assert answer.status_code == 403
        assert "Форма устарела" in answer.text
    assert not logout.called
    assert ACCESS_COOKIE in console.client.cookies


def test_the_htmx_header_carries_the_csrf_token(console: Console) -> None:
    """R-UI-1: hx- requests send the token in X-CSRF-Token (the page puts it in <body hx-headers>)."""
    console.signed_in_as_staff()
    console.services.orders.post("/api/v1/auth/logout").respond(204)
    token = console.csrf()
    page = console.services.orders.get("/api/v1/orders").respond(200, json={"items": [], "total": 0})
    assert page is not None
    html = console.get("/orders").text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in html
    answer = console.client.post(
        "/logout", headers={"Origin": CONSOLE, "X-CSRF-Token": token, "HX-Request": "true"}, follow_redirects=False
    )
    assert answer.status_code == 303


def test_a_write_from_a_foreign_origin_is_refused(console: Console) -> None:
    """R-UI-1: Origin (or Referer) must be the console's own, even with the right token."""
    console.signed_in_as_staff()
    logout = console.services.orders.post("/api/v1/auth/logout").respond(204)
    token = console.csrf()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/p"}, {}):
        answer = console.client.post("/logout", data={"csrf_token": token}, headers=headers, follow_redirects=False)
        assert answer.status_code == 403, headers
    same_site = console.client.post(
        "/logout", data={"csrf_token": token}, headers={"Referer": CONSOLE + "/orders"}, follow_redirects=False
    )
    assert same_site.status_code == 303
    assert logout.call_count == 1


def test_navigation_follows_the_role(console: Console) -> None:
    """R-UI-1: buyers see their screens; the supplier's staff also see stock, analytics and settings."""
    console.services.orders.get("/api/v1/orders").respond(200, json={"items": [], "total": 0})
    staff = console.signed_in_as_staff(unread=4).get("/orders").text
    assert 'href="/stock"' in staff and 'href="/analytics"' in staff and 'href="/settings"' in staff
    assert "Заказы покупателей" in staff
    assert '<span class="badge"' in staff and ">4<" in staff
    buyer = console.signed_in_as(a_me("buyer")).get("/orders").text
    assert 'href="/stock"' not in buyer and 'href="/settings"' not in buyer
    assert "Заказы поставщикам" in buyer


def test_the_language_switch_is_kept_in_a_cookie(console: Console) -> None:
    """R-UI-1: the ru/en switch wins over the user's locale and the browser's."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").respond(200, json={"items": [], "total": 0})
    answer = console.post("/locale", {"locale": "en", "next": "/orders?status=new"})
    assert answer.headers["location"] == "/orders?status=new"
    page = console.get("/orders")
    assert '<html lang="en">' in page.text
    assert "Customer orders" in page.text


def test_a_service_that_does_not_answer_is_a_friendly_page(console: Console) -> None:
    """R-UI-1: a service down is a page that says so, never a trace."""
    console.signed_in_as_staff()
    console.services.orders.get("/api/v1/orders").mock(side_effect=httpx.ConnectError("refused"))
    page = console.get("/orders")
    assert page.status_code == 503
    assert "Часть системы не отвечает" in page.text
    assert "Traceback" not in page.text and "ConnectError" not in page.text


def test_password_reset_by_link(console: Console) -> None:
    """R-UI-1: the e-mailed link /reset?token= sets a new password at orders."""
    confirm = console.services.orders.post("/api/v1/auth/password-reset/confirm").respond(204)
    assert 'name="token" value="t-1"' in console.get("/reset?token=t-1").text
    answer = console.post("/reset", {"token": "t-1", "password": "a-new-secret", "password2": "a-new-secret"})
    assert answer.status_code == 303
    assert urlsplit(answer.headers["location"]).path == "/login"
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {"done": ["password"]}
    assert confirm.calls.last.request.content == b'{"token":"t-1","new_password":"a-new-secret"}'


async def test_concurrent_requests_share_one_refresh() -> None:
    """R-UI-1: refresh tokens rotate (a reused one ends the session), so requests that find the access token
    expired at the same moment renew it once and share the answer."""
    import asyncio

    from oms_console.auth import Refresher

    calls: list[str] = []

    class Orders:
        async def refresh(self, token: str) -> dict[str, object]:
            calls.append(token)
            await asyncio.sleep(0.01)
            return signed_in_answer(refresh_token="session-1.next")

    class FakeApi:
        orders = Orders()

    refresher = Refresher()
    answers = await asyncio.gather(*(refresher.refresh(FakeApi(), "session-1.secret") for _ in range(5)))  # type: ignore[arg-type]
    assert calls == ["session-1.secret"]
    assert {a["refresh_token"] for a in answers} == {"session-1.next"}


def test_a_form_sent_after_the_session_ended_returns_to_its_page(console: Console) -> None:
    """R-UI-1: a form posted with an ended session goes to sign-in, then back to the page it was on."""
    console.csrf()
    answer = console.post(
        f"/orders/{ORDER_ID}/comments",
        {"text": "x"},
        headers={"Origin": CONSOLE, "Referer": f"{CONSOLE}/orders/{ORDER_ID}?tab=1"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=/orders/{ORDER_ID}%3Ftab%3D1"


def test_the_sign_in_page_sends_a_signed_in_user_on(console: Console) -> None:
    console.signed_in_as_staff()
    answer = console.get("/login?next=/orders%3Fstatus%3Dnew")
    assert answer.status_code == 303 and answer.headers["location"] == "/orders?status=new"
