"""Sign-in sessions: short access tokens renewed by a refresh token; revocation, password change, throttling."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt

from oms_orders.settings import Settings
from tests.integration.orders.helpers import orders_app, register
from tests.support.services import bearer, running_service

PASSWORD = "secret-pass-1"


async def token_pair(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return decoded


async def an_employee(client: httpx.AsyncClient, owner_h: dict[str, str], **grant: Any) -> dict[str, str]:
    email = f"emp.{uuid.uuid4().hex[:6]}@example.com"
    body = {"email": email, "password": PASSWORD, "access_orders": "read", **grant}
    r = await client.post("/api/v1/users", headers=owner_h, json=body)
    assert r.status_code == 201, r.text
    return {"email": email, "user_id": r.json()["user_id"]}


def test_access_tokens_live_at_most_a_minute() -> None:
    """R-ACC-1: a disabled user or a changed access level takes effect within a minute: tokens live ≤ 60 s."""
    assert Settings().token_ttl_s <= 60
    try:
        Settings(token_ttl_s=3600)
    except ValueError:
        pass
    else:
        raise AssertionError("a token lifetime over a minute was accepted")


async def test_refresh_renews_with_current_access_and_ends_for_a_disabled_user_or_a_reused_token(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: a refresh gives a token with the access the user has now; a disabled user's session ends; a
    refresh token is good once — replaying a used one ends the session for whoever holds it."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        owner = await token_pair(client, supplier["email"])
        owner_h = bearer(owner["access_token"])
        assert 0 < owner["expires_in"] <= 60 and owner["refresh_expires_in"] > 3600
        emp = await an_employee(client, owner_h)
        pair = await token_pair(client, emp["email"])
        assert claims(pair["access_token"])["acc"]["orders"] == "read"

        # Access changed: the next refresh carries it.
        r = await client.patch(f"/api/v1/users/{emp['user_id']}", headers=owner_h, json={"access_orders": "change"})
        assert r.status_code == 200, r.text
        r = await refreshed(client, pair["refresh_token"])
        assert r.status_code == 200, r.text
        renewed = r.json()
        assert claims(renewed["access_token"])["acc"]["orders"] == "change"
        assert renewed["refresh_token"] != pair["refresh_token"]

        # The used refresh token replayed: refused, and the session is over for the new one too.
        r = await refreshed(client, pair["refresh_token"])
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
        r = await refreshed(client, renewed["refresh_token"])
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"

        # Disabled: no refresh, no sign-in.
        pair = await token_pair(client, emp["email"])
        r = await client.patch(f"/api/v1/users/{emp['user_id']}", headers=owner_h, json={"active": False})
        assert r.status_code == 200, r.text
        r = await refreshed(client, pair["refresh_token"])
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
        r = await client.post("/api/v1/auth/token", json={"email": emp["email"], "password": PASSWORD})
        assert r.status_code == 401

        # Garbage refresh tokens: a clear 401 or 422, never a 500.
        for bad in ("x", "not.a.token", f"{uuid.uuid4()}.secret"):
            r = await refreshed(client, bad)
            assert r.status_code == 401, r.text
        r = await client.post("/api/v1/auth/refresh", json={"refresh_token": ""})
        assert r.status_code == 422

        # Sign-out ends the caller's session.
        pair = await token_pair(client, supplier["email"])
        r = await client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"]))
        assert r.status_code == 204, r.text
        assert (await refreshed(client, pair["refresh_token"])).status_code == 401


async def test_password_change_needs_the_old_one_and_ends_the_other_sessions(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: a user changes their password with the old one; their other sessions end, this one goes on."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        here = await token_pair(client, supplier["email"])
        elsewhere = await token_pair(client, supplier["email"])
        here_h = bearer(here["access_token"])

        r = await client.post(
            "/api/v1/auth/password", headers=here_h, json={"old_password": "wrong-one-1", "new_password": "n3w-pass-42"}
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_password"
        r = await client.post(
            "/api/v1/auth/password", headers=here_h, json={"old_password": PASSWORD, "new_password": "short"}
        )
        assert r.status_code == 422
        assert (await refreshed(client, elsewhere["refresh_token"])).status_code == 200  # nothing changed yet
        elsewhere = await token_pair(client, supplier["email"])

        r = await client.post(
            "/api/v1/auth/password", headers=here_h, json={"old_password": PASSWORD, "new_password": "n3w-pass-42"}
        )
        assert r.status_code == 204, r.text
        r = await refreshed(client, elsewhere["refresh_token"])
        assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"
        assert (await refreshed(client, here["refresh_token"])).status_code == 200
        r = await client.post("/api/v1/auth/token", json={"email": supplier["email"], "password": PASSWORD})
        assert r.status_code == 401
        await token_pair(client, supplier["email"], "n3w-pass-42")


async def test_sign_in_is_throttled_per_login_and_per_client_address(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """Guessing passwords: after a burst of attempts a login (or an address) gets 429 with Retry-After, in the
    error shape; another login from another address is not affected."""
    app = orders_app(
        database_url,
        service_env,
        keys,
        signin_per_login_burst=3,
        signin_per_login_per_minute=1,
        signin_per_ip_burst=5,
        signin_per_ip_per_minute=1,
    )
    async with running_service(app) as client:
        victim = await register(client, "supplier", "Victim Co")
        statuses = []
        for _ in range(4):
            r = await client.post("/api/v1/auth/token", json={"email": victim["email"], "password": "guess-1234"})
            statuses.append(r.status_code)
        assert statuses == [401, 401, 401, 429]
        assert r.json()["error"]["code"] == "too_many_requests"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # The right password does not get through either while the login is throttled.
        r = await client.post("/api/v1/auth/token", json={"email": victim["email"], "password": PASSWORD})
        assert r.status_code == 429

        # Per address: many logins from one address run out too; another address still signs in.
        for n in range(3):
            r = await client.post("/api/v1/auth/token", json={"email": f"x{n}@example.com", "password": "guess-1234"})
            assert r.status_code == (401 if n < 2 else 429), (n, r.text)
        other = await register(client, "supplier", "Other Co")
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as elsewhere:
            r = await elsewhere.post("/api/v1/auth/token", json={"email": other["email"], "password": PASSWORD})
            assert r.status_code == 200, r.text


async def test_racing_refreshes_with_one_token_get_one_new_token(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """A refresh token is good once even when it is presented several times at the same moment (two tabs, or
    a copy): exactly one gets a new pair; on PostgreSQL the requests really run side by side."""
    import asyncio

    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        pair = await token_pair(client, supplier["email"])
        answers = await asyncio.gather(*(refreshed(client, pair["refresh_token"]) for _ in range(6)))
        codes = sorted(r.status_code for r in answers)
        assert codes.count(200) == 1 and set(codes) == {200, 401}, [r.text for r in answers]
        assert all(r.json()["error"]["code"] == "session_ended" for r in answers if r.status_code == 401)


async def test_expired_sessions_and_reset_tokens_are_forgotten_a_day_later(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """The sessions and password_resets tables do not only grow: a day past expiry, rows are deleted."""
    from datetime import timedelta

    import sqlalchemy as sa

    from oms_orders.db import password_resets, sessions
    from oms_orders.handlers.identity import purge_expired
    from oms_shared.db import utcnow

    app = orders_app(database_url, service_env, keys)
    db = app.state.runtime.db
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        old, fresh = await token_pair(client, supplier["email"]), await token_pair(client, supplier["email"])
        assert (await client.post("/api/v1/auth/password-reset", json={"email": supplier["email"]})).status_code == 202
        async with db.transaction() as tx:
            long_ago = utcnow() - timedelta(days=2)
            await tx.conn.execute(
                sessions.update().where(sessions.c.id == old["refresh_token"].split(".")[0]).values(expires_at=long_ago)
            )
            await tx.conn.execute(password_resets.update().values(expires_at=long_ago))
        assert await purge_expired(db) == 2
        async with db.read() as conn:
            assert await conn.scalar(sa.select(sa.func.count()).select_from(sessions)) == 1
            assert await conn.scalar(sa.select(sa.func.count()).select_from(password_resets)) == 0
        assert (await refreshed(client, fresh["refresh_token"])).status_code == 200
