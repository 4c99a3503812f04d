"""The notifications service: the in-app inbox."""

from __future__ import annotations

from oms_console.clients.base import ServiceClient


class NotificationsClient(ServiceClient):
    service = "notifications"

    async def unread_count(self) -> int:
        body = await self.get_json("/api/v1/notifications/unread")
        if isinstance(body, dict):
            for key in ("count", "unread"):
                if isinstance(body.get(key), int):
                    return int(body[key])
        return 0
