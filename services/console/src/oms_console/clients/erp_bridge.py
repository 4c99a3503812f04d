"""The erp-bridge service: the ERP connection and its exchange log."""

from __future__ import annotations

from oms_console.clients.base import ServiceClient


class ErpBridgeClient(ServiceClient):
    service = "erp-bridge"
