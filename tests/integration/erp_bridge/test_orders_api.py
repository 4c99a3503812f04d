"""The orders exchange as a JSON API for other ERPs (``/api/v1/erp/orders``, R-ERP-7), on the real broker and DB."""

from __future__ import annotations

import uuid
from pathlib import Path

from oms_shared.contracts import OrderStatus
from tests.integration.erp_bridge.support import (
    sale_app,
    sale_buyer_updated,
    sale_changes,
    sale_log,
    sale_order,
    sale_placed,
    sale_publish,
    sale_wait_pending,
)
from tests.support.services import bearer, running_service, token_for


async def test_an_erp_lists_pending_orders_acknowledges_them_and_sends_its_changes(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-7, R-ERP-6: the pending list, all-or-nothing acks (404 unknown, 409 version ahead), changes that land on
    ``erp.order_changed``; every call in the exchange log."""
    tenant = uuid.uuid4()
    # An employee with "change" access to orders (not the owner) is enough for the ERP.
    erp = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "change"})
    owner = token_for(keys[0], account_id=tenant)  # reads the exchange log
    buyer = uuid.uuid4()
    first = sale_order(tenant, "501", buyer, ("A-1", "5", "10"), ("B-2", "2", "120.50"))
    second = sale_order(tenant, "502", buyer, ("A-1", "1", "10"))
    unconfirmed = sale_order(tenant, "503", buyer, ("A-1", "1", "10"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
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
        r = await client.post("/api/v1/erp/orders/ack", json=ack, headers=bearer(erp))
        assert r.status_code == 404 and r.json()["error"]["details"] == {"order_ids": [unknown]}, r.text
        ahead = {"orders": [{"order_id": str(first.order_id), "version": 2}]}
        r = await client.post("/api/v1/erp/orders/ack", json=ahead, headers=bearer(erp))
        assert r.status_code == 409 and r.json()["error"]["code"] == "version_ahead", r.text
        await sale_wait_pending(client, erp, {"501", "502"})  # neither refusal applied anything

        r = await client.post("/api/v1/erp/orders/ack", json={"orders": [ack["orders"][0]]}, headers=bearer(erp))
        assert r.status_code == 200 and r.json() == {"acknowledged": 1, "still_pending": []}, r.text
        await sale_wait_pending(client, erp, {"502"})
        r = await client.get("/api/v1/erp/orders", params={"pending": "false", "limit": 1}, headers=bearer(erp))
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
        r = await client.post(f"/api/v1/erp/orders/{first.order_id}/changes", json=change, headers=bearer(erp))
        assert r.status_code == 202, r.text
        (event,) = await sale_changes(kafka, expect=1)
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
            ({}, "validation_error"),
            ({"status": "teleported"}, "validation_error"),
        ):
            r = await client.post(f"/api/v1/erp/orders/{second.order_id}/changes", json=bad, headers=bearer(erp))
            assert r.status_code == 422 and r.json()["error"]["code"] == code, (bad, r.text)
        r = await client.post(
            f"/api/v1/erp/orders/{uuid.uuid4()}/changes", json={"status": "shipped"}, headers=bearer(erp)
        )
        assert r.status_code == 404, r.text
        assert len(await sale_changes(kafka, expect=2, timeout=3)) == 1  # the refusals published nothing

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
    """R-ERP-7 (R-ACC-4): another supplier's token sees none of the orders and cannot acknowledge or change them;
    buyers and read-only employees are refused."""
    tenant = uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    order = sale_order(tenant, "601", uuid.uuid4(), ("A-1", "1", "10"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        await sale_publish(kafka, sale_placed(order, OrderStatus.CONFIRMED))
        await sale_wait_pending(client, owner, {"601"}, with_inn=False)

        other = token_for(keys[0], account_id=uuid.uuid4())
        r = await client.get("/api/v1/erp/orders", params={"pending": "false"}, headers=bearer(other))
        assert r.status_code == 200 and (r.json()["total"], r.json()["items"]) == (0, []), r.text
        ack = {"orders": [{"order_id": str(order.order_id), "version": 1}]}
        r = await client.post("/api/v1/erp/orders/ack", json=ack, headers=bearer(other))
        assert r.status_code == 404 and r.json()["error"]["code"] == "order_not_found", r.text
        r = await client.post(
            f"/api/v1/erp/orders/{order.order_id}/changes", json={"status": "shipped"}, headers=bearer(other)
        )
        assert r.status_code == 404, r.text  # another account's order: as unknown

        buyer = token_for(keys[0], account_id=uuid.uuid4(), kind="buyer")
        reader = token_for(keys[0], account_id=tenant, owner=False, access={"orders": "read"})
        for token in (buyer, reader):
            r = await client.get("/api/v1/erp/orders", headers=bearer(token))
            assert r.status_code == 403, r.text
            r = await client.post(
                f"/api/v1/erp/orders/{order.order_id}/changes", json={"status": "shipped"}, headers=bearer(token)
            )
            assert r.status_code == 403, r.text

        await sale_wait_pending(client, owner, {"601"}, with_inn=False)  # nobody took it
        assert await sale_changes(kafka, expect=1, timeout=3) == []
