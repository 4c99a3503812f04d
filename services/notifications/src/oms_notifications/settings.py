"""Settings of the Notifications service (environment prefix ``OMS_NOTIFICATIONS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_NOTIFICATIONS_", extra="ignore")

    service_name: str = "notifications"
    http_port: int = 8103
