"""One quantity scale at the inventory edge: stock, incoming and holds refuse (never round) what it cannot hold."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_inventory.app import create_app
from oms_inventory.settings import Settings
from tests.integration.inventory.helpers import setup_catalogue, stock_of
from tests.support.services import bearer, running_service, token_for


async def test_stock_incoming_and_holds_are_whole_for_pieces_and_thousandths_for_the_rest(
    database_url: str, service_env: dict[str, Any], keys: tuple[Path, Path]
) -> None:
    """R-STK-1, R-RSV-3: 1.5 pieces, or 2.0015 kg, are refused with a 422 naming the row and why (and nothing is
    applied); 1.125 kg is kept exactly."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    h = bearer(token)
    app = create_app(Settings(database_url=database_url, **{**service_env, "start_consumers": False}))
    async with running_service(app) as client:
        wid = await setup_catalogue(client, token, {"BOLT": "10", "SAND": "5"}, units={"SAND": "кг"})

        for sku, on_hand, code in (("BOLT", "1.5", "whole_units_only"), ("SAND", "2.0015", "too_precise")):
            r = await client.put(
                "/api/v1/stock",
                json={
                    "items": [
                        {"warehouse_id": wid, "sku": "SAND", "on_hand": "4"},
                        {"warehouse_id": wid, "sku": sku, "on_hand": on_hand},
                    ]
                },
                headers=h,
            )
            assert r.status_code == 422, r.text
            assert [(d["row"], d["code"]) for d in r.json()["error"]["details"]] == [(1, code)]
        assert (await stock_of(client, token, wid, "SAND"))["on_hand"] == "5"  # all rows or none
        r = await client.put(
            "/api/v1/stock", json={"items": [{"warehouse_id": wid, "sku": "SAND", "on_hand": "1.125"}]}, headers=h
        )
        assert r.status_code == 200, r.text
        assert (await stock_of(client, token, wid, "SAND"))["on_hand"] == "1.125"

        for sku, quantity, code in (("BOLT", "0.5", "whole_units_only"), ("SAND", "0.0004", "too_precise")):
            r = await client.post(
                "/api/v1/incoming",
                json={
                    "items": [{"warehouse_id": wid, "sku": sku, "quantity": quantity, "expected_date": "2027-01-10"}]
                },
                headers=h,
            )
            assert r.status_code == 422, r.text
            assert [d["code"] for d in r.json()["error"]["details"]] == [code]
        r = await client.post(
            "/api/v1/incoming",
            json={"items": [{"warehouse_id": wid, "sku": "SAND", "quantity": "0.25", "expected_date": "2027-01-10"}]},
            headers=h,
        )
        assert r.status_code == 201, r.text

        for sku, quantity, code in (("BOLT", "2.5", "whole_units_only"), ("SAND", "1.0005", "too_precise")):
            r = await client.put(
                "/api/v1/manual-reserves",
                json={"warehouse_id": wid, "sku": sku, "quantity": quantity, "reason": "for the fair"},
                headers=h,
            )
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == code
        assert (await stock_of(client, token, wid, "BOLT"))["reserved"] == "0"
        r = await client.put(
            "/api/v1/manual-reserves",
            json={"warehouse_id": wid, "sku": "SAND", "quantity": "0.125", "reason": "for the fair"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        assert (await stock_of(client, token, wid, "SAND"))["reserved"] == "0.125"
