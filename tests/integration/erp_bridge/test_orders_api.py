"""The orders exchange as a JSON API for other ERPs (``/api/v1/erp/orders``, R-ERP-7), on the real broker and DB."""

from __future__ import annotations

import uuid
from pathlib import Path

from oms_shared.contracts import OrderStatus
from tests.integration.erp_bridge.support import (
    sale_app,
    sale_basic,
    sale_buyer_updated,
    sale_changes,
    sale_connect,
    sale_log,
    sale_order,
    sale_placed,
    sale_publish,
    sale_wait_pending,
)
from tests.support.services import bearer, eventually, running_service, token_for


async def test_an_erp_lists_pending_orders_acknowledges_them_and_sends_its_changes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-7, R-ERP-6: the pending list, all-or-nothing acks (404 unknown, 409 version ahead), changes that land on
    ``erp.order_changed`` naming the ERP's credential; a stale If-Match answers 412; every call in the exchange log
    with its caller."""
    tenant = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)  # sets the connection, reads the exchange log
    buyer = uuid.uuid4()
    first = sale_order(tenant, "501", buyer, ("A-1", "5", "10"), ("B-2", "2", "120.50"))
    second = sale_order(tenant, "502", buyer, ("A-1", "1", "10"))
    unconfirmed = sale_order(tenant, "503", buyer, ("A-1", "1", "10"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        # The ERP calls with its own credential: the connection's exchange login (ADR 012).
        login = await sale_connect(client, owner)
        erp = sale_basic(login)
        await sale_publish(
            kafka,
            sale_buyer_updated(tenant, buyer, "ИП Петров", "500100732259"),
            sale_placed(first, OrderStatus.CONFIRMED),
            sale_placed(second, OrderStatus.CONFIRMED),
            sale_placed(unconfirmed),
        )
        items = await sale_wait_pending(client, erp, {"501", "502"})
        one = next(i for i in items if i["number"] == "501")
        assert (one["order_id"], one["version"], one["pending"], one["total"]) == (str(first.order_id), 1, True, "291")
        assert one["buyer"] == {"buyer_id": str(buyer), "name": "ИП Петров", "inn": "500100732259", "kpp": ""}
        assert [(x["sku"], x["quantity"], x["price"], x["amount"]) for x in one["lines"]] == [
            ("A-1", "5", "10", "50"),
            ("B-2", "2", "120.5", "241"),
        ]

        unknown = str(uuid.uuid4())
        ack = {"orders": [{"order_id": str(first.order_id), "version": 1}, {"order_id": unknown, "version": 1}]}
        r = await client.post("/api/v1/erp/orders/ack", json=ack, headers=erp)
        assert r.status_code == 404 and r.json()["error"]["details"] == {"order_ids": [unknown]}, r.text
        ahead = {"orders": [{"order_id": str(first.order_id), "version": 2}]}
        r = await client.post("/api/v1/erp/orders/ack", json=ahead, headers=erp)
        assert r.status_code == 409 and r.json()["error"]["code"] == "version_ahead", r.text
        await sale_wait_pending(client, erp, {"501", "502"})  # neither refusal applied anything

        r = await client.post("/api/v1/erp/orders/ack", json={"orders": [ack["orders"][0]]}, headers=erp)
        assert r.status_code == 200 and r.json() == {"acknowledged": 1, "still_pending": []}, r.text
        await sale_wait_pending(client, erp, {"502"})
        r = await client.get("/api/v1/erp/orders", params={"pending": "false", "limit": 1}, headers=erp)
        body = r.json()
        assert (body["total"], [i["number"] for i in body["items"]]) == (2, ["501"]), body
        assert body["items"][0]["pending"] is False and body["items"][0]["exported_at"]

        change = {
            "erp_document_id": "ЗК-000501",
            "status": "shipped",
            "lines": [
                {"line_id": str(first.line("A-1").line_id), "sku": "A-1", "cancelled_quantity": "2"},
                {"sku": "C-3", "quantity": "4", "price": "15", "vat_rate": "20"},
            ],
            "paid_amount": "250.00",
            "shipment_date": "2024-06-03",
        }
        url = f"/api/v1/erp/orders/{first.order_id}/changes"
        # If-Match: the order's version the ERP saw. A stale one applies nothing; a garbled one is refused.
        r = await client.post(url, json=change, headers={**erp, "If-Match": '"7"'})
        assert r.status_code == 412 and r.json()["error"]["code"] == "version_mismatch", r.text
        assert r.json()["error"]["details"]["version"] == 1, r.text
        r = await client.post(url, json=change, headers={**erp, "If-Match": "yesterday"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_if_match", r.text
        r = await client.post(url, json=change, headers={**erp, "If-Match": '"1"'})
        assert r.status_code == 202, r.text
        (event,) = await sale_changes(kafka, expect=1)
        assert event["data"]["caller"] == f"ERP ({login})", event
        assert event["event_id"] == r.json()["event_id"] and event["aggregate_id"] == str(first.order_id)
        data = event["data"]
        assert (data["status"], data["erp_document_id"], data["shipment_date"]) == (
            "shipped",
            "ЗК-000501",
            "2024-06-03",
        )
        assert [(x["line_id"], x["sku"], x["cancelled_quantity"], x["quantity"]) for x in data["lines"]] == [
            (str(first.line("A-1").line_id), "A-1", "2", None),
            (None, "C-3", None, "4"),
        ]
        assert data["paid_amount"] in ("250.00", "250")

        for bad, code in (
            (
                {"status": "shipped", "lines": [{"line_id": str(uuid.uuid4()), "sku": "A-1", "quantity": "1"}]},
                "unknown_line",
            ),
            ({"lines": [{"sku": "NEW-1", "price": "3"}]}, "invalid_line"),
            ({"lines": [{"sku": "NEW-1", "quantity": "1.0005"}]}, "validation_error"),  # thousandths at most
            ({}, "validation_error"),
            ({"status": "teleported"}, "validation_error"),
        ):
            r = await client.post(f"/api/v1/erp/orders/{second.order_id}/changes", json=bad, headers=erp)
            assert r.status_code == 422 and r.json()["error"]["code"] == code, (bad, r.text)
        r = await client.post(f"/api/v1/erp/orders/{uuid.uuid4()}/changes", json={"status": "shipped"}, headers=erp)
        assert r.status_code == 404, r.text
        assert len(await sale_changes(kafka, expect=2, timeout=3)) == 1  # the refusals published nothing

        r = await client.get("/api/v1/erp/exchanges", params={"kind": "api.changes"}, headers=bearer(owner))
        assert {i["caller"] for i in r.json()["items"]} == {f"ERP ({login})"}, r.text
        log = await sale_log(client, owner)
        outcomes = {(kind, outcome) for kind, outcome, _ in log}
        assert {("api.orders", "success"), ("api.ack", "failure"), ("api.ack", "success")} <= outcomes, log
        assert (
            "api.changes",
            "success",
            "order 501: status shipped, 2 lines, paid 250.00, shipment date 2024-06-03",
        ) in log


async def test_only_the_suppliers_own_erp_sees_and_changes_its_orders(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-7 (R-ACC-4, R-ACC-1): another supplier's ERP and owner see none of the orders and cannot acknowledge or
    change them (404, as for unknown orders); buyers and employees other than the owner — read-only, full access,
    restricted to their buyers — are refused; so are a wrong password, no credential and a switched-off exchange."""
    tenant = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    order = sale_order(tenant, "601", uuid.uuid4(), ("A-1", "1", "10"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        await sale_publish(kafka, sale_placed(order, OrderStatus.CONFIRMED))
        await sale_wait_pending(client, owner, {"601"}, with_inn=False)

        other_owner = token_for(keys[0], account_id=uuid.uuid4())
        other_erp = sale_basic(await sale_connect(client, other_owner))
        changes_url = f"/api/v1/erp/orders/{order.order_id}/changes"
        for other in (bearer(other_owner), other_erp):
            r = await client.get("/api/v1/erp/orders", params={"pending": "false"}, headers=other)
            assert r.status_code == 200 and (r.json()["total"], r.json()["items"]) == (0, []), r.text
            ack = {"orders": [{"order_id": str(order.order_id), "version": 1}]}
            r = await client.post("/api/v1/erp/orders/ack", json=ack, headers=other)
            assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found", r.text
            r = await client.post(changes_url, json={"status": "shipped"}, headers=other)
            assert r.status_code == 404, r.text

        buyer = token_for(keys[0], account_id=uuid.uuid4(), kind="buyer")
        reader = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "read"})
        full = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "full", "buyers": "full"})
        restricted = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "full"}, restricted=True)
        for token in (buyer, reader, full, restricted):
            r = await client.get("/api/v1/erp/orders", headers=bearer(token))
            assert r.status_code == 403 and r.json()["error"]["code"] == "erp_credential_required", r.text
            r = await client.post(changes_url, json={"status": "shipped"}, headers=bearer(token))
            assert r.status_code == 403, r.text

        login = await sale_connect(client, owner)
        for headers, status in (({}, 401), (sale_basic(login, "not-the-password"), 401), (sale_basic("nobody"), 401)):
            r = await client.get("/api/v1/erp/orders", headers=headers)
            assert r.status_code == status and r.json()["error"], r.text
        await sale_wait_pending(client, sale_basic(login), {"601"}, with_inn=False)
        body = {"login": login, "password": "s3cret-orders-exchange", "enabled": False}
        r = await client.put("/api/v1/erp/connection", json=body, headers=bearer(owner))
        assert r.status_code == 200, r.text
        r = await client.post(changes_url, json={"status": "shipped"}, headers=sale_basic(login))
        assert r.status_code == 403 and r.json()["error"]["code"] == "exchange_disabled", r.text

        await sale_wait_pending(client, owner, {"601"}, with_inn=False)  # nobody took it
        assert await sale_changes(kafka, expect=1, timeout=3) == []


async def test_guessing_the_exchange_password_on_the_erp_api_is_throttled(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-7 (ADR 012): after api_auth_max_failures wrong passwords for a login within the window, that login
    answers 429 — even with the right password — until the window has passed; other logins are not affected."""
    owner = token_for(keys[0], account_id=uuid.uuid4())
    other_owner = token_for(keys[0], account_id=uuid.uuid4())
    app = sale_app(database_url, tmp_path, service_env, api_auth_max_failures=3, api_auth_failure_window_s=3)
    async with running_service(app) as client:
        login, other = await sale_connect(client, owner), await sale_connect(client, other_owner)
        for _ in range(3):
            r = await client.get("/api/v1/erp/orders", headers=sale_basic(login, "guess-guess"))
            assert r.status_code == 401, r.text
        r = await client.get("/api/v1/erp/orders", headers=sale_basic(login))
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts", r.text
        assert r.json()["error"]["details"]["retry_after_s"] >= 1
        r = await client.get("/api/v1/erp/orders", headers=sale_basic(other))
        assert r.status_code == 200, r.text

        async def open_again() -> None:
            r = await client.get("/api/v1/erp/orders", headers=sale_basic(login))
            assert r.status_code == 200, r.text

        await eventually(open_again, timeout=15, interval=0.5)
