"""One thin async client per service, all seen with the signed-in user's token (``Api``)."""

from __future__ import annotations

import httpx

from oms_console.clients.analytics import AnalyticsClient
from oms_console.clients.base import (
    CallLog,
    ServiceClient,
    ServiceError,
    ServiceUnavailable,
    SessionExpired,
    new_idempotency_key,
)
from oms_console.clients.erp_bridge import ErpBridgeClient
from oms_console.clients.inventory import InventoryClient
from oms_console.clients.notifications import NotificationsClient
from oms_console.clients.orders import OrdersClient, Versioned

__all__ = [
    "Api",
    "CallLog",
    "ServiceClient",
    "ServiceError",
    "ServiceUnavailable",
    "SessionExpired",
    "Versioned",
    "new_idempotency_key",
]


class Api:
    """The five services for one request, with the user's access token (or none before sign-in)."""

    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str], token: str | None, log: CallLog) -> None:
        self.log = log
        self.orders = OrdersClient(http, urls["orders"], token, log)
        self.inventory = InventoryClient(http, urls["inventory"], token, log)
        self.notifications = NotificationsClient(http, urls["notifications"], token, log)
        self.erp_bridge = ErpBridgeClient(http, urls["erp-bridge"], token, log)
        self.analytics = AnalyticsClient(http, urls["analytics"], token, log)
