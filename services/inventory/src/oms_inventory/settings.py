"""Settings of the Inventory service (environment prefix ``OMS_INVENTORY_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_INVENTORY_", extra="ignore")

    service_name: str = "inventory"
    # The stock file upload (POST /stock/upload, a 10 MB file in a form) and the JSON row routes (PUT /stock,
    # POST /products: up to 10,000 rows) take larger bodies than the default max_body_bytes.
    max_upload_body_bytes: int = 10 * 1024 * 1024 + 64 * 1024
    max_rows_body_bytes: int = 8 * 1024 * 1024
    http_port: int = 8102
    reconcile_interval_s: float = 30.0
    # An ERP stock snapshot in parts whose parts did not all arrive within this is forgotten (nothing zeroed).
    erp_snapshot_ttl_s: float = 24 * 3600.0
