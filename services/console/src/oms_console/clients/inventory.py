"""The inventory service: warehouses, products, stock, reserves, availability."""

from __future__ import annotations

from oms_console.clients.base import ServiceClient


class InventoryClient(ServiceClient):
    service = "inventory"
