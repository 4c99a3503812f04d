"""A buyer company that registers is linked to the suppliers' buyer records of its INN/KPP (buyer_account_id)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from oms_shared.topics import BUYER_INVITED
from tests.integration.orders.helpers import catalogue, orders_app, read_events, register, sign_in
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import running_service


async def test_a_buyer_registering_with_the_inn_of_a_suppliers_record_is_linked_to_it(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2: a supplier keeps a buyer record with INN and KPP; when that company registers with them, the
    record gets its account (no UUID copied by hand) and the price lists open to the record are open to it.
    A record of another KPP is not linked, one without KPP is, at most one record per supplier; a record that
    has an account keeps it; a supplier registering with the INN links nothing."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        other_supplier = await register(client, "supplier", "Other Supplier")
        sup = await sign_in(client, supplier["email"])
        other = await sign_in(client, other_supplier["email"])

        async def record(headers: dict[str, str], name: str, inn: str, kpp: str = "") -> str:
            r = await client.post("/api/v1/buyers", headers=headers, json={"name": name, "inn": inn, "kpp": kpp})
            assert r.status_code == 201, r.text
            return str(r.json()["buyer_id"])

        head_office = await record(sup, "Стройка (головной офис)", "7702000002", "770201001")
        branch = await record(sup, "Стройка (филиал)", "7702000002", "770245001")
        elsewhere = await record(other, "ООО Стройка", "7702000002")
        await catalogue(client, supplier["account_id"], [("A-1", "Bolt", "pcs")])
        r = await client.post(
            "/api/v1/price-lists",
            headers=sup,
            json={"name": "Опт", "items": [{"sku": "A-1", "price": "1"}], "buyer_ids": [head_office]},
        )
        assert r.status_code == 201, r.text

        r = await client.post(
            "/api/v1/accounts",
            json={
                "kind": "buyer",
                "name": "ООО Стройка",
                "inn": "7702000002",
                "kpp": "770201001",
                "owner": {"email": "owner@stroika.example", "password": "secret-pass-1"},
            },
        )
        assert r.status_code == 201, r.text
        account = r.json()["account_id"]
        assert sorted(r.json()["linked_buyer_ids"]) == sorted([head_office, elsewhere])

        async def account_of(headers: dict[str, str], buyer_id: str) -> str | None:
            return (await client.get(f"/api/v1/buyers/{buyer_id}", headers=headers)).json()["buyer_account_id"]

        assert await account_of(sup, head_office) == account
        assert await account_of(sup, branch) is None  # another KPP: another subdivision
        assert await account_of(other, elsewhere) == account  # no KPP kept: the INN decides
        buyer = await sign_in(client, "owner@stroika.example")
        assert (await client.get("/api/v1/price-lists", headers=buyer)).json()["total"] == 1

        # A second account with the same INN/KPP takes nothing from the first.
        r = await client.post(
            "/api/v1/accounts",
            json={
                "kind": "buyer",
                "name": "Stroika again",
                "inn": "7702000002",
                "kpp": "770201001",
                "owner": {"email": "again@stroika.example", "password": "secret-pass-1"},
            },
        )
        assert r.status_code == 201 and r.json()["linked_buyer_ids"] == []
        assert await account_of(sup, head_office) == account
        r = await client.post(
            "/api/v1/accounts",
            json={
                "kind": "supplier",
                "name": "Stroika supplies",
                "inn": "7702000002",
                "kpp": "770245001",
                "owner": {"email": "sup@stroika.example", "password": "secret-pass-1"},
            },
        )
        assert r.status_code == 201 and "linked_buyer_ids" not in r.json()
        assert await account_of(sup, branch) is None


async def test_linking_by_inn_can_be_switched_off(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2: with OMS_ORDERS_LINK_BUYERS_BY_INN off, registering links nothing (invitations still do)."""
    app = orders_app(database_url, service_env, keys, start_consumers=False, link_buyers_by_inn=False)
    async with running_service(app) as client:
        supplier = await register(client, "supplier", "Supplier Co")
        sup = await sign_in(client, supplier["email"])
        r = await client.post("/api/v1/buyers", headers=sup, json={"name": "Стройка", "inn": "7702000003"})
        buyer_id = r.json()["buyer_id"]
        r = await client.post(
            "/api/v1/accounts",
            json={
                "kind": "buyer",
                "name": "Стройка",
                "inn": "7702000003",
                "owner": {"email": "o@stroika3.example", "password": "secret-pass-1"},
            },
        )
        assert r.status_code == 201 and r.json()["linked_buyer_ids"] == []
        assert (await client.get(f"/api/v1/buyers/{buyer_id}", headers=sup)).json()["buyer_account_id"] is None


@needs_postgres
async def test_two_invitations_of_one_buyer_registered_at_once_link_it_once(
    service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-IN-2 on PostgreSQL: a buyer invited twice, both links used at the same moment: one registration links
    the record, the other is told the invitation is no longer valid (404) and creates no account."""
    async with fresh_postgres_databases(1) as (database_url,):
        app = orders_app(database_url, service_env, keys, start_consumers=False)
        async with running_service(app) as client:
            supplier = await register(client, "supplier", "Supplier Co")
            sup = await sign_in(client, supplier["email"])
            buyer_id = (await client.post("/api/v1/buyers", headers=sup, json={"name": "Двойник"})).json()["buyer_id"]
            for n in range(2):
                r = await client.post(
                    f"/api/v1/buyers/{buyer_id}/invitations", headers=sup, json={"email": f"twin{n}@twin.example"}
                )
                assert r.status_code == 201, r.text
            events = await read_events(
                kafka, BUYER_INVITED, 2, where=lambda e: str(e.data.buyer_id) == buyer_id, timeout=30
            )
            tokens = [e.data.token for e in events]
            assert len(set(tokens)) == 2
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"/api/v1/invitations/{token}/register",
                        json={"email": f"twin{n}@twin.example", "password": "secret-pass-1"},
                    )
                    for n, token in enumerate(tokens)
                )
            )
            assert sorted(r.status_code for r in answers) == [201, 404], [r.text for r in answers]
            winner = next(r for r in answers if r.status_code == 201).json()
            record = (await client.get(f"/api/v1/buyers/{buyer_id}", headers=sup)).json()
            assert record["buyer_account_id"] == winner["account_id"]
            loser = next(n for n, r in enumerate(answers) if r.status_code == 404)
            r = await client.post(
                "/api/v1/auth/token", json={"email": f"twin{loser}@twin.example", "password": "secret-pass-1"}
            )
            assert r.status_code == 401  # no account was left behind
