"""Signing up answers ids, not a token: the API's own description says where the token comes from."""

from __future__ import annotations

from pathlib import Path

from tests.integration.orders.helpers import orders_app, register, sign_in
from tests.support.services import running_service


async def test_sign_up_says_how_to_get_a_token_and_that_route_gives_one(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-1: POST /accounts documents that it returns no token and that POST /auth/token with the same
    e-mail and password gives one (with a refresh token); doing exactly that works."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        spec = (await client.get("/openapi.json")).json()
        described = spec["paths"]["/api/v1/accounts"]["post"]["description"]
        assert "no token" in described and "POST /api/v1/auth/token" in described
        assert "Authorization: Bearer" in described and "/api/v1/auth/refresh" in described
        supplier = await register(client, "supplier", "Supplier Co")
        assert "access_token" not in supplier
        headers = await sign_in(client, supplier["email"])
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 200
