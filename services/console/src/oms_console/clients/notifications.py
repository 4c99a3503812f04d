"""The notifications service: the in-app inbox."""

from __future__ import annotations

from typing import Any

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

    async def notifications(self, **params: Any) -> dict[str, Any]:
        """A page of the caller's notifications with the unread counts (``GET /api/v1/notifications``)."""
        return dict(await self.get_json("/api/v1/notifications", params=params))

    async def unread_by_order(self) -> dict[str, Any]:
        """Per-order and per-line unseen changes (``GET /api/v1/notifications/unread``)."""
        return dict(await self.get_json("/api/v1/notifications/unread"))

    async def mark_read(self, body: dict[str, Any]) -> int:
        """Mark read by ids, by order or all (``POST /api/v1/notifications/read``); how many were marked."""
        answer = await self.post_json("/api/v1/notifications/read", body)
        return int(answer.get("marked", 0)) if isinstance(answer, dict) else 0

    async def preferences(self) -> dict[str, bool]:
        """E-mail on or off per notification kind (``GET /api/v1/preferences``)."""
        body = await self.get_json("/api/v1/preferences")
        return {str(k): bool(v) for k, v in dict(body.get("email") or {}).items()}

    async def set_preferences(self, email: dict[str, bool]) -> dict[str, bool]:
        answer = await self.request("PUT", "/api/v1/preferences", json={"email": email})
        return {str(k): bool(v) for k, v in dict(answer.json().get("email") or {}).items()}
