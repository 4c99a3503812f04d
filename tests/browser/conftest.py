"""The browser suite: Debian's Chromium driven by Playwright over the real local stack (console included).

One stack per session (SQLite, a real broker, the six services as processes), one supplier with a warehouse,
products, stock, a price list and its link, and one buyer company; each scenario opens its own browser context
in the locale it is run in. Every screen a scenario visits is scanned with axe-core (no serious or critical
violations) and photographed under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack.stack import LocalStack
from oms_devstack.story import Actor, Story, _create_price_list, _register_buyer, _sign_up

pytest.importorskip("playwright", reason="the browser suite needs playwright (requirements-dev.txt)")

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = os.environ.get("OMS_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("OMS_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
LOCALES = ("ru", "en")
# Conditions are waited for up to this long (events travel through Kafka between the services).
WAIT_S = 30.0

pytestmark = pytest.mark.browser


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last seen: {last!r})")


# -- the browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium by its path; playwright never downloads a browser. CI without it fails."""
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ],
    }


# -- the stack and its people -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    env["OMS_CONSOLE_DEBUG_HEADERS"] = "true"
    # Every scenario signs its people in afresh, all from 127.0.0.1: the sign-in throttle (proven in
    # tests/integration/orders/test_sessions.py) would refuse the later scenarios of a whole run.
    env["OMS_ORDERS_SIGNIN_PER_LOGIN_BURST"] = "1000"
    env["OMS_ORDERS_SIGNIN_PER_IP_BURST"] = "1000"
    local = LocalStack.on_free_ports(tmp_path_factory.mktemp("browser") / "var", env=env)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@dataclass
class World:
    """What the session fixture set up through the APIs; scenarios add their own orders."""

    story: Story
    supplier: Actor
    buyer: Actor
    warehouse_id: str
    price_list_id: str
    link_token: str
    console: str
    orders_placed: list[str] = field(default_factory=list)

    def place_order(self, quantity: str = "2", comment: str = "") -> dict[str, Any]:
        """The buyer places an order through the orders API (for scenarios that start after placing)."""
        order: dict[str, Any] = self.story.call(
            "POST",
            "orders",
            "/api/v1/orders",
            actor=self.buyer,
            json={
                "price_list_id": self.price_list_id,
                "lines": [{"sku": "BOLT-M8", "warehouse_id": self.warehouse_id, "quantity": quantity}],
                "comment": comment,
                "one_shipment": False,
            },
            expect=201,
        ).json()
        self.orders_placed.append(order["order_id"])
        return order

    def transition(self, order_id: str, to: str, comment: str = "") -> dict[str, Any]:
        seen = self.story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=self.supplier)
        answer: dict[str, Any] = self.story.call(
            "POST",
            "orders",
            f"/api/v1/orders/{order_id}/transitions",
            actor=self.supplier,
            headers={"If-Match": seen.headers["etag"]},
            json={"to": to, "comment": comment},
        ).json()
        return answer

    def unread(self, actor: Actor) -> dict[str, Any]:
        """The notifications service's own counts for ``actor``."""
        body: dict[str, Any] = self.story.call(
            "GET", "notifications", "/api/v1/notifications", actor=actor, params={"limit": 1}
        ).json()
        return body

    def notified(self, actor: Actor, order_id: str, kind: str) -> bool:
        body = self.story.call(
            "GET", "notifications", "/api/v1/notifications", actor=actor, params={"order_id": order_id, "limit": 50}
        ).json()
        return any(n["kind"] == kind for n in body["items"])


@pytest.fixture(scope="session")
def world(stack: LocalStack) -> Iterator[World]:
    client = httpx.Client(timeout=30, trust_env=False)
    story = Story(stack.urls, client, say=lambda _text: None)
    supplier = _sign_up(story, "supplier", "ООО «Крепёж-Снаб»", "Анна Петрова")
    buyer = _sign_up(story, "buyer", "ООО «Стройка»", "Борис Иванов")
    wh = story.call(
        "POST", "inventory", "/api/v1/warehouses", actor=supplier, json={"code": "MSK", "name": "Москва"}, expect=201
    ).json()["warehouse_id"]
    story.call(
        "POST",
        "inventory",
        "/api/v1/products",
        actor=supplier,
        json={
            "items": [
                {"sku": "BOLT-M8", "name": "Болт М8×40", "unit": "шт"},
                {"sku": "NUT-M8", "name": "Гайка М8", "unit": "шт"},
            ]
        },
    )
    story.call(
        "PUT",
        "inventory",
        "/api/v1/stock",
        actor=supplier,
        json={
            "items": [
                {"warehouse_id": wh, "sku": "BOLT-M8", "on_hand": "100000"},
                {"warehouse_id": wh, "sku": "NUT-M8", "on_hand": "100000"},
            ]
        },
    )
    buyer_rec = _register_buyer(story, supplier, buyer, "ООО «Стройка»", "7700000001", "770001001")
    price_list = _create_price_list(
        story,
        supplier,
        {
            "name": "Крепёж опт",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [
                {"sku": "BOLT-M8", "price": "12.50", "vat_rate": "20"},
                {"sku": "NUT-M8", "price": "3.20", "vat_rate": "20"},
            ],
            "buyer_ids": [buyer_rec["buyer_id"]],
        },
    )
    pl = price_list["price_list_id"]
    link = story.call("POST", "orders", f"/api/v1/price-lists/{pl}/link", actor=supplier).json()
    token = str(link["link_token"])

    def available() -> bool:
        answer = story.call(
            "GET", "inventory", f"/api/v1/price-lists/{pl}/availability", actor=supplier, expect=(200, 404)
        )
        return answer.status_code == 200 and bool(answer.json()["items"])

    story.wait_for("the price list to reach inventory", available)
    try:
        yield World(story, supplier, buyer, wh, pl, token, stack.url("console"))
    finally:
        client.close()


# -- a browser tab in a locale, with axe and screenshots ---------------------------------------------


@dataclass
class Ui:
    """One user's browser context in one locale."""

    context: BrowserContext
    page: Page
    console: str
    locale: str
    scenario: str
    shots: list[Path] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.console + path

    def go(self, path: str) -> Page:
        self.page.goto(self.url(path))
        self.page.wait_for_load_state("load")
        return self.page

    def sign_in(self, actor: Actor, path: str = "/") -> None:
        """Through the sign-in form, as a person would."""
        self.go(f"/login?next={path}")
        self.page.fill("#f-email", actor.email)
        self.page.fill("#f-password", actor.password)
        self.page.locator("form[action='/login'] button[type=submit]").click()
        self.page.wait_for_load_state("load")
        assert "/login" not in self.page.url, f"sign-in failed: {self.page.content()[:2000]}"

    def screen(self, name: str) -> None:
        """The screen as it is now: axe finds no serious or critical violation; a screenshot is kept."""
        expect(self.page.locator("html")).to_have_attribute("lang", self.locale)
        results = Axe().run(self.page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / f"{self.scenario}-{name}-{self.locale}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        self.shots.append(shot)
        assert not bad, f"{name} ({self.locale}, {self.page.url}): " + "; ".join(
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in bad
        )

    def badge(self) -> int:
        """The unread count in the header (0 when the badge shows none)."""
        badge = self.page.locator("#inbox-badge .badge")
        return int(badge.inner_text().strip()) if badge.count() else 0

    def inbox_unread(self) -> int:
        """The inbox's own count of unread notifications (its summary line)."""
        text = self.page.locator("#inbox-summary").inner_text()
        found = re.match(r"\s*(\d+)", text)
        assert found is not None, text
        return int(found.group(1))


@pytest.fixture(params=LOCALES)
def locale(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_ui(browser: Browser, world: World, locale: str, request: pytest.FixtureRequest) -> Iterator[Callable[[], Ui]]:
    """Open a new browser context (a new person) in the scenario's locale: ``ui = open_ui()``."""
    opened: list[BrowserContext] = []
    scenario = re.sub(r"\W+", "-", request.node.originalname.removeprefix("test_"))[:40]

    def open_one() -> Ui:
        context = browser.new_context(
            locale="ru-RU" if locale == "ru" else "en-US", viewport={"width": 1280, "height": 900}
        )
        context.add_cookies([{"name": "oms_locale", "value": locale, "url": world.console}])
        context.set_default_timeout(WAIT_S * 1000)
        opened.append(context)
        return Ui(context, context.new_page(), world.console, locale, scenario)

    yield open_one
    for context in opened:
        context.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
