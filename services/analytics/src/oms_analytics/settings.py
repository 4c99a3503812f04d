"""Settings of the Analytics service (environment prefix ``OMS_ANALYTICS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ANALYTICS_", extra="ignore")

    service_name: str = "analytics"
    http_port: int = 8105
