"""The five services in-process on one real broker (SQLite), two tenants with every role, and their objects.

Built once per module by ``test_matrix.py``; the matrix then calls every route as every role.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from openpyxl import Workbook

from oms_analytics.app import create_app as analytics_app
from oms_analytics.settings import Settings as AnalyticsSettings
from oms_erp_bridge.app import create_app as erp_app
from oms_erp_bridge.settings import Settings as ErpSettings
from oms_inventory.app import create_app as inventory_app
from oms_inventory.settings import Settings as InventorySettings
from oms_notifications.app import create_app as notifications_app
from oms_notifications.settings import Settings as NotificationsSettings
from oms_orders.app import create_app as orders_app
from oms_orders.settings import Settings as OrdersSettings
from oms_shared.auth import JWKS_PATH, Principal, generate_keypair, issue_token
from tests.support.services import bearer, eventually, running_service

PASSWORD = "secret-pass-1"
ERP_PASSWORD = "erp-exchange-secret"
# Only documentation and tooling routes are left out: they carry no data and no token is read.
TOOLING = {"/openapi.json", "/docs", "/docs/assets/{name}", "/docs/oauth2-redirect", "/redoc"}
# Access tokens live a minute (ADR 011): the harness renews a role's token this long before it lapses.
RENEW_MARGIN_S = 20.0


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path) the app answers, from its router (HEAD of GET routes and tooling left out)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        if route.path in TOOLING or route.path is None:
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


@dataclass
class Stack:
    """The running services (one HTTP client each), the roles' headers and the ids routes are called with."""

    clients: dict[str, httpx.AsyncClient]
    apps: dict[str, FastAPI]
    headers: dict[str, dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    # role -> its e-mail, its refresh token and when its access token is to be renewed (monotonic seconds)
    emails: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def new_session(self, role: str) -> dict[str, Any]:
        """Signs the role's user in again: the answer with an access and a refresh token (sessions are kept)."""
        body = {"email": self.emails[role], "password": PASSWORD}
        return await _ok(await self.clients["orders"].post("/api/v1/auth/token", json=body))

    async def sign_in(self, role: str) -> dict[str, str]:
        """The headers of a new session of the role's user (the role's own session is kept)."""
        return bearer((await self.new_session(role))["access_token"])

    def open_session(self, role: str, email: str, answer: dict[str, Any]) -> None:
        """The role's session: its headers from now on, and when to renew them."""
        self.emails[role] = email
        self.headers[role] = bearer(answer["access_token"])
        renew_at = time.monotonic() + float(answer["expires_in"]) - RENEW_MARGIN_S
        self.sessions[role] = {"refresh_token": answer["refresh_token"], "renew_at": renew_at}

    async def renew(self) -> None:
        """Renews the access tokens about to lapse, as a client does (``/auth/refresh``); a session that
        ended (a password change ends the user's other sessions) is replaced by a new sign-in."""
        for role, session in self.sessions.items():
            if time.monotonic() < session["renew_at"]:
                continue
            body = {"refresh_token": session["refresh_token"]}
            r = await self.clients["orders"].post("/api/v1/auth/refresh", json=body)
            answer = await self.new_session(role) if r.status_code == 401 else await _ok(r)
            self.open_session(role, self.emails[role], answer)


def period() -> dict[str, str]:
    """A date range around today (analytics needs one)."""
    today = date.today()
    return {"date_from": (today - timedelta(days=7)).isoformat(), "date_to": (today + timedelta(days=1)).isoformat()}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _ok(response: httpx.Response, *status: int) -> dict[str, Any]:
    assert response.status_code in (status or (200, 201, 202)), (response.request.url, response.text)
    return dict(response.json()) if response.content else {}


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@asynccontextmanager
async def running_stack(bootstrap: str, keys: tuple[Path, Path], tmp: Path) -> AsyncIterator[Stack]:
    os.environ["OMS_VAR_DIR"] = str(tmp / "var")
    common: dict[str, Any] = {
        "kafka_bootstrap": bootstrap,
        "log_json": False,
        "consumer_retry_backoff_s": 0.05,
        "outbox_poll_interval_s": 0.1,
    }

    def env(name: str) -> dict[str, Any]:
        return {**common, "database_url": f"sqlite+aiosqlite:///{tmp / name}.db", "consumer_group": unique(name)}

    # Sign-in throttles are not under test here: every role signs in and changes its password several times.
    unthrottled: dict[str, Any] = {"signin_per_ip_burst": 1000, "signin_per_login_burst": 1000}
    # The other services verify tokens with the keys orders publishes (ADR 011), fetched in-process.
    jwks: dict[str, Any] = {"jwks_url": f"http://orders{JWKS_PATH}"}
    orders = orders_app(
        OrdersSettings(
            **env("orders"),
            **unthrottled,
            jwt_private_key_file=str(keys[0]),
            jwt_public_key_file=str(keys[1]),
            files_dir=str(tmp / "files"),
        )
    )
    apps = {
        "orders": orders,
        "inventory": inventory_app(InventorySettings(**env("inventory"), **jwks)),
        "notifications": notifications_app(
            NotificationsSettings(**env("notifications"), **jwks, smtp_port=9, templates_dir=str(tmp / "no-templates"))
        ),
        "erp-bridge": erp_app(ErpSettings(**env("erp"), **jwks, files_dir=str(tmp / "erp"))),
        "analytics": analytics_app(AnalyticsSettings(**env("analytics"), **jwks)),
    }
    for name, app in apps.items():
        if name != "orders":
            app.state.runtime.token_verifier.transport = httpx.ASGITransport(app=orders)
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(running_service(app)) for name, app in apps.items()}
        s = Stack(clients, apps, {})
        await _world(s, keys)
        yield s


async def _world(s: Stack, keys: tuple[Path, Path]) -> None:
    """Tenant A (owner, a manager restricted to their buyers, a read-only manager; buyers B1 and B2 with their
    own accounts), tenant Z (its owner); an order of B1 confirmed and replicated to every service."""
    orders, inventory = s.clients["orders"], s.clients["inventory"]

    async def register(kind: str, name: str) -> dict[str, Any]:
        email = f"{unique(name.lower().replace(' ', '.'))}@example.com"
        body = {"kind": kind, "name": name, "inn": "7701234567", "owner": {"email": email, "password": PASSWORD}}
        account = await _ok(await orders.post("/api/v1/accounts", json=body), 201)
        return {**account, "email": email}

    async def sign_in(role: str, email: str) -> dict[str, str]:
        r = await orders.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
        s.open_session(role, email, await _ok(r))
        return s.headers[role]

    supplier = await register("supplier", "Supplier A")
    owner = await sign_in("owner", supplier["email"])
    staff: dict[str, dict[str, Any]] = {}
    for role, access in (
        ("restricted", {"access_buyers": "change", "access_orders": "full", "restricted_to_own_buyers": True}),
        ("reader", {"access_buyers": "read", "access_orders": "read"}),
    ):
        email = f"{unique(role)}@example.com"
        body = {"email": email, "password": PASSWORD, "name": role, **access}
        staff[role] = {**await _ok(await orders.post("/api/v1/users", json=body, headers=owner), 201), "email": email}
    b1_account, b2_account = await register("buyer", "Buyer One"), await register("buyer", "Buyer Two")
    stranger_account = await register("supplier", "Supplier Z")

    buyers: dict[str, str] = {}
    for key, account, manager in (
        ("b1", b1_account, supplier["user_id"]),
        ("b2", b2_account, staff["restricted"]["user_id"]),
    ):
        body = {
            "name": account["email"],
            "inn": "7707654321",
            "buyer_account_id": account["account_id"],
            "manager_user_ids": [manager],
        }
        buyers[key] = (await _ok(await orders.post("/api/v1/buyers", json=body, headers=owner), 201))["buyer_id"]

    warehouse = await _ok(
        await inventory.post("/api/v1/warehouses", json={"code": "MAIN", "name": "Main"}, headers=owner), 201
    )
    wid = warehouse["warehouse_id"]
    products = {"items": [{"sku": "A-1", "name": "Bolt", "unit": "pcs"}, {"sku": "B-2", "name": "Nut", "unit": "pcs"}]}
    await _ok(await inventory.post("/api/v1/products", json=products, headers=owner))
    stock = {
        "items": [
            {"warehouse_id": wid, "sku": "A-1", "on_hand": "1000"},
            {"warehouse_id": wid, "sku": "B-2", "on_hand": "1000"},
        ]
    }
    await _ok(await inventory.put("/api/v1/stock", json=stock, headers=owner))
    price_list_body = {
        "name": "Wholesale",
        "warehouse_ids": [wid],
        "items": [
            {"sku": "A-1", "price": "10.50", "vat_rate": "20"},
            {"sku": "B-2", "price": "2", "vat_rate": "20"},
        ],
        "buyer_ids": [buyers["b1"], buyers["b2"]],
    }

    async def price_list_created() -> dict[str, Any]:  # once the products have reached orders (product.updated)
        return await _ok(await orders.post("/api/v1/price-lists", json=price_list_body, headers=owner), 201)

    price_list = await eventually(price_list_created, timeout=120, interval=0.3)
    plid = price_list["price_list_id"]
    spare_body = {**price_list_body, "name": "Retail"}
    spare = await _ok(await orders.post("/api/v1/price-lists", json=spare_body, headers=owner), 201)
    await _ok(await orders.post(f"/api/v1/price-lists/{spare['price_list_id']}/link", headers=owner))

    await sign_in("restricted", staff["restricted"]["email"])
    await sign_in("reader", staff["reader"]["email"])
    await sign_in("buyer", b1_account["email"])
    await sign_in("other_buyer", b2_account["email"])
    await sign_in("stranger", stranger_account["email"])
    s.headers["anonymous"] = {}
    a_owner = Principal(uuid.UUID(supplier["user_id"]), uuid.UUID(supplier["account_id"]), "supplier", is_owner=True)
    s.headers["expired"] = bearer(issue_token(keys[0].read_bytes(), a_owner, ttl=timedelta(seconds=-60)))
    other_keys = generate_keypair(keys[0].parent / "other-key")
    s.headers["forged"] = bearer(issue_token(other_keys[0].read_bytes(), a_owner))

    # B1's order, confirmed: reserves in inventory, exportable in the bridge, counted by analytics.
    order_body = {"price_list_id": plid, "lines": [{"sku": "A-1", "warehouse_id": wid, "quantity": "3"}]}
    order = await _ok(await orders.post("/api/v1/orders", json=order_body, headers=s.headers["buyer"]), 201)
    oid = order["order_id"]
    r = await orders.post(
        f"/api/v1/orders/{oid}/transitions",
        json={"to": "confirmed"},
        headers={**owner, "If-Match": f'"{order["version"]}"'},
    )
    order = await _ok(r)
    document = await _ok(
        await orders.post(f"/api/v1/orders/{oid}/documents", files={"file": ("spec.txt", b"hello")}, headers=owner),
        201,
    )
    link = await _ok(await orders.post(f"/api/v1/price-lists/{plid}/link", headers=owner))
    incoming = await _ok(
        await inventory.post(
            "/api/v1/incoming", json={"items": [{"warehouse_id": wid, "sku": "B-2", "quantity": "5"}]}, headers=owner
        ),
        201,
    )
    erp = s.clients["erp-bridge"]
    erp_login, stranger_erp_login = unique("erp"), unique("erp-z")
    for login, headers in ((erp_login, owner), (stranger_erp_login, s.headers["stranger"])):
        body = {"login": login, "password": ERP_PASSWORD}
        await _ok(await erp.put("/api/v1/erp/connection", json=body, headers=headers))

    s.ids = {
        "order_id": oid,
        "line_id": order["lines"][0]["line_id"],
        "buyer_id": buyers["b1"],
        "user_id": staff["reader"]["user_id"],
        "price_list_id": plid,
        "spare_price_list_id": spare["price_list_id"],
        "warehouse_id": wid,
        "document_id": document["document_id"],
        "token": link["link_token"],
        "incoming_id": incoming["items"][0]["incoming_id"],
    }
    s.data = {
        "price_list_body": price_list_body,
        "b1_account": b1_account,
        "erp_login": erp_login,
        "stranger_erp_login": stranger_erp_login,
    }

    async def replicated() -> None:
        await s.renew()
        owner = s.headers["owner"]
        r = await inventory.get(f"/api/v1/orders/{oid}/reserves", headers=owner)
        assert r.status_code == 200, r.text
        r = await erp.get("/api/v1/erp/orders", params={"pending": "false"}, headers=owner)
        assert r.status_code == 200 and r.json()["total"] == 1, r.text
        r = await s.clients["analytics"].get("/api/v1/summary/details", params=period(), headers=owner)
        assert r.status_code == 200 and r.json()["total"] >= 1, r.text
        # The e-mail templates are missing: the e-mail fails for good (the owner may retry it).
        r = await s.clients["notifications"].get("/api/v1/emails", headers=owner)
        assert r.status_code == 200 and any(i["status"] == "failed" for i in r.json()["items"]), r.text
        # B1 is told of its order in the notification centre.
        r = await s.clients["notifications"].get("/api/v1/notifications", headers=s.headers["buyer"])
        assert r.status_code == 200 and r.json()["total"] >= 1, r.text

    await eventually(replicated, timeout=120, interval=0.3)
    owner = s.headers["owner"]
    r = await s.clients["notifications"].get("/api/v1/emails", headers=owner)
    s.ids["email_id"] = next(i["email_id"] for i in r.json()["items"] if i["status"] == "failed")
    r = await s.clients["notifications"].get("/api/v1/notifications", headers=s.headers["buyer"])
    s.ids["notification_id"] = r.json()["items"][0]["notification_id"]
    r = await s.clients["analytics"].post("/api/v1/admin/rebuild", params={"wait": "true"}, headers=owner)
    s.ids["rebuild_id"] = (await _ok(r))["rebuild_id"]
