"""Settings of the ERP bridge service (environment prefix ``OMS_ERP_BRIDGE_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings, var_dir


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ERP_BRIDGE_", extra="ignore")

    service_name: str = "erp-bridge"
    http_port: int = 8104
    # Where the files of each exchange session are kept (one directory per session).
    files_dir: str = Field(default_factory=lambda: str(var_dir() / "erp-exchange"))
    # The largest piece 1C may send in one `mode=file` call (told in `mode=init`); bigger files come in pieces.
    file_limit_bytes: int = 8 * 1024 * 1024
    # The most one session may upload in all (a catalog with its pieces), and the largest file imported.
    max_session_bytes: int = 512 * 1024 * 1024
    max_file_bytes: int = 200 * 1024 * 1024
    # Retention of the exchange log (R-ERP-6: what an SRE or a manager reads) and of finished sessions' rows.
    exchange_log_retention_s: float = 90 * 24 * 3600.0
    exchange_session_retention_s: float = 7 * 24 * 3600.0
    # The JSON API's stock (up to 10,000 rows) and order changes take larger bodies than the default.
    max_api_body_bytes: int = 8 * 1024 * 1024
    # An import handles at most this many items per call and answers `progress` until done.
    import_batch: int = 2000
    # A full stock snapshot of a warehouse goes out in events (parts) of at most this many items: one event must
    # fit the producer's 5 MB request; inventory zeroes what the snapshot omits once every part has arrived.
    snapshot_part_items: int = Field(default=5000, ge=1)
    # An idle exchange session is forgotten after this long (1C starts a new one with checkauth).
    session_ttl_s: int = 3600
