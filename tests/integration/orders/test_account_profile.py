"""The company profile (R-UI-11): read and changed by the account's owner over If-Match, requisites checked."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.integration.orders.helpers import a_world, orders_app, sign_in
from tests.support.services import running_service

VALID = {
    "inn": "7707083893",
    "kpp": "773601001",
    "address": "117312, Москва, ул. Вавилова, 19",
    "bank_name": "ПАО Сбербанк",
    "bic": "044525225",
    "bank_account": "40702810938000012345",
    "correspondent_account": "30101810400000000225",
}


async def test_the_owner_reads_and_changes_the_profile_over_its_version_and_bad_requisites_change_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-11: GET /account gives the profile and its ETag; PATCH needs If-Match (428 without, 412 stale), checks
    INN, KPP, BIC and both account numbers (422 per field, nothing applied), and moves the version on."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        seen = await client.get("/api/v1/account", headers=w.sup)
        assert seen.status_code == 200, seen.text
        assert seen.headers["ETag"] == f'"{seen.json()["version"]}"'
        assert seen.json()["address"] == "" and seen.json()["kind"] == "supplier"

        r = await client.patch("/api/v1/account", headers=w.sup, json=VALID)
        assert r.status_code == 428
        bad = {**VALID, "inn": "7707083894", "bank_account": "40702810038000012345", "kpp": "77360100"}
        r = await client.patch("/api/v1/account", headers={**w.sup, "If-Match": seen.headers["ETag"]}, json=bad)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_requisites"
        assert set(r.json()["error"]["details"]) == {"inn", "kpp", "bank_account"}
        assert (await client.get("/api/v1/account", headers=w.sup)).json()["address"] == ""

        r = await client.patch("/api/v1/account", headers={**w.sup, "If-Match": seen.headers["ETag"]}, json=VALID)
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in VALID} == VALID
        assert r.json()["version"] > seen.json()["version"]
        r = await client.patch(
            "/api/v1/account", headers={**w.sup, "If-Match": seen.headers["ETag"]}, json={"address": "Elsewhere"}
        )
        assert r.status_code == 412 and r.json()["error"]["code"] == "stale_version"
        now = await client.get("/api/v1/account", headers=w.sup)
        assert now.json()["address"] == VALID["address"]

        renamed = await client.patch(
            "/api/v1/account", headers={**w.sup, "If-Match": now.headers["ETag"]}, json={"name": "ООО Ромашка-2"}
        )
        assert renamed.status_code == 200 and renamed.json()["name"] == "ООО Ромашка-2"
        assert renamed.json()["bic"] == VALID["bic"]  # what was left out stays
        assert (await client.get("/api/v1/me", headers=await sign_in(client, w.supplier["email"]))).json()["account"][
            "name"
        ] == "ООО Ромашка-2"

        # The buyer's account is its own: the buyer's owner sees their company, not the supplier's.
        theirs = await client.get("/api/v1/account", headers=w.buy)
        assert theirs.status_code == 200 and theirs.json()["kind"] == "buyer"


async def test_two_changes_over_the_same_version_one_applies_and_the_other_is_told(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-11: two people saving the profile they both loaded: exactly one applies, the other gets 412."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        etag = (await client.get("/api/v1/account", headers=w.sup)).headers["ETag"]
        answers = await asyncio.gather(
            *(
                client.patch("/api/v1/account", headers={**w.sup, "If-Match": etag}, json={"address": f"Addr {i}"})
                for i in range(2)
            )
        )
        assert sorted(a.status_code for a in answers) == [200, 412]
        winner = next(a for a in answers if a.status_code == 200).json()["address"]
        assert (await client.get("/api/v1/account", headers=w.sup)).json()["address"] == winner


async def test_a_manager_without_the_right_to_manage_users_may_not_read_the_profile(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-UI-11, R-ACC-1: the company profile is for the owner and user managers."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        made = await client.post(
            "/api/v1/users",
            headers=w.sup,
            json={"email": "clerk@example.com", "password": "secret-pass-1", "access_orders": "full"},
        )
        assert made.status_code == 201, made.text
        clerk = await sign_in(client, "clerk@example.com")
        assert (await client.get("/api/v1/account", headers=clerk)).status_code == 403
        r = await client.patch("/api/v1/account", headers={**clerk, "If-Match": '"1"'}, json={"address": "x"})
        assert r.status_code == 403
