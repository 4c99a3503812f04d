"""Revocation across services: a disabled employee, or one whose password changed, loses access everywhere soon."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

from oms_analytics.app import create_app as analytics_app
from oms_analytics.settings import Settings as AnalyticsSettings
from oms_inventory.app import create_app as inventory_app
from oms_inventory.settings import Settings as InventorySettings
from oms_orders.app import create_app as orders_app
from oms_orders.settings import Settings as OrdersSettings
from oms_shared.auth import JWKS_PATH
from tests.support.services import bearer, eventually, running_service

PASSWORD = "secret-pass-1"
# Short for the test (the default, and the most allowed, is 60 s, so "soon" is within a minute), yet long
# enough for a busy machine to use a token it has just been given.
ACCESS_TTL_S = 15
SUMMARY = "/api/v1/summary?date_from=2026-11-01&date_to=2026-11-30"


def settings_env(service_env: dict[str, object], name: str, tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in service_env.items() if k != "jwt_public_key_file"}
    env["consumer_group"] = f"{env['consumer_group']}-{name}"
    env["database_url"] = f"sqlite+aiosqlite:///{tmp_path / name}.db"
    return env


async def test_a_disabled_employee_is_refused_by_every_service_within_a_minute(
    service_env: dict[str, object], keys: tuple[Path, Path], tmp_path: Path
) -> None:
    """R-ACC-1: the owner disables an employee, another changes their password, a third loses access to orders:
    from then on orders, inventory and analytics refuse the tokens they hold within the access-token lifetime
    (≤ 60 s); the disabled one and the other session get no new token, the third gets one with the new level.
    Services run against the real broker and verify with orders' published keys."""
    orders = orders_app(
        OrdersSettings(
            jwt_private_key_file=str(keys[0]),
            token_ttl_s=ACCESS_TTL_S,
            **settings_env(service_env, "orders", tmp_path),
        )
    )
    jwks = {"jwks_url": f"http://orders{JWKS_PATH}", "jwks_min_refresh_interval_s": 1.0}
    inventory = inventory_app(InventorySettings(**jwks, **settings_env(service_env, "inventory", tmp_path)))
    analytics = analytics_app(AnalyticsSettings(**jwks, **settings_env(service_env, "analytics", tmp_path)))
    for app in (inventory, analytics):
        app.state.runtime.token_verifier.transport = httpx.ASGITransport(app=orders)

    async with AsyncExitStack() as stack:
        o = await stack.enter_async_context(running_service(orders))
        i = await stack.enter_async_context(running_service(inventory))
        a = await stack.enter_async_context(running_service(analytics))
        owner_email = f"owner.{uuid.uuid4().hex[:6]}@example.com"
        r = await o.post(
            "/api/v1/accounts",
            json={"kind": "supplier", "name": "Supplier Co", "owner": {"email": owner_email, "password": PASSWORD}},
        )
        assert r.status_code == 201, r.text
        owner_h = bearer((await sign_in(o, owner_email))["access_token"])

        async def employee() -> tuple[str, str]:
            email = f"emp.{uuid.uuid4().hex[:6]}@example.com"
            body = {"email": email, "password": PASSWORD, "access_orders": "read", "access_buyers": "read"}
            r = await o.post("/api/v1/users", headers=owner_h, json=body)
            assert r.status_code == 201, r.text
            return r.json()["user_id"], email

        async def statuses(token: str) -> dict[str, int]:
            h = bearer(token)
            return {
                "orders": (await o.get("/api/v1/orders", headers=h)).status_code,
                "inventory": (await i.get("/api/v1/warehouses", headers=h)).status_code,
                "analytics": (
                    await a.get("/api/v1/summary?date_from=2026-11-01&date_to=2026-11-30", headers=h)
                ).status_code,
            }

        disabled_id, disabled_email = await employee()
        disabled = await sign_in(o, disabled_email)
        _, changing_email = await employee()
        here, elsewhere = await sign_in(o, changing_email), await sign_in(o, changing_email)
        lowered_id, lowered_email = await employee()
        lowered = await sign_in(o, lowered_email)
        everywhere_ok = dict.fromkeys(("orders", "inventory", "analytics"), 200)
        for pair in (disabled, here, elsewhere, lowered):
            assert await eventually(lambda pair=pair: statuses(pair["access_token"])) == everywhere_ok

        # Fresh tokens for the writes below: the ones taken above may have lapsed on a slow machine.
        owner_h = bearer((await sign_in(o, owner_email))["access_token"])
        r = await o.post("/api/v1/auth/refresh", json={"refresh_token": here["refresh_token"]})
        assert r.status_code == 200, r.text
        here = r.json()
        r = await o.patch(f"/api/v1/users/{disabled_id}", headers=owner_h, json={"active": False})
        assert r.status_code == 200, r.text
        r = await o.post(
            "/api/v1/auth/password",
            headers=bearer(here["access_token"]),
            json={"old_password": PASSWORD, "new_password": "n3w-pass-42"},
        )
        assert r.status_code == 204, r.text
        r = await o.patch(f"/api/v1/users/{lowered_id}", headers=owner_h, json={"access_orders": "none"})
        assert r.status_code == 200, r.text

        async def refused_everywhere() -> bool:
            # The tokens the disabled employee and the other session hold stop working in every service,
            # and neither can renew them.
            for pair in (disabled, elsewhere):
                if set((await statuses(pair["access_token"])).values()) != {401}:
                    return False
                r = await o.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
                assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended", r.text
            return True

        await eventually(refused_everywhere, timeout=65, interval=0.5)

        # Lowered access: the token held lapses too, and the renewed one carries the new level everywhere.
        async def lapsed() -> bool:
            return set((await statuses(lowered["access_token"])).values()) == {401}

        await eventually(lapsed, timeout=65, interval=0.5)
        r = await o.post("/api/v1/auth/refresh", json={"refresh_token": lowered["refresh_token"]})
        assert r.status_code == 200, r.text
        seen = await statuses(r.json()["access_token"])
        assert (seen["orders"], seen["analytics"]) == (403, 403), seen
        # The session that changed the password goes on.
        r = await o.post("/api/v1/auth/refresh", json={"refresh_token": here["refresh_token"]})
        assert r.status_code == 200, r.text
        assert await statuses(r.json()["access_token"]) == everywhere_ok


async def sign_in(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body
