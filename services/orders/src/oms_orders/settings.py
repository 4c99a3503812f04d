"""Settings of the Orders service (environment prefix ``OMS_ORDERS_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings, var_dir


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_ORDERS_", extra="ignore")

    service_name: str = "orders"
    http_port: int = 8101
    jwt_private_key_file: str = Field(default_factory=lambda: str(var_dir() / "keys" / "jwt-private.pem"))
    # Public keys of earlier private keys (comma-separated PEM files): published in the JWKS and still
    # accepted, so tokens signed before a key rotation stay valid until they expire.
    jwt_previous_public_key_files: str = ""
    # Access tokens live at most a minute: a disabled user, a changed access level or password takes
    # effect in every service within that time. A session (its refresh token) renews them this long.
    token_ttl_s: int = Field(default=60, ge=1, le=60)
    session_ttl_s: int = 12 * 3600
    # A password reset link works once, for this long.
    password_reset_ttl_s: int = 3600
    # A buyer invitation link works once, for this long.
    invitation_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    # A buyer account registering with the INN (and KPP) of a supplier's buyer record without an account is
    # linked to it. INNs are public: switch off where a supplier prefers to link only through invitations.
    link_buyers_by_inn: bool = True
    # Sign-in attempts (and password changes and reset requests), per replica: a burst, then so many a minute.
    signin_per_login_burst: int = 10
    signin_per_login_per_minute: float = 5.0
    signin_per_ip_burst: int = 50
    signin_per_ip_per_minute: float = 30.0
    # Order documents: "filesystem" keeps them under files_dir (the local stack, one machine); "s3" keeps them
    # in a bucket of an S3-compatible store (AWS S3, MinIO, ...) that every replica shares.
    document_store: Literal["filesystem", "s3"] = "filesystem"
    files_dir: str = Field(default_factory=lambda: str(var_dir() / "files"))
    s3_endpoint_url: str = ""  # empty: AWS S3 itself
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    # Empty: the client's own chain (AWS_* variables, an instance or pod role).
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    max_file_bytes: int = 10 * 1024 * 1024
    max_import_rows: int = 5000
    max_import_bytes: int = 5 * 1024 * 1024
    overdue_scan_interval_s: float = 60.0
    # A price list of up to 20,000 items comes as one JSON body (POST/PUT /price-lists): larger than the default.
    max_price_list_body_bytes: int = 16 * 1024 * 1024
    # On PostgreSQL each replica takes a supplier's order numbers this many at a time (ADR 015): a larger block
    # waits less on the counter, a smaller one skips fewer numbers when a replica stops.
    order_number_block: int = Field(default=10, ge=1, le=1000)
    list_count_cap: int = 10_000  # the order list's `total` counts at most this many (then "10,000+")

    @model_validator(mode="after")
    def _document_store_complete(self) -> Settings:
        if self.document_store == "s3" and not self.s3_bucket:
            raise ValueError("OMS_ORDERS_DOCUMENT_STORE=s3 needs OMS_ORDERS_S3_BUCKET")
        return self
