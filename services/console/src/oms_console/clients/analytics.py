"""The analytics service: summaries and charts."""

from __future__ import annotations

from oms_console.clients.base import ServiceClient


class AnalyticsClient(ServiceClient):
    service = "analytics"
