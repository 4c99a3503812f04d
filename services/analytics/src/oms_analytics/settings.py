"""Settings of the Analytics service (environment prefix ``OMS_ANALYTICS_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ANALYTICS_", extra="ignore")

    service_name: str = "analytics"
    http_port: int = 8105
    # Rebuild: events applied per transaction, and how long the topics must stay quiet before the replay ends.
    rebuild_batch_size: int = 1000
    rebuild_idle_s: float = 1.5
