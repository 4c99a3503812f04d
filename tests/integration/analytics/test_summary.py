"""Analytics summaries fed by real events on a real broker, read over HTTP (R-AN-1, R-AN-3, R-ACC-3)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from oms_analytics.app import create_app
from oms_analytics.settings import Settings
from tests.integration.analytics.builders import Publisher, at, buyer, changed, placed, status_changed, supplier_account
from tests.support.services import bearer, eventually, running_service, token_for

RANGE = {"date_from": "2026-11-01", "date_to": "2026-11-30"}


async def _summary(client: httpx.AsyncClient, token: str, **params: str) -> dict[str, Any]:
    resp = await client.get("/api/v1/summary", params={**RANGE, **params}, headers=bearer(token))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_summary_counts_orders_by_status_and_restricts_managers_to_their_buyers(
    kafka: str, database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-AN-1, R-AN-3, R-ACC-3: the summary counts and sums orders by status, follows a confirmation,
    ignores a duplicate and a stale event, and a restricted manager sees only their buyers' orders."""
    tenant, manager, other_manager = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    b1, b2 = uuid.uuid4(), uuid.uuid4()
    o1, o2, o3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    restricted = token_for(
        keys[0], account_id=tenant, owner=False, access={"orders": "read"}, restricted=True, user_id=manager
    )
    app = create_app(Settings(database_url=database_url, **service_env))  # type: ignore[arg-type]
    async with running_service(app) as client, Publisher(kafka) as pub:
        await pub.send(
            supplier_account(tenant, (manager, "Мария"), (other_manager, "Олег")),
            buyer(tenant, b1, "ООО Ромашка", [manager]),
            buyer(tenant, b2, "АО Василёк", [other_manager]),
            placed(tenant, o1, b1, number="1001", price="100.00", responsible=manager),
            placed(tenant, o2, b2, number="1002", price="125.50", quantity="2", responsible=other_manager),
            placed(tenant, o3, b1, number="1003", price="50.00", day="2026-11-03"),
        )

        async def three_new() -> None:
            s = await _summary(client, owner)
            assert s["orders_count"] == 3
            assert s["orders_sum"] == "401.00"
            assert s["by_status"]["new"] == {"count": 3, "sum": "401.00"}

        await eventually(three_new, timeout=15)

        # A confirmation moves the order from "new" to "confirmed".
        confirm_o1 = status_changed(tenant, o1, b1, to="confirmed", from_status="new", seq=2, when=at("2026-11-02", 16))
        await pub.send(confirm_o1)

        async def o1_confirmed() -> None:
            s = await _summary(client, owner)
            assert s["by_status"]["new"] == {"count": 2, "sum": "301.00"}
            assert s["by_status"]["confirmed"] == {"count": 1, "sum": "100.00"}
            assert s["confirmed"] == {"count": 1, "sum": "100.00", "share": 0.3333}
            assert s["median_hours_to_confirm"] == 6.0

        await eventually(o1_confirmed, timeout=10)

        # Order-insensitive: the rejection (seq 3) arrives before the confirmation (seq 2) it followed.
        await pub.send(
            status_changed(tenant, o2, b2, to="rejected", from_status="confirmed", seq=3, when=at("2026-11-04")),
            status_changed(tenant, o2, b2, to="confirmed", from_status="new", seq=2, when=at("2026-11-03")),
        )
        # A payment delivered twice (same event id) counts once; the overdue flag after it shows both were read.
        payment = changed(tenant, o1, b1, kind="payment", seq=3, attributes={"paid_amount": "40.00"})
        await pub.send(payment, payment, confirm_o1)
        await pub.send(changed(tenant, o1, b1, kind="overdue", seq=4, attributes={"overdue": True}))

        async def settled() -> dict[str, Any]:
            s = await _summary(client, owner)
            assert s["overdue_count"] == 1
            assert s["by_status"]["rejected"] == {"count": 1, "sum": "251.00"}
            assert s["confirmed"]["count"] == 2  # both reached "confirmed", one was then rejected
            return s

        s = await eventually(settled, timeout=10)
        assert s["orders_count"] == 3
        assert s["paid_sum"] == "40.00"
        assert s["by_status"]["confirmed"] == {"count": 1, "sum": "100.00"}
        assert s["by_status"]["new"] == {"count": 1, "sum": "50.00"}
        assert s["rejected"] == {"count": 1, "sum": "251.00", "share": 0.3333}
        assert s["average_order"] == "133.67"
        assert [p["count"] for p in s["series"] if p["count"]] == [2, 1]
        assert len(s["series"]) == 30

        # The restricted manager sees only the orders of their own buyer (b1): o1 and o3.
        mine = await _summary(client, restricted)
        assert mine["orders_count"] == 2
        assert mine["orders_sum"] == "150.00"
        assert mine["by_status"]["rejected"]["count"] == 0
        assert mine["paid_sum"] == "40.00"

        # Grouped by buyer and by manager, with names from buyer.updated and account.updated.
        by_buyer = await _summary(client, owner, group_by="buyer")
        assert [(g["name"], g["orders_count"], g["orders_sum"]) for g in by_buyer["groups"]] == [
            ("АО Василёк", 1, "251.00"),
            ("ООО Ромашка", 2, "150.00"),
        ]
        by_manager = await _summary(client, owner, group_by="manager", interval="week")
        assert {g["name"]: g["orders_count"] for g in by_manager["groups"]} == {
            "Олег": 1,
            "Мария": 1,
            "Без ответственного / unassigned": 1,
        }
        assert by_manager["series"][0] == {
            "period": "2026-10-26",
            "count": 0,
            "sum": "0.00",
            "confirmed": 0,
            "shipped": 0,
        }
        mine_by_manager = await _summary(client, restricted, group_by="manager")
        assert "Олег" not in {g["name"] for g in mine_by_manager["groups"]}

        # Details: the orders behind a figure, paginated; a restricted manager's details are limited too.
        resp = await client.get(
            "/api/v1/summary/details",
            params={**RANGE, "figure": "confirmed", "sort": "number", "limit": "1"},
            headers=bearer(owner),
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        assert (page["total"], page["limit"], page["offset"]) == (2, 1, 0)
        assert page["items"][0]["number"] == "1001"
        assert page["items"][0]["buyer_name"] == "ООО Ромашка"
        assert page["items"][0]["responsible_name"] == "Мария"
        assert page["items"][0]["paid"] == "40.00"
        resp = await client.get(
            "/api/v1/summary/details", params={**RANGE, "figure": "rejected"}, headers=bearer(restricted)
        )
        assert resp.json()["total"] == 0
        resp = await client.get(
            "/api/v1/summary/details",
            params={**RANGE, "period": "2026-11-03", "buyer_id": str(b1)},
            headers=bearer(owner),
        )
        assert [i["number"] for i in resp.json()["items"]] == ["1003"]
        resp = await client.get(
            "/api/v1/summary/details", params={**RANGE, "manager_id": str(manager)}, headers=bearer(owner)
        )
        assert [i["number"] for i in resp.json()["items"]] == ["1001"]

        # Ids in filters: another tenant's → 404 as if unknown, unknown → 404, not a restricted manager's → 403.
        stranger = token_for(keys[0], account_id=uuid.uuid4())
        for params, token, status, code in (
            ({"buyer_id": str(b1)}, stranger, 404, "buyer_not_found"),
            ({"manager_id": str(manager)}, stranger, 404, "manager_not_found"),
            ({"buyer_id": str(uuid.uuid4())}, owner, 404, "buyer_not_found"),
            ({"manager_id": str(uuid.uuid4())}, owner, 404, "manager_not_found"),
            ({"buyer_id": str(b2)}, restricted, 403, "not_your_buyer"),
        ):
            resp = await client.get("/api/v1/summary/details", params={**RANGE, **params}, headers=bearer(token))
            assert (resp.status_code, resp.json()["error"]["code"]) == (status, code)


async def test_summary_refuses_bad_input_and_callers_without_access(
    kafka: str, database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-ACC-3, R-ACC-4: bad ranges and group-bys get a clear 422; buyers and users without orders access get 403;
    another tenant's summary is empty."""
    tenant = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    app = create_app(Settings(database_url=database_url, **service_env))  # type: ignore[arg-type]
    async with running_service(app) as client:
        cases = {
            "date_range_missing": {"date_to": "2026-11-30"},
            "invalid_date": {"date_from": "2026-13-01", "date_to": "2026-11-30"},
            "date_range_inverted": {"date_from": "2026-11-30", "date_to": "2026-11-01"},
            "date_range_too_long": {"date_from": "2020-01-01", "date_to": "2025-01-01"},
            "unknown_group_by": {**RANGE, "group_by": "warehouse"},
            "unknown_interval": {**RANGE, "interval": "hour"},
        }
        for code, params in cases.items():
            resp = await client.get("/api/v1/summary", params=params, headers=bearer(owner))
            assert resp.status_code == 422, (code, resp.text)
            assert resp.json()["error"]["code"] == code
        resp = await client.get(
            "/api/v1/summary", params={"date_from": "2020-01-01", "date_to": "2024-12-31"}, headers=bearer(owner)
        )
        assert resp.status_code == 200
        for params, code in (
            ({**RANGE, "figure": "everything"}, "unknown_figure"),
            ({**RANGE, "sort": "colour"}, "unknown_sort"),
            ({**RANGE, "limit": "0"}, "invalid_paging"),
            ({**RANGE, "limit": "many"}, "invalid_paging"),
            ({**RANGE, "period": "2027-01-01"}, "invalid_period"),
            ({**RANGE, "buyer_id": "x"}, "invalid_id"),
        ):
            resp = await client.get("/api/v1/summary/details", params=params, headers=bearer(owner))
            assert resp.status_code == 422, (code, resp.text)
            assert resp.json()["error"]["code"] == code

        no_access = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "none", "buyers": "full"})
        buyer_user = token_for(keys[0], kind="buyer")
        for token, code in ((no_access, "access_denied"), (buyer_user, "supplier_only")):
            resp = await client.get("/api/v1/summary", params=RANGE, headers=bearer(token))
            assert resp.status_code == 403
            assert resp.json()["error"]["code"] == code
        assert (await client.get("/api/v1/summary", params=RANGE)).status_code == 401
        reader = token_for(keys[0], account_id=uuid.uuid4(), owner=False, access={"orders": "read"})
        assert (await _summary(client, reader))["orders_count"] == 0
