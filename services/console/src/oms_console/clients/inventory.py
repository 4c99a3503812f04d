"""The inventory service: warehouses, products, stock, reserves, availability."""

from __future__ import annotations

from typing import Any

from oms_console.clients.base import ServiceClient


class InventoryClient(ServiceClient):
    service = "inventory"

    async def availability(self, price_list_id: str, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """R-STK-2: per price-list line, available on each of its warehouses and in total."""
        params: dict[str, Any] = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        return dict(await self.get_json(f"/api/v1/price-lists/{price_list_id}/availability", params=params))

    async def warehouses(self, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/warehouses", params=params))

    async def create_warehouse(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        return dict((await self.request("POST", "/api/v1/warehouses", json=body, idempotency_key=key)).json())

    async def products(self, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/products", params=params))
