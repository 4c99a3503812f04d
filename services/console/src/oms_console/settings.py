"""Settings of the web console (environment prefix ``OMS_CONSOLE_``).

The services' base URLs fall back to the ``OMS_<SERVICE>_BASE_URL`` variables the local stack sets for every
process, then to the default local ports.
"""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _base_url(service: str, port: int) -> str:
    return os.environ.get(f"OMS_{service}_BASE_URL", f"http://127.0.0.1:{port}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_CONSOLE_", extra="ignore")

    service_name: str = "console"
    http_host: str = "127.0.0.1"
    http_port: int = 8100
    # Where browsers reach the console (links in e-mails, the Origin every write must come from).
    public_url: str = ""
    orders_url: str = Field(default_factory=lambda: _base_url("ORDERS", 8101))
    inventory_url: str = Field(default_factory=lambda: _base_url("INVENTORY", 8102))
    notifications_url: str = Field(default_factory=lambda: _base_url("NOTIFICATIONS", 8103))
    erp_bridge_url: str = Field(default_factory=lambda: _base_url("ERP_BRIDGE", 8104))
    analytics_url: str = Field(default_factory=lambda: _base_url("ANALYTICS", 8105))
    # Session cookies carry Secure when the console is served over HTTPS (production).
    cookie_secure: bool = False
    # How long one service call may take before the page says the service does not answer.
    service_timeout_s: float = 15.0
    # Largest form the console accepts.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # Documents attached to an order pass through the console (the orders service keeps its own limit).
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # Rows an Excel export of a list fetches at most (pages of the list API).
    export_max_rows: int = Field(default=10_000, ge=1)
    # Signs the buyer's cart cookie; empty: a key per process (carts last until a restart). Set it (the same
    # on every instance) when several consoles serve one address.
    cart_secret: str = Field(default="", repr=False)
    # Answers carry X-OMS-Service-Calls (service calls made for the request), for the benchmark.
    debug_headers: bool = False
    # Times are shown in this zone (the services keep UTC).
    timezone: str = "Europe/Moscow"
    log_level: str = Field(default_factory=lambda: os.environ.get("OMS_LOG_LEVEL", "INFO"))
    log_json: bool = True

    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    def service_urls(self) -> dict[str, str]:
        return {
            "orders": self.orders_url.rstrip("/"),
            "inventory": self.inventory_url.rstrip("/"),
            "notifications": self.notifications_url.rstrip("/"),
            "erp-bridge": self.erp_bridge_url.rstrip("/"),
            "analytics": self.analytics_url.rstrip("/"),
        }
