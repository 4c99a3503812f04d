"""The order list (R-LS-1) and what each caller may see in it (R-ACC-1, R-ACC-4)."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.integration.orders.helpers import a_world, if_match, orders_app, place, sign_in
from tests.support.services import running_service


async def test_list_filters_sorts_searches_and_pages_within_the_callers_rights(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-LS-1, R-ACC-1, R-ACC-4: filters combine, every column sorts, search by buyer or number, pages, counts."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        created = []
        for n in range(5):
            created.append(
                (
                    await place(client, w, lines=[{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": n + 1}])
                ).json()
            )
        first = created[0]
        r = await client.post(
            f"/api/v1/orders/{first['order_id']}/transitions",
            headers={**w.sup, **if_match(first)},
            json={"to": "rejected", "comment": "no stock"},
        )
        assert r.status_code == 200
        # A second buyer of the same supplier, with a restricted manager responsible for it.
        manager_email = f"m.{uuid.uuid4().hex[:6]}@example.com"
        manager = (
            await client.post(
                "/api/v1/users",
                headers=w.sup,
                json={
                    "email": manager_email,
                    "password": "manager-pass-1",
                    "name": "Ivan",
                    "access_buyers": "change",
                    "access_orders": "change",
                    "restricted_to_own_buyers": True,
                },
            )
        ).json()
        other_buyer = (
            await client.post(
                "/api/v1/buyers", headers=w.sup, json={"name": "Zeta Trading", "manager_user_ids": [manager["user_id"]]}
            )
        ).json()
        mh = await sign_in(client, manager_email, "manager-pass-1")

        page = (
            await client.get("/api/v1/orders", headers=w.sup, params={"limit": 2, "offset": 2, "sort": "number"})
        ).json()
        assert (page["total"], page["total_exact"], page["limit"], page["offset"]) == (5, True, 2, 2)
        assert [o["number"] for o in page["items"]] == ["1003", "1004"]
        by_total = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": "-total"})).json()
        assert [o["total"] for o in by_total["items"]] == ["52.5", "42", "31.5", "21", "10.5"]
        for column in ("buyer", "price_list", "created_at", "shipment_date", "updated_at", "paid_amount", "status"):
            for sign in ("", "-"):
                r = await client.get("/api/v1/orders", headers=w.sup, params={"sort": sign + column})
                assert r.status_code == 200 and r.json()["total"] == 5, column
        combo = (
            await client.get(
                "/api/v1/orders",
                headers=w.sup,
                params={
                    "status": "new",
                    "total_min": "20",
                    "total_max": "45",
                    "buyer_id": w.buyer_id,
                    "price_list_id": w.price_list_id,
                },
            )
        ).json()
        assert sorted(o["number"] for o in combo["items"]) == ["1002", "1003", "1004"]
        rejected = (await client.get("/api/v1/orders", headers=w.buy, params={"status": "rejected"})).json()
        assert rejected["total"] == 1 and rejected["items"][0]["rejected"] is True  # R-ST-5: the buyer sees it
        assert (await client.get("/api/v1/orders", headers=w.sup, params={"search": "buyer l"})).json()["total"] == 5
        assert (await client.get("/api/v1/orders", headers=w.sup, params={"search": "1003"})).json()["total"] == 1
        assert (await client.get("/api/v1/orders", headers=w.sup, params={"search": "zzz"})).json()["total"] == 0

        # The restricted manager sees only the orders of their own buyers (none yet) and not the others.
        assert (await client.get("/api/v1/orders", headers=mh)).json()["total"] == 0
        r = await client.get(f"/api/v1/orders/{first['order_id']}", headers=mh)
        assert r.status_code == 403 and r.json()["error"]["code"] == "not_your_buyer"
        buyers_seen = (await client.get("/api/v1/buyers", headers=mh)).json()
        assert [b["buyer_id"] for b in buyers_seen["items"]] == [other_buyer["buyer_id"]]
        assert (await client.get(f"/api/v1/buyers/{w.buyer_id}", headers=mh)).status_code == 403

        # Bad filters are a clear 422, never a 500.
        for params in (
            {"sort": "password"},
            {"status": "lost"},
            {"limit": 0},
            {"limit": 1000},
            {"total_min": "lots"},
            {"created_from": "yesterday"},
            {"buyer_id": "x"},
        ):
            r = await client.get("/api/v1/orders", headers=w.sup, params=params)
            assert r.status_code == 422, params
            assert r.json()["error"]["code"] in {"invalid_sort", "invalid_filter", "validation_error"}


async def test_list_total_is_capped_and_deep_offsets_point_to_the_cursor(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-LS-1: past the count cap the list says "N+" (total_exact false); offsets past 10,000 get a 422."""
    app = orders_app(database_url, service_env, keys, start_consumers=False, list_count_cap=3)
    async with running_service(app) as client:
        w = await a_world(client)
        for n in range(5):
            await place(client, w, lines=[{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": n + 1}])

        everything = (await client.get("/api/v1/orders", headers=w.sup)).json()
        assert (everything["total"], everything["total_exact"], len(everything["items"])) == (3, False, 5)
        few = (await client.get("/api/v1/orders", headers=w.sup, params={"total_min": "40"})).json()
        assert (few["total"], few["total_exact"]) == (2, True)

        r = await client.get("/api/v1/orders", headers=w.sup, params={"offset": 10_001})
        assert r.status_code == 422 and r.json()["error"]["code"] == "offset_too_deep"
        assert "cursor" in r.json()["error"]["message"]
        assert (await client.get("/api/v1/orders", headers=w.sup, params={"offset": 10_000})).status_code == 200
        for bad in ("not-a-cursor", "eyJzIjoxfQ"):
            r = await client.get("/api/v1/orders", headers=w.sup, params={"cursor": bad})
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor", bad
        page = (await client.get("/api/v1/orders", headers=w.sup, params={"limit": 2, "sort": "total"})).json()
        r = await client.get("/api/v1/orders", headers=w.sup, params={"cursor": page["next_cursor"], "sort": "-total"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_cursor"


async def test_walking_the_list_by_cursor_returns_every_order_once_in_order_for_every_sort(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-LS-1: keyset pages (next_cursor) for every sort, both ways, ties and empty shipment dates included."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        placed = []
        for n in range(7):
            quantity = 1 + n % 3  # equal totals: ties broken by order id
            r = await place(client, w, lines=[{"sku": "A-1", "warehouse_id": w.warehouses[0], "quantity": quantity}])
            placed.append(r.json())
        for order, profile in zip(
            placed,
            [
                {"shipment_date": "2027-01-10", "paid_amount": "5"},
                {"shipment_date": "2027-01-10"},
                {"shipment_date": "2027-01-05", "paid_amount": "5"},
                {"paid_amount": "1"},
            ],
            strict=False,
        ):
            r = await client.patch(
                f"/api/v1/orders/{order['order_id']}/profile", headers={**w.sup, **if_match(order)}, json=profile
            )
            assert r.status_code == 200, r.text

        everyone = {o["order_id"] for o in placed}
        for column in ("buyer", "price_list", "number", "created_at", "shipment_date", "updated_at", "total"):
            for sort in (column, "-" + column):
                whole = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": sort})).json()
                assert whole["next_cursor"] is None
                walked: list[str] = []
                params: dict[str, object] = {"sort": sort, "limit": 2}
                while True:
                    page = (await client.get("/api/v1/orders", headers=w.sup, params=params)).json()
                    walked += [o["order_id"] for o in page["items"]]
                    assert page["total"] == 7
                    if page["next_cursor"] is None:
                        break
                    params["cursor"] = page["next_cursor"]
                assert walked == [o["order_id"] for o in whole["items"]], sort
                assert sorted(walked) == sorted(everyone), sort
        for sort in ("paid_amount", "-paid_amount", "status", "-status"):
            whole = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": sort})).json()
            first = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": sort, "limit": 3})).json()
            rest = (
                await client.get("/api/v1/orders", headers=w.sup, params={"sort": sort, "cursor": first["next_cursor"]})
            ).json()
            assert [o["order_id"] for o in first["items"] + rest["items"]] == [o["order_id"] for o in whole["items"]]

        by_date = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": "shipment_date"})).json()
        assert [o["shipment_date"] for o in by_date["items"]][:3] == ["2027-01-05", "2027-01-10", "2027-01-10"]
        assert [o["shipment_date"] for o in by_date["items"]][3:] == [None] * 4  # no date yet: last going up
        by_date_desc = (await client.get("/api/v1/orders", headers=w.sup, params={"sort": "-shipment_date"})).json()
        assert [o["shipment_date"] for o in by_date_desc["items"]][:4] == [None] * 4


async def test_search_folds_case_in_every_alphabet_on_every_database(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-LS-1: orders and buyers are found by any part of the buyer's name in any case, Cyrillic, Latin or mixed
    ("Строй", "СТРОЙ" and "строй" alike; "ё" as "е"), on SQLite as on PostgreSQL."""
    app = orders_app(database_url, service_env, keys, start_consumers=False)
    async with running_service(app) as client:
        w = await a_world(client)
        numbers = {}
        for name in ("ООО «СтройМир»", "Acme Trading", "Ёлка-Trade Сервис"):
            r = await client.patch(f"/api/v1/buyers/{w.buyer_id}", headers=w.sup, json={"name": name})
            assert r.status_code == 200, r.text
            numbers[name] = (await place(client, w)).json()["number"]

        async def orders_found(text: str) -> list[str]:
            r = await client.get("/api/v1/orders", headers=w.sup, params={"search": text})
            assert r.status_code == 200, r.text
            return sorted(o["number"] for o in r.json()["items"])

        for text in ("Строй", "строй", "СТРОЙ", "тройм", "«строймир»"):
            assert await orders_found(text) == [numbers["ООО «СтройМир»"]], text
        for text in ("acme", "ACME TRADING", "Trading"):
            assert await orders_found(text) == [numbers["Acme Trading"]], text
        for text in ("ёлка", "ЕЛКА-trade", "trade сервис", "СЕРВИС"):
            assert await orders_found(text) == [numbers["Ёлка-Trade Сервис"]], text
        assert await orders_found("trad") == sorted([numbers["Acme Trading"], numbers["Ёлка-Trade Сервис"]])
        assert await orders_found("%") == [] and await orders_found("_") == []  # wildcards are plain characters
        # The buyer agrees to it in the buyer's own list as well.
        r = await client.get("/api/v1/orders", headers=w.buy, params={"search": "СТРОЙмир"})
        assert [o["number"] for o in r.json()["items"]] == [numbers["ООО «СтройМир»"]]

        other = await client.post("/api/v1/buyers", headers=w.sup, json={"name": "ИП Строев", "inn": "500100732259"})
        assert other.status_code == 201, other.text

        async def buyers_found(text: str) -> list[str]:
            r = await client.get("/api/v1/buyers", headers=w.sup, params={"search": text})
            assert r.status_code == 200, r.text
            return sorted(b["name"] for b in r.json()["items"])

        assert await buyers_found("строев") == ["ИП Строев"]
        assert await buyers_found("СТРО") == ["ИП Строев"]  # the first buyer is called "Ёлка-Trade Сервис" now
        assert await buyers_found("елка") == ["Ёлка-Trade Сервис"]
        assert await buyers_found("TRADE") == ["Ёлка-Trade Сервис"]
        assert await buyers_found("5001007") == ["ИП Строев"]  # by INN too
