"""The inventory service: warehouses, products, stock, reserves, availability."""

from __future__ import annotations

from typing import Any

from oms_console.clients.base import ServiceClient

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class InventoryClient(ServiceClient):
    service = "inventory"

    async def availability(self, price_list_id: str, *, limit: int | None = None, offset: int = 0) -> dict[str, Any]:
        """R-STK-2: per price-list line, available on each of its warehouses and in total."""
        params: dict[str, Any] = {"offset": offset}
        if limit is not None:
            params["limit"] = limit
        return dict(await self.get_json(f"/api/v1/price-lists/{price_list_id}/availability", params=params))

    async def warehouses(self, *, limit: int = 200) -> dict[str, Any]:
        """R-STK-1: the supplier's warehouses (code, name)."""
        return dict(await self.get_json("/api/v1/warehouses", params={"limit": limit}))

    async def stock(self, **params: Any) -> dict[str, Any]:
        """R-STK-1: on hand, reserved, available and incoming per warehouse item (q, warehouse_id, paging)."""
        return dict(
            await self.get_json("/api/v1/stock", params={k: v for k, v in params.items() if v not in ("", None)})
        )

    async def item_reserves(self, warehouse_id: str, sku: str) -> dict[str, Any]:
        """R-RSV-5: the item's figures and who holds its reserves (orders with number and buyer, manual,
        Integration)."""
        return dict(await self.get_json("/api/v1/stock/reserves", params={"warehouse_id": warehouse_id, "sku": sku}))

    async def line_reserves(self, order_id: str, line_id: str) -> dict[str, Any]:
        """R-RSV-5: an order line's reserve and the entries behind it."""
        return dict(await self.get_json(f"/api/v1/orders/{order_id}/lines/{line_id}/reserves"))

    async def set_manual_reserve(
        self, warehouse_id: str, sku: str, quantity: str, reason: str, key: str | None
    ) -> dict[str, Any]:
        """R-RSV-3: set (0 clears) the manual reserve of a warehouse item."""
        body = {"warehouse_id": warehouse_id, "sku": sku, "quantity": quantity, "reason": reason}
        answer = await self.request("PUT", "/api/v1/manual-reserves", json=body, idempotency_key=key)
        return dict(answer.json())

    async def incoming(self, **params: Any) -> dict[str, Any]:
        """R-STK-1: expected (and received) deliveries."""
        return dict(
            await self.get_json("/api/v1/incoming", params={k: v for k, v in params.items() if v not in ("", None)})
        )

    async def receive(self, incoming_id: str, quantity: str | None, key: str | None) -> dict[str, Any]:
        """A delivery arrived (all of it, or ``quantity`` of it: the rest stays expected): it goes into stock."""
        body = {"quantity": quantity} if quantity else None
        answer = await self.request("POST", f"/api/v1/incoming/{incoming_id}/receive", json=body, idempotency_key=key)
        return dict(answer.json())

    async def upload_stock(self, filename: str, content: bytes, key: str | None) -> dict[str, Any]:
        """Stock on hand from a file (warehouse_code, sku, on_hand); one bad row applies nothing."""
        answer = await self.request(
            "POST", "/api/v1/stock/upload", files={"file": (filename, content, XLSX_TYPE)}, idempotency_key=key
        )
        return dict(answer.json())

    async def create_warehouse(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        return dict((await self.request("POST", "/api/v1/warehouses", json=body, idempotency_key=key)).json())

    async def products(self, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/products", params=params))

    async def upsert_products(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Create or change products by SKU (name, unit)."""
        return dict(await self.post_json("/api/v1/products", {"items": items}))
