"""A price list's buyers change without losing anyone: add/remove by PATCH, If-Match, joins through the link."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.integration.orders.helpers import a_world, orders_app, register, sign_in
from tests.support.databases import fresh_postgres_databases, needs_postgres
from tests.support.services import WAIT_SCALE, running_service


def version_of(response_json: dict[str, object]) -> dict[str, str]:
    return {"If-Match": f'"{response_json["version"]}"'}


async def test_a_buyer_who_joined_through_the_link_is_never_dropped_by_a_change_prepared_before(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2: a replacement of the price list prepared before a buyer joined through the link is refused (412)
    instead of dropping him; PATCH .../buyers adds and removes buyers and keeps every other one; without
    If-Match a change is refused (428) and changes nothing."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        url = f"/api/v1/price-lists/{w.price_list_id}"
        seen = await client.get(url, headers=w.sup)
        assert seen.headers["ETag"] == f'"{seen.json()["version"]}"'
        before = seen.json()
        token = (await client.post(f"{url}/link", headers=w.sup)).json()["link_token"]
        newcomer = await register(client, "buyer", "Newcomer LLC")
        nh = await sign_in(client, newcomer["email"])
        joined = await client.post(f"/api/v1/links/{token}/join", headers=nh)
        assert joined.status_code == 200, joined.text
        newcomer_buyer = joined.json()["buyer_id"]

        body = {k: before[k] for k in ("name", "warehouse_ids", "auto_confirm", "segments", "buyer_ids")}
        body["items"] = [{k: i[k] for k in ("sku", "name", "unit", "price", "vat_rate")} for i in before["items"]]
        r = await client.put(url, headers=w.sup, json=body)
        assert r.status_code == 428 and r.json()["error"]["code"] == "if_match_required"
        r = await client.put(url, headers={**w.sup, **version_of(before)}, json=body)
        assert r.status_code == 412 and r.json()["error"]["code"] == "stale_version"
        now = (await client.get(url, headers=w.sup)).json()
        assert sorted(now["buyer_ids"]) == sorted([w.buyer_id, newcomer_buyer])
        assert (await client.get("/api/v1/price-lists", headers=nh)).json()["total"] == 1  # he still sees it

        other = (await client.post("/api/v1/buyers", headers=w.sup, json={"name": "Walk-in"})).json()["buyer_id"]
        patch = f"{url}/buyers"
        r = await client.patch(patch, headers=w.sup, json={"add": [other]})
        assert r.status_code == 428
        r = await client.patch(patch, headers={**w.sup, **version_of(now)}, json={"add": [other], "remove": [other]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "buyer_added_and_removed"
        r = await client.patch(patch, headers={**w.sup, **version_of(now)}, json={"add": [other]})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["buyer_ids"]) == sorted([w.buyer_id, newcomer_buyer, other])
        assert r.headers["ETag"] == f'"{r.json()["version"]}"' and r.json()["version"] > now["version"]
        r = await client.patch(patch, headers={**w.sup, **version_of(now)}, json={"remove": [w.buyer_id]})
        assert r.status_code == 412  # stale: nothing removed
        latest = (await client.get(url, headers=w.sup)).json()
        r = await client.patch(patch, headers={**w.sup, **version_of(latest)}, json={"remove": [w.buyer_id]})
        assert r.status_code == 200 and sorted(r.json()["buyer_ids"]) == sorted([newcomer_buyer, other])
        assert (await client.get("/api/v1/price-lists", headers=w.buy)).json()["total"] == 0
        r = await client.patch(
            patch, headers={**w.sup, **version_of(r.json())}, json={"add": ["00000000-0000-4000-8000-000000000000"]}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "buyer_not_found"
        # Another supplier cannot touch it.
        rival = await register(client, "supplier", "Rival")
        rh = await sign_in(client, rival["email"])
        r = await client.patch(patch, headers={**rh, "If-Match": '"1"'}, json={"add": []})
        assert r.status_code == 404


@needs_postgres
async def test_a_join_during_a_change_of_the_buyers_waits_for_it_and_is_kept(
    service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-IN-2 on PostgreSQL, two connections: while one transaction changes the price list's buyers (it holds
    the list's row, as PUT and PATCH do), a buyer's join through the link waits for it instead of writing under
    it, and is there after it commits. Then joins race with PATCHes of the version read before them: every
    joined and every added buyer is on the list at the end, and each PATCH either applied or was told 412."""
    async with fresh_postgres_databases(1) as (database_url,):
        app = orders_app(database_url, service_env, keys, start_consumers=False)
        engine = create_async_engine(database_url)
        try:
            async with running_service(app) as client:
                w = await a_world(client)
                url = f"/api/v1/price-lists/{w.price_list_id}"
                token = (await client.post(f"{url}/link", headers=w.sup)).json()["link_token"]
                joiner = await register(client, "buyer", "Joiner")
                jh = await sign_in(client, joiner["email"])

                async with engine.connect() as other:
                    tx = await other.begin()
                    await other.execute(
                        sa.text("SELECT version FROM price_lists WHERE id = :id FOR UPDATE"), {"id": w.price_list_id}
                    )
                    join = asyncio.create_task(client.post(f"/api/v1/links/{token}/join", headers=jh))
                    deadline = asyncio.get_running_loop().time() + 20 * WAIT_SCALE
                    async with engine.connect() as probe:
                        while True:
                            waiting = await probe.scalar(
                                sa.text(
                                    "SELECT count(*) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                                )
                            )
                            if waiting or join.done():
                                break
                            assert asyncio.get_running_loop().time() < deadline, "the join never reached the lock"
                            await asyncio.sleep(0.05)
                    assert not join.done(), "the join wrote under a change of the buyers in progress"
                    # What the replacement in progress does: the list's buyers become exactly the first buyer.
                    await other.execute(
                        sa.text("DELETE FROM price_list_buyers WHERE price_list_id = :id"), {"id": w.price_list_id}
                    )
                    await other.execute(
                        sa.text("INSERT INTO price_list_buyers (price_list_id, buyer_id) VALUES (:p, :b)"),
                        {"p": w.price_list_id, "b": w.buyer_id},
                    )
                    await other.execute(
                        sa.text("UPDATE price_lists SET version = version + 1 WHERE id = :id"), {"id": w.price_list_id}
                    )
                    await tx.commit()
                joined = await asyncio.wait_for(join, 30 * WAIT_SCALE)
                assert joined.status_code == 200, joined.text
                now = (await client.get(url, headers=w.sup)).json()
                assert sorted(now["buyer_ids"]) == sorted([w.buyer_id, joined.json()["buyer_id"]])

                expected = set(now["buyer_ids"])
                for round_ in range(4):
                    seen = (await client.get(url, headers=w.sup)).json()
                    walk_in = await client.post("/api/v1/buyers", headers=w.sup, json={"name": f"Walk-in {round_}"})
                    newcomer = await register(client, "buyer", f"Racer {round_}")
                    nh = await sign_in(client, newcomer["email"])
                    patched, joined = await asyncio.gather(
                        client.patch(
                            f"{url}/buyers",
                            headers={**w.sup, **version_of(seen)},
                            json={"add": [walk_in.json()["buyer_id"]]},
                        ),
                        client.post(f"/api/v1/links/{token}/join", headers=nh),
                    )
                    assert joined.status_code == 200, joined.text
                    assert patched.status_code in {200, 412}, patched.text
                    expected.add(joined.json()["buyer_id"])
                    if patched.status_code == 200:
                        expected.add(walk_in.json()["buyer_id"])
                    assert set((await client.get(url, headers=w.sup)).json()["buyer_ids"]) == expected
        finally:
            await engine.dispose()
