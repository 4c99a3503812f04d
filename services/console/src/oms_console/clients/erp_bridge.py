"""The erp-bridge service: the ERP connection and its exchange log."""

from __future__ import annotations

from typing import Any

from oms_console.clients.base import ServiceClient


class ErpBridgeClient(ServiceClient):
    service = "erp-bridge"

    async def connection(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/erp/connection"))

    async def set_connection(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict((await self.request("PUT", "/api/v1/erp/connection", json=body)).json())

    async def exchanges(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/erp/exchanges", params=params))

    async def warehouses(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/erp/warehouses", params={"limit": 200}))

    async def map_warehouse(self, warehouse_id: str, erp_id: str | None) -> dict[str, Any]:
        answer = await self.request("PUT", f"/api/v1/erp/warehouses/{warehouse_id}", json={"erp_id": erp_id})
        return dict(answer.json())
