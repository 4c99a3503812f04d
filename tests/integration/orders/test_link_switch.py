"""A price list's link can be switched off, on again and regenerated (R-IN-2)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.integration.orders.helpers import a_world, orders_app, register, sign_in
from tests.support.services import running_service


async def test_a_link_switched_off_opens_nothing_and_a_regenerated_one_replaces_the_old(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2: a supplier switches a price list's link off (it no longer opens the list, registers or joins
    anyone), on again (a new link), and regenerates it (the old one stops at once); another supplier cannot."""
    app = orders_app(database_url, service_env, keys)
    async with running_service(app) as client:
        w = await a_world(client)
        url = f"/api/v1/price-lists/{w.price_list_id}/link"
        first = (await client.post(url, headers=w.sup)).json()["link_token"]
        assert (await client.post(url, headers=w.sup)).json()["link_token"] == first  # on: the same link
        assert (await client.get(f"/api/v1/links/{first}")).status_code == 200

        r = await client.delete(url, headers=w.sup)
        assert r.status_code == 204, r.text
        assert (await client.get(f"/api/v1/price-lists/{w.price_list_id}", headers=w.sup)).json()["link_token"] is None
        newcomer = {
            "company_name": "New Buyer",
            "email": f"n.{uuid.uuid4().hex[:6]}@example.com",
            "password": "p4ss-word",
        }
        buyer = await sign_in(client, (await register(client, "buyer", "Joiner"))["email"])
        for r in (
            await client.get(f"/api/v1/links/{first}"),
            await client.post(f"/api/v1/links/{first}/register", json=newcomer),
            await client.post(f"/api/v1/links/{first}/join", headers=buyer),
        ):
            assert r.status_code == 404 and r.json()["error"]["code"] == "link_not_found", r.text

        second = (await client.post(url, headers=w.sup)).json()["link_token"]
        assert second != first
        assert (await client.get(f"/api/v1/links/{second}")).status_code == 200
        third = (await client.post(f"{url}?regenerate=true", headers=w.sup)).json()["link_token"]
        assert third != second
        assert (await client.get(f"/api/v1/links/{second}")).status_code == 404
        r = await client.post(f"/api/v1/links/{third}/register", json=newcomer)
        assert r.status_code == 201, r.text

        rival = await sign_in(client, (await register(client, "supplier", "Rival"))["email"])
        assert (await client.delete(url, headers=rival)).status_code == 404
        assert (await client.post(f"{url}?regenerate=true", headers=rival)).status_code == 404
        assert (await client.get(f"/api/v1/links/{third}")).status_code == 200
