"""The orders service: identity (tokens, the caller), buyers, price lists, orders and their parts."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from oms_console.clients.base import ServiceClient

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Versioned:
    """An answer with the ETag it was read at (sent back as If-Match on a write)."""

    def __init__(self, body: dict[str, Any], etag: str | None) -> None:
        self.body = body
        self.etag = etag


class OrdersClient(ServiceClient):
    service = "orders"

    # -- identity (no bearer token: these make or end one) --
    async def sign_in(self, email: str, password: str) -> dict[str, Any]:
        body = {"email": email, "password": password}
        return dict(await self.post_json("/api/v1/auth/token", body, authenticated=False))

    async def refresh(self, refresh_token: str) -> dict[str, Any]:
        body = {"refresh_token": refresh_token}
        return dict(await self.post_json("/api/v1/auth/refresh", body, authenticated=False))

    async def sign_out(self) -> None:
        await self.request("POST", "/api/v1/auth/logout")

    async def reset_password(self, token: str, password: str) -> None:
        body = {"token": token, "new_password": password}
        await self.request("POST", "/api/v1/auth/password-reset/confirm", json=body, authenticated=False)

    async def me(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/me"))

    # -- invitations --
    async def invitation(self, token: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/invitations/{token}", authenticated=False))

    async def accept_invitation(self, token: str) -> dict[str, Any]:
        return dict(await self.post_json(f"/api/v1/invitations/{token}/accept"))

    # -- buyers, price lists (names for filters and pages) --
    async def buyers(self, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/buyers", params=params))

    async def price_lists(self, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/price-lists", params=params))

    # -- orders --
    async def list_orders(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/orders", params=params))

    async def order(self, order_id: str) -> Versioned:
        answer = await self.request("GET", f"/api/v1/orders/{order_id}")
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def transition(self, order_id: str, body: dict[str, Any], etag: str | None, key: str | None) -> Versioned:
        answer = await self.request(
            "POST", f"/api/v1/orders/{order_id}/transitions", json=body, if_match=etag, idempotency_key=key
        )
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def changes(self, order_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/orders/{order_id}/changes"))

    async def comments(self, order_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/orders/{order_id}/comments"))

    async def add_comment(self, order_id: str, text: str, key: str | None) -> dict[str, Any]:
        answer = await self.request(
            "POST", f"/api/v1/orders/{order_id}/comments", json={"text": text}, idempotency_key=key
        )
        return dict(answer.json())

    async def documents(self, order_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/orders/{order_id}/documents"))

    async def users(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/users"))

    async def add_document(
        self, order_id: str, file_name: str, content: bytes, content_type: str | None, key: str | None
    ) -> dict[str, Any]:
        files = {"file": (file_name, content, content_type or "application/octet-stream")}
        answer = await self.request("POST", f"/api/v1/orders/{order_id}/documents", files=files, idempotency_key=key)
        return dict(answer.json())

    async def document(self, order_id: str, document_id: str) -> httpx.Response:
        """The file as orders answers it (content, type and the attachment's name)."""
        return await self.request("GET", f"/api/v1/orders/{order_id}/documents/{document_id}")

    async def update_profile(self, order_id: str, body: dict[str, Any], etag: str | None, key: str | None) -> Versioned:
        answer = await self.request(
            "PATCH", f"/api/v1/orders/{order_id}/profile", json=body, if_match=etag, idempotency_key=key
        )
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def hide(self, order_id: str, etag: str | None, key: str | None) -> None:
        await self.request("DELETE", f"/api/v1/orders/{order_id}", if_match=etag, idempotency_key=key)

    # -- the buyer's catalogue and cart, links, import (R-UI-2, R-IN-2, R-UI-7) --
    async def price_list(self, price_list_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/price-lists/{price_list_id}"))

    async def place_order(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        answer = await self.request("POST", "/api/v1/orders", json=body, idempotency_key=key)
        return dict(answer.json())

    async def link(self, token: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/links/{token}", authenticated=False))

    async def register_by_link(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.post_json(f"/api/v1/links/{token}/register", body, authenticated=False))

    async def join_by_link(self, token: str) -> dict[str, Any]:
        return dict(await self.post_json(f"/api/v1/links/{token}/join"))

    async def import_template(self, lang: str) -> bytes:
        return (await self.request("GET", "/api/v1/imports/template.xlsx", params={"lang": lang})).content

    async def price_list_import_template(self, price_list_id: str, lang: str) -> bytes:
        path = f"/api/v1/price-lists/{price_list_id}/import-template.xlsx"
        return (await self.request("GET", path, params={"lang": lang})).content

    async def import_order(
        self, buyer_id: str, price_list_id: str, filename: str, content: bytes, key: str | None
    ) -> dict[str, Any]:
        answer = await self.request(
            "POST",
            "/api/v1/orders/import",
            data={"buyer_id": buyer_id, "price_list_id": price_list_id},
            files={"file": (filename, content, XLSX_TYPE)},
            idempotency_key=key,
        )
        return dict(answer.json())

    async def request_password_reset(self, email: str) -> None:
        await self.request("POST", "/api/v1/auth/password-reset", json={"email": email}, authenticated=False)

    async def register_by_invitation(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.post_json(f"/api/v1/invitations/{token}/register", body, authenticated=False))

    # -- editing, parts, print (R-UI-5, R-UI-6, R-UI-12) --
    async def edit_lines(self, order_id: str, body: dict[str, Any], etag: str | None, key: str | None) -> Versioned:
        answer = await self.request(
            "POST", f"/api/v1/orders/{order_id}/lines", json=body, if_match=etag, idempotency_key=key
        )
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def move_lines(self, order_id: str, body: dict[str, Any], etag: str | None, key: str | None) -> Versioned:
        answer = await self.request(
            "POST", f"/api/v1/orders/{order_id}/parts", json=body, if_match=etag, idempotency_key=key
        )
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def split_preview(self, order_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/orders/{order_id}/split-preview"))

    async def price_list_items(self, price_list_id: str, **params: Any) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/price-lists/{price_list_id}/items", params=params))

    async def buyer(self, buyer_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/buyers/{buyer_id}"))

    async def time_limits(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/settings/time-limits"))

    async def set_time_limits(self, body: dict[str, Any], key: str | None = None) -> dict[str, Any]:
        return dict((await self.request("PUT", "/api/v1/settings/time-limits", json=body, idempotency_key=key)).json())

    async def account(self) -> Versioned:
        answer = await self.request("GET", "/api/v1/account")
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def update_account(self, body: dict[str, Any], etag: str | None, key: str | None) -> Versioned:
        answer = await self.request("PATCH", "/api/v1/account", json=body, if_match=etag, idempotency_key=key)
        return Versioned(answer.json(), answer.headers.get("etag"))

    # -- settings: employees, buyers, price lists and their links (R-UI-11, R-ACC-1..3, R-IN-2) --
    async def invite_employee(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        answer = await self.request("POST", "/api/v1/users/invitations", json=body, idempotency_key=key)
        return dict(answer.json())

    async def employee_invitations(self) -> dict[str, Any]:
        return dict(await self.get_json("/api/v1/users/invitations"))

    async def employee_invitation(self, token: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/employee-invitations/{quote(token, safe='')}", authenticated=False))

    async def accept_employee_invitation(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/api/v1/employee-invitations/{quote(token, safe='')}/accept"
        return dict(await self.post_json(path, body, authenticated=False))

    async def update_user(self, user_id: str, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        answer = await self.request("PATCH", f"/api/v1/users/{user_id}", json=body, idempotency_key=key)
        return dict(answer.json())

    async def create_buyer(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        return dict((await self.request("POST", "/api/v1/buyers", json=body, idempotency_key=key)).json())

    async def update_buyer(self, buyer_id: str, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        answer = await self.request("PATCH", f"/api/v1/buyers/{buyer_id}", json=body, idempotency_key=key)
        return dict(answer.json())

    async def invite_buyer(self, buyer_id: str, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        path = f"/api/v1/buyers/{buyer_id}/invitations"
        return dict((await self.request("POST", path, json=body, idempotency_key=key)).json())

    async def price_list_versioned(self, price_list_id: str) -> Versioned:
        answer = await self.request("GET", f"/api/v1/price-lists/{price_list_id}")
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def create_price_list(self, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        return dict((await self.request("POST", "/api/v1/price-lists", json=body, idempotency_key=key)).json())

    async def replace_price_list(
        self, price_list_id: str, body: dict[str, Any], etag: str | None, key: str | None
    ) -> Versioned:
        answer = await self.request(
            "PUT", f"/api/v1/price-lists/{price_list_id}", json=body, if_match=etag, idempotency_key=key
        )
        return Versioned(answer.json(), answer.headers.get("etag"))

    async def create_link(self, price_list_id: str, *, regenerate: bool = False) -> dict[str, Any]:
        params = {"regenerate": "true"} if regenerate else None
        return dict(await self.post_json(f"/api/v1/price-lists/{price_list_id}/link", params=params))

    async def delete_link(self, price_list_id: str) -> None:
        await self.request("DELETE", f"/api/v1/price-lists/{price_list_id}/link")

    async def create_account(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(await self.post_json("/api/v1/accounts", body, authenticated=False))

    async def buyer_invitations(self, buyer_id: str) -> dict[str, Any]:
        return dict(await self.get_json(f"/api/v1/buyers/{buyer_id}/invitations"))
