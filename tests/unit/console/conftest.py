"""View tests of the console: a TestClient of the real app, the five services answered by respx."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from oms_console.app import create_app
from oms_console.auth import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from oms_console.settings import Settings
from tests.support.services import WAIT_SCALE
from tests.unit.console.builders import names_answers

CONSOLE = "http://console.test"
URLS = {
    "orders": "http://orders.test",
    "inventory": "http://inventory.test",
    "notifications": "http://notifications.test",
    "erp-bridge": "http://erp-bridge.test",
    "analytics": "http://analytics.test",
}


def a_token(expires_in: float = 60.0, **claims: Any) -> str:
    """An access token as the console sees it: only its ``exp`` is read (the services verify signatures)."""
    payload = {"exp": int(time.time() + expires_in), "sub": "u-1", **claims}
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJFUzI1NiJ9.{body}.signature"


def a_me(
    kind: str = "supplier", *, name: str = "Анна Петрова", locale: str | None = "ru", **user: Any
) -> dict[str, Any]:
    return {
        "user": {
            "user_id": "u-1",
            "email": "anna@example.com",
            "name": name,
            "locale": locale,
            "is_owner": kind == "supplier",
            "active": True,
            "access_buyers": "full",
            "access_orders": "full",
            "manage_users": kind == "supplier",
            **user,
        },
        "account": {"account_id": "acc-1", "kind": kind, "name": "ООО Ромашка" if kind == "supplier" else "ИП Смирнов"},
        "access": {"buyers": "full", "orders": "full"},
    }


class ServiceRoutes:
    """Routes of one service on the shared respx router: ``services.orders.get("/api/v1/orders")``."""

    def __init__(self, router: respx.MockRouter, base_url: str) -> None:
        self.router = router
        self.base_url = base_url

    def route(self, method: str, path: str, **kwargs: Any) -> respx.Route:
        return self.router.route(method=method, url=self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> respx.Route:
        return self.route("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> respx.Route:
        return self.route("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> respx.Route:
        return self.route("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> respx.Route:
        return self.route("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> respx.Route:
        return self.route("DELETE", path, **kwargs)


class Services:
    def __init__(self, router: respx.MockRouter) -> None:
        self.router = router
        self.orders = ServiceRoutes(router, URLS["orders"])
        self.inventory = ServiceRoutes(router, URLS["inventory"])
        self.notifications = ServiceRoutes(router, URLS["notifications"])
        self.erp_bridge = ServiceRoutes(router, URLS["erp-bridge"])
        self.analytics = ServiceRoutes(router, URLS["analytics"])


def me_answers_after(console: Console, data_route: respx.Route) -> list[str]:
    """Orders' ``/me`` answers only once the console has asked for ``data_route`` (its answer set): a page that
    asks for its data together with the user gets both at once; one that waits for the user first waits 5 s in
    vain. Returns the paths in the order asked for (and the vain wait, if any)."""
    asked: list[str] = []
    seen: dict[str, asyncio.Event] = {}

    def event() -> asyncio.Event:
        return seen.setdefault("event", asyncio.Event())  # made in the app's event loop

    async def me(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        try:
            await asyncio.wait_for(event().wait(), 5 * WAIT_SCALE)
        except TimeoutError:
            asked.append("(waited for it in vain)")
        return httpx.Response(200, json=a_me("supplier"))

    answer = data_route.return_value

    def data(request: httpx.Request) -> httpx.Response | None:
        asked.append(request.url.path)
        event().set()
        return answer

    console.services.orders.get("/api/v1/me").mock(side_effect=me)
    data_route.side_effect = data
    return asked


class Console:
    """The browser: a TestClient that keeps cookies; ``post`` sends the page's CSRF token and Origin."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.client = client
        self.services = services

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", False)
        return self.client.get(path, **kwargs)

    def htmx_get(self, path: str, current: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"HX-Request": "true", **({"HX-Current-URL": CONSOLE + current} if current else {})}
        return self.get(path, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)

    def csrf(self) -> str:
        if not self.client.cookies.get(CSRF_COOKIE):
            self.client.get("/login")
        return str(self.client.cookies.get(CSRF_COOKIE))

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        kwargs.setdefault("follow_redirects", False)
        headers = {"Origin": CONSOLE, **kwargs.pop("headers", {})}
        form = {"csrf_token": self.csrf(), **(data or {})}
        return self.client.post(path, data=form, headers=headers, **kwargs)

    def signed_in_as(self, me: dict[str, Any], *, unread: int = 0, access: str | None = None) -> Console:
        """Session cookies as after sign-in; orders' ``/me``, the badge and the names (buyers, price lists, people)
        answering for this user."""
        self.services.orders.get("/api/v1/me").respond(200, json=me)
        self.services.notifications.get("/api/v1/notifications/unread").respond(
            200, json={"unread": unread, "unread_orders": 0, "orders": []}
        )
        names_answers(self.services)
        self.client.cookies.set(ACCESS_COOKIE, access or a_token(), domain="console.test", path="/")
        self.client.cookies.set(REFRESH_COOKIE, "session-1.secret", domain="console.test", path="/")
        return self

    def signed_in_as_staff(self, **kwargs: Any) -> Console:
        return self.signed_in_as(a_me("supplier"), **kwargs)

    def signed_in_as_buyer(self, **kwargs: Any) -> Console:
        return self.signed_in_as(a_me("buyer", name="Иван Смирнов"), **kwargs)


@pytest.fixture
def services() -> Iterator[Services]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield Services(router)


@pytest.fixture
def console_settings() -> Settings:
    return Settings(
        public_url=CONSOLE,
        orders_url=URLS["orders"],
        inventory_url=URLS["inventory"],
        notifications_url=URLS["notifications"],
        erp_bridge_url=URLS["erp-bridge"],
        analytics_url=URLS["analytics"],
        debug_headers=True,
        log_json=False,
    )


@pytest.fixture
def console(services: Services, console_settings: Settings) -> Iterator[Console]:
    with TestClient(create_app(console_settings), base_url=CONSOLE, raise_server_exceptions=False) as client:
        yield Console(client, services)
