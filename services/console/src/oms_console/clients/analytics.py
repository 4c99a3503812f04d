"""The analytics service: summaries and charts."""

from __future__ import annotations

from typing import Any

from oms_console.clients.base import ServiceClient


class AnalyticsClient(ServiceClient):
    service = "analytics"

    async def summary(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/summary", params=params))

    async def details(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/summary/details", params=params))

    async def export(self, params: dict[str, Any]) -> bytes:
        return (await self.request("GET", "/api/v1/summary/export.xlsx", params=params)).content
