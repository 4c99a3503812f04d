"""Settings of the Orders service (environment prefix ``OMS_ORDERS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ORDERS_", extra="ignore")

    service_name: str = "orders"
    http_port: int = 8101
