"""Answers that tell nothing they should not: garbage tokens, other tenants' ledgers."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from oms_inventory.app import create_app
from oms_inventory.db import stock
from oms_inventory.settings import Settings
from oms_orders.db import warehouses
from oms_shared.db import utcnow
from tests.integration.inventory.helpers import setup_catalogue
from tests.integration.orders.helpers import a_world, orders_app, place, register, sign_in
from tests.support.services import bearer, running_service, token_for


async def test_a_garbage_token_gets_a_plain_invalid_token_and_drift_is_the_owners_own(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ACC-4: a token of random bytes is refused with a plain "invalid token" (no decoder's detail); the
    reserve drift of inventory shows the caller's own account only, and only to its owner."""
    tenant, stranger = uuid.uuid4(), uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    employee = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "full", "buyers": "full"})
    other_owner = token_for(keys[0], account_id=stranger)
    app = create_app(Settings(database_url=database_url, **service_env))
    async with running_service(app) as client:
        for garbage in ("t7e3.t7e3.t7e3", "eyJhbGciOiJFZERTQSJ9.t7e3.t7e3", "not-a-jwt", "a.b.c"):  # t7e3: 0xb7 bytes
            r = await client.get("/api/v1/stock", headers={"Authorization": f"Bearer {garbage}"})
            assert r.status_code == 401
            assert r.json()["error"] == {"code": "invalid_token", "message": "invalid token"}

        await setup_catalogue(client, owner, {"A-1": "10"})
        await setup_catalogue(client, other_owner, {"A-1": "10"})
        async with app.state.runtime.db.transaction() as tx:  # a projection that no longer matches the ledger
            await tx.conn.execute(sa.update(stock).where(stock.c.tenant_id == str(tenant)).values(reserved=1000))

        mine = await client.get("/api/v1/reserves/drift", headers=bearer(owner))
        assert mine.status_code == 200 and mine.json()["total"] == 1
        theirs = await client.get("/api/v1/reserves/drift", headers=bearer(other_owner))
        assert theirs.status_code == 200 and theirs.json() == {"items": [], "total": 0}
        refused = await client.get("/api/v1/reserves/drift", headers=bearer(employee))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "owner_only"


async def test_orders_answers_another_accounts_ids_as_unknown_ones(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ACC-4: another supplier's order, buyer, price list and warehouse are answered 404 with the same code as
    an id that does not exist — nothing tells the caller that the id exists elsewhere."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        order_id = (await place(client, w)).json()["order_id"]
        rival = await sign_in(client, (await register(client, "supplier", "Rival"))["email"])
        theirs_wh = str(uuid.uuid4())
        async with app.state.runtime.db.transaction() as tx:
            await tx.conn.execute(
                warehouses.insert().values(id=theirs_wh, supplier_id=w.supplier["account_id"], updated_at=utcnow())
            )
        for path, code in (
            ("/api/v1/orders/{}", "order_not_found"),
            ("/api/v1/buyers/{}", "buyer_not_found"),
            ("/api/v1/price-lists/{}", "price_list_not_found"),
        ):
            existing = {"order_not_found": order_id, "buyer_not_found": w.buyer_id}.get(code, w.price_list_id)
            foreign = await client.get(path.format(existing), headers=rival)
            unknown = await client.get(path.format(uuid.uuid4()), headers=rival)
            assert foreign.status_code == unknown.status_code == 404, foreign.text
            assert foreign.json()["error"]["code"] == unknown.json()["error"]["code"] == code
        r = await client.post(
            "/api/v1/price-lists", headers=rival, json={"name": "Theirs", "warehouse_ids": [theirs_wh]}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "warehouse_not_found", r.text


async def test_a_sign_in_with_an_idempotency_key_leaves_no_token_in_the_records(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-ACC-4: orders' /auth/token answer (an access token) is not kept in the idempotency records."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        account = await register(client, "supplier", "Keyed Co")
        body = {"email": account["email"], "password": "secret-pass-1"}
        key = {"Idempotency-Key": "sign-in"}
        first = await client.post("/api/v1/auth/token", json=body, headers=key)
        again = await client.post("/api/v1/auth/token", json=body, headers=key)
        assert first.status_code == again.status_code == 200
        assert "idempotent-replayed" not in again.headers
        async with app.state.runtime.db.read() as conn:
            bodies = (await conn.scalars(sa.select(app.state.runtime.db.idempotency.c.response_body))).all()
        assert not any(b and first.json()["access_token"].encode() in b for b in bodies)
