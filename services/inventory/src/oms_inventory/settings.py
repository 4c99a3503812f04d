"""Settings of the Inventory service (environment prefix ``OMS_INVENTORY_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_INVENTORY_", extra="ignore")

    service_name: str = "inventory"
    http_port: int = 8102
    reconcile_interval_s: float = 30.0
    # An ERP stock snapshot in parts whose parts did not all arrive within this is forgotten (nothing zeroed).
    erp_snapshot_ttl_s: float = 24 * 3600.0
