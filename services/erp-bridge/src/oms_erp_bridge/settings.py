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
    # An idle exchange session is forgotten after this long (1C starts a new one with checkauth); its directory is
    # deleted by the sweep that runs every session_sweep_interval_s.
    session_ttl_s: int = 3600
    # 1C `checkauth` attempts, per replica: a burst, then so many a minute, per client address and per login
    # (429 with Retry-After beyond that). 1C logs in once per exchange, usually every few minutes.
    checkauth_per_login_burst: int = 10
    checkauth_per_login_per_minute: float = 10.0
    checkauth_per_ip_burst: int = 30
    checkauth_per_ip_per_minute: float = 30.0
    session_sweep_interval_s: float = 300.0
    # zip=yes (a connection setting): an archive from 1C may hold at most this many files, none compressed more than
    # zip_max_ratio times; each file unpacked is at most max_file_bytes, all of them at most max_session_bytes.
    zip_max_entries: int = Field(default=1000, ge=1)
    zip_max_ratio: int = Field(default=200, ge=1)
    # The ERP JSON API checks the exchange login's password (scrypt) once, then trusts the same login and password
    # for this long while the stored hash is unchanged (a new password in the connection ends it at once).
    api_auth_cache_s: float = Field(default=300, ge=0)
    # Wrong passwords for one exchange login on the ERP API: after this many within the window, 429 until the
    # oldest leaves the window (per process; 0 switches the throttle off).
    api_auth_max_failures: int = Field(default=10, ge=0)
    api_auth_failure_window_s: float = Field(default=300, gt=0)
