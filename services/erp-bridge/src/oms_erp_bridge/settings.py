"""Settings of the ERP bridge service (environment prefix ``OMS_ERP_BRIDGE_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ERP_BRIDGE_", extra="ignore")

    service_name: str = "erp-bridge"
    http_port: int = 8104
