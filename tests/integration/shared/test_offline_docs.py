"""Every service's /docs works without internet: the page and its files come from the service itself."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

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
from oms_shared import docs

APPS: dict[str, tuple[Any, Any]] = {
    "orders": (orders_app, OrdersSettings),
    "inventory": (inventory_app, InventorySettings),
    "notifications": (notifications_app, NotificationsSettings),
    "erp-bridge": (erp_app, ErpSettings),
    "analytics": (analytics_app, AnalyticsSettings),
}


class References(HTMLParser):
    """Every URL the page loads or links to: src, href, and url(...) / "...url": in its inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.script = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data: str) -> None:
        self.script += data


def client_of(service: str, tmp_path: Path) -> httpx.AsyncClient:
    create, settings = APPS[service]
    app = create(settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test")


def sums() -> dict[str, str]:
    text = (docs.assets_dir() / "SHA256SUMS").read_text()
    return {name: digest for digest, name in (line.split() for line in text.splitlines() if line.strip())}


@pytest.mark.parametrize("service", sorted(APPS))
async def test_the_docs_page_loads_nothing_from_another_host(service: str, tmp_path: Path) -> None:
    """The /docs page of every service refers only to its own paths (no CDN, no validator badge), and every file it
    loads is served by the service with the right type and the SHA-256 recorded in SHA256SUMS."""
    async with client_of(service, tmp_path) as client:
        r = await client.get("/docs")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = References()
        page.feed(r.text)
        quoted = re.findall(r"""(?:url|Url)\s*:\s*['"]([^'"]+)['"]""", page.script)
        urls = page.urls + quoted
        assert urls, "the page loads its script and styles"
        assert not [u for u in urls if "//" in u], "nothing from another host"
        assert not re.search(r"https?://", r.text), "no absolute URL anywhere in the page"
        assert "/openapi.json" in quoted
        assert f"{docs.ASSETS_PATH}/swagger-ui-bundle.js" in urls and f"{docs.ASSETS_PATH}/swagger-ui.css" in urls

        recorded = sums()
        assert set(recorded) == set(docs.ASSETS)
        for url in [u for u in urls if u.startswith(docs.ASSETS_PATH)]:
            name = url.removeprefix(f"{docs.ASSETS_PATH}/")
            asset = await client.get(url)
            assert asset.status_code == 200, url
            assert asset.headers["content-type"] == docs.ASSETS[name]
            assert hashlib.sha256(asset.content).hexdigest() == recorded[name]
        r = await client.get(f"{docs.ASSETS_PATH}/..%2Fdocs.py")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await client.get("/redoc")).status_code == 404


def test_the_vendored_files_match_their_sums_and_name_their_source() -> None:
    """SHA256SUMS holds for the files as packaged; the README names the package, its exact version and licence."""
    for name, digest in sums().items():
        assert hashlib.sha256((docs.assets_dir() / name).read_bytes()).hexdigest() == digest
    readme = (docs.assets_dir() / "README.md").read_text()
    assert f"`swagger-ui-dist` (npm), version **{docs.SWAGGER_UI_VERSION}**" in readme
    assert "Apache-2.0" in readme and (docs.assets_dir() / "LICENSE").is_file()
