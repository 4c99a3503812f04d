"""A delivery that arrives short: what arrived goes into stock, the rest stays expected."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from tests.integration.inventory.helpers import setup_catalogue, stock_of
from tests.support.services import bearer, running_service, token_for


async def test_a_delivery_received_short_keeps_the_rest_expected(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-1, R-UI-9: 60 of 100 expected arrive: on hand goes up by 60, incoming shows 40 still expected (a
    delivery of its own, same date); more than expected, a fraction of pieces or zero is refused with nothing
    changed; without a quantity the whole delivery arrives."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    h = bearer(token)
    app = create_app(Settings(database_url=database_url, **{**service_env, "start_consumers": False}))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"BOLT": "10"})
        r = await client.post(
            "/api/v1/incoming",
            json={"items": [{"warehouse_id": wid, "sku": "BOLT", "quantity": "100", "expected_date": "2027-01-10"}]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        iid = r.json()["items"][0]["incoming_id"]

        for quantity, code in (("101", "exceeds_expected"), ("2.5", "whole_units_only"), ("0", "zero_quantity")):
            r = await client.post(f"/api/v1/incoming/{iid}/receive", json={"quantity": quantity}, headers=h)
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == code
        assert (await stock_of(client, token, wid, "BOLT"))["on_hand"] == "10"

        r = await client.post(f"/api/v1/incoming/{iid}/receive", json={"quantity": "60"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["quantity"] == "60" and r.json()["status"] == "received"
        item = await stock_of(client, token, wid, "BOLT")
        assert (item["on_hand"], item["incoming"]) == ("70", "40")
        r = await client.get("/api/v1/incoming", params={"status": "expected"}, headers=h)
        rest = r.json()["items"]
        assert [(d["quantity"], d["expected_date"]) for d in rest] == [("40", "2027-01-10")]

        r = await client.post(f"/api/v1/incoming/{rest[0]['incoming_id']}/receive", headers=h)
        assert r.status_code == 200, r.text
        item = await stock_of(client, token, wid, "BOLT")
        assert (item["on_hand"], item["incoming"]) == ("110", "0")
        r = await client.post(f"/api/v1/incoming/{iid}/receive", json={"quantity": "1"}, headers=h)
        assert r.status_code == 409 and r.json()["error"]["code"] == "already_received"
