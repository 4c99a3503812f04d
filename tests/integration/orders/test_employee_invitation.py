"""Inviting an employee by e-mail: the owner chooses the access, the person sets a password through a one-time
link (its token travels only in ``employee.invited`` to notifications) and is a user with exactly that access."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from oms_orders.db import employee_invitations
from oms_orders.handlers.identity import purge_expired
from oms_shared import topics
from oms_shared.db import utcnow
from tests.integration.orders.helpers import orders_app, read_events, register, sign_in
from tests.support.services import running_service

RESTRICTED = {"access_buyers": "read", "access_orders": "change", "restricted_to_own_buyers": True}


async def _token_for(service_env: dict[str, object], email: str) -> str:
    """The link's token, as notifications receives it (the API never answers it)."""
    events = await read_events(
        str(service_env["kafka_bootstrap"]), topics.EMPLOYEE_INVITED, 1, where=lambda e: e.data.email == email
    )
    assert events, f"no employee.invited event for {email}"
    return str(events[0].data.token)


async def test_an_invited_employee_sets_a_password_and_works_with_the_access_the_owner_chose(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: the owner invites an employee restricted to their own buyers; the e-mailed link shows the company
    and sets the password once; the new user signs in with exactly the access chosen; the link then is spent."""
    app = orders_app(database_url, service_env, keys, signin_per_ip_burst=1000)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        owner = await sign_in(client, supplier["email"])
        email = f"Manager.{uuid.uuid4().hex[:6]}@Example.com"
        body: dict[str, Any] = {"email": email, "name": "Олег", "locale": "ru", **RESTRICTED}
        r = await client.post("/api/v1/users/invitations", headers=owner, json=body)
        assert r.status_code == 201, r.text
        invited = r.json()
        assert invited["email"] == email.lower() and "token" not in invited
        assert invited["restricted_to_own_buyers"] is True and invited["accepted_at"] is None
        pending = (await client.get("/api/v1/users/invitations", headers=owner)).json()["items"]
        assert [p["invitation_id"] for p in pending] == [invited["invitation_id"]]

        token = await _token_for(service_env, email.lower())
        shown = await client.get(f"/api/v1/employee-invitations/{token}")
        assert shown.status_code == 200, shown.text
        assert (shown.json()["account_name"], shown.json()["email"]) == ("Supplier Co", email.lower())
        assert (await client.get("/api/v1/employee-invitations/forged")).status_code == 404

        short = await client.post(f"/api/v1/employee-invitations/{token}/accept", json={"password": "short"})
        assert short.status_code == 422  # bad input changes nothing: the link still works
        r = await client.post(f"/api/v1/employee-invitations/{token}/accept", json={"password": "n3w-secret-pass"})
        assert r.status_code == 201, r.text
        user_id = r.json()["user_id"]
        me = (await client.get("/api/v1/me", headers=await sign_in(client, email, "n3w-secret-pass"))).json()
        assert me["account"]["account_id"] == supplier["account_id"] and me["user"]["user_id"] == user_id
        assert me["user"]["name"] == "Олег" and me["user"]["is_owner"] is False
        assert (me["access"], me["user"]["restricted_to_own_buyers"]) == (
            {"buyers": "read", "orders": "change"},
            True,
        )
        again = await client.post(f"/api/v1/employee-invitations/{token}/accept", json={"password": "other-pass-1"})
        assert again.status_code == 404 and again.json()["error"]["code"] == "invitation_not_found"
        assert (await client.get("/api/v1/users/invitations", headers=owner)).json()["items"] == []

        # The e-mail is a user's now: no second invitation to it.
        r = await client.post("/api/v1/users/invitations", headers=owner, json={"email": email})
        assert r.status_code == 409 and r.json()["error"]["code"] == "email_taken"


async def test_invitations_follow_the_rules_of_adding_users_and_expire(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: only who manages users invites, never above their own level; a refused invitation leaves nothing
    behind; an expired link does nothing and is forgotten a day later."""
    app = orders_app(database_url, service_env, keys, signin_per_ip_burst=1000)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        owner = await sign_in(client, supplier["email"])
        clerk_email = f"clerk.{uuid.uuid4().hex[:6]}@example.com"
        r = await client.post(
            "/api/v1/users",
            headers=owner,
            json={"email": clerk_email, "password": "secret-pass-1", "access_orders": "read"},
        )
        assert r.status_code == 201, r.text
        clerk = await sign_in(client, clerk_email)
        r = await client.post("/api/v1/users/invitations", headers=clerk, json={"email": "x@example.com"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied"
        assert (await client.get("/api/v1/users/invitations", headers=clerk)).status_code == 403
        admin_email = f"admin.{uuid.uuid4().hex[:6]}@example.com"
        r = await client.post(
            "/api/v1/users",
            headers=owner,
            json={"email": admin_email, "password": "secret-pass-1", "access_orders": "change", "manage_users": True},
        )
        admin = await sign_in(client, admin_email)
        r = await client.post(
            "/api/v1/users/invitations", headers=admin, json={"email": "y@example.com", "access_orders": "full"}
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "above_own_level"
        for bad in ({"email": "not-an-email"}, {"email": "z@example.com", "access_orders": "god"}, {}):
            r = await client.post("/api/v1/users/invitations", headers=owner, json=bad)
            assert r.status_code == 422, (bad, r.text)
        assert (await client.get("/api/v1/users/invitations", headers=owner)).json()["items"] == []

        late = f"late.{uuid.uuid4().hex[:6]}@example.com"
        r = await client.post("/api/v1/users/invitations", headers=owner, json={"email": late})
        assert r.status_code == 201, r.text
        token = await _token_for(service_env, late)
        db = app.state.runtime.db
        async with db.transaction() as tx:
            await tx.conn.execute(employee_invitations.update().values(expires_at=utcnow() - timedelta(seconds=1)))
        r = await client.post(f"/api/v1/employee-invitations/{token}/accept", json={"password": "secret-pass-2"})
        assert r.status_code == 404
        login = await client.post("/api/v1/auth/token", json={"email": late, "password": "secret-pass-2"})
        assert login.status_code == 401
        async with db.transaction() as tx:
            await tx.conn.execute(employee_invitations.update().values(expires_at=utcnow() - timedelta(days=2)))
        assert await purge_expired(db) >= 1
        async with db.read() as conn:
            assert (await conn.execute(employee_invitations.select())).first() is None


async def test_an_employee_invitation_reaches_no_other_account(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-4: another supplier's owner does not see this supplier's pending invitations."""
    app = orders_app(database_url, service_env, keys, signin_per_ip_burst=1000)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        other = await register(client, "supplier", "Other Co")
        owner = await sign_in(client, supplier["email"])
        r = await client.post("/api/v1/users/invitations", headers=owner, json={"email": "p@example.com"})
        assert r.status_code == 201
        other_h: dict[str, str] = await sign_in(client, other["email"])
        answer: httpx.Response = await client.get("/api/v1/users/invitations", headers=other_h)
        assert answer.status_code == 200 and answer.json()["items"] == []
