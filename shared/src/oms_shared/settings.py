"""Settings every service shares; each service subclasses with env prefix ``OMS_<SERVICE>_``.

Cross-service values (the Kafka bootstrap, the token public key, the var dir) are read from
unprefixed ``OMS_*`` variables as a fallback so one environment drives the whole stack.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def var_dir() -> Path:
    """Where local state lives (databases, keys, mail, files): ``OMS_VAR_DIR`` or ``./var``."""
    return Path(_env("OMS_VAR_DIR", "var")).resolve()


class KafkaSettings(BaseSettings):
    """The cluster every service talks to and how its topics are laid out (``OMS_KAFKA_*``)."""

    model_config = SettingsConfigDict(env_prefix="OMS_KAFKA_", extra="ignore")

    bootstrap: str = "127.0.0.1:9092"
    # Consumers of one group share a topic's partitions: a group never has more busy members than this.
    topic_partitions: int = Field(default=3, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # How the clients connect: PLAINTEXT (the default), SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS).
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    # SASL_* only: the mechanism and the credentials (all three required).
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # SSL / SASL_SSL only: the CA that signed the brokers' certificates (the system's CAs when unset), and the
    # client certificate and its key for brokers that ask for one (mutual TLS).
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @field_validator(
        "sasl_mechanism", "sasl_username", "sasl_password", "ssl_cafile", "ssl_certfile", "ssl_keyfile", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An empty variable (a ConfigMap key left blank) means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        protocol = self.security_protocol
        sasl = protocol.startswith("SASL_")
        tls = protocol.endswith("SSL")
        if sasl:
            missing = [
                f"OMS_KAFKA_{name.upper()}"
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if not getattr(self, name) or (name == "sasl_password" and not self._password())
            ]
            if missing:
                raise ValueError(f"OMS_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}")
        else:
            given = [
                f"OMS_KAFKA_{name.upper()}"
                for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} set but OMS_KAFKA_SECURITY_PROTOCOL={protocol}: "
                    "SASL needs SASL_PLAINTEXT or SASL_SSL"
                )
        files = {
            f"OMS_KAFKA_{name.upper()}": getattr(self, name) for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
        }
        given_files = [name for name, path in files.items() if path is not None]
        if given_files and not tls:
            raise ValueError(
                f"{', '.join(given_files)} set but OMS_KAFKA_SECURITY_PROTOCOL={protocol}: TLS needs SSL or SASL_SSL"
            )
        for name, path in files.items():
            if path is not None and not path.is_file():
                raise ValueError(f"{name}={path}: no such file")
        if self.ssl_keyfile is not None and self.ssl_certfile is None:
            raise ValueError("OMS_KAFKA_SSL_KEYFILE set without OMS_KAFKA_SSL_CERTFILE (the client certificate)")
        return self

    def _password(self) -> str:
        return self.sasl_password.get_secret_value() if self.sasl_password is not None else ""


class ServiceSettings(BaseSettings):
    """Common settings; subclasses set ``service_name`` and ``model_config['env_prefix']``."""

    model_config = SettingsConfigDict(env_prefix="OMS_SERVICE_", extra="ignore")

    service_name: str = "service"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    database_url: str = ""
    kafka_bootstrap: str = Field(default_factory=lambda: _env("OMS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    kafka_enable_idempotence: bool = False
    # Topics a service creates at start (missing ones only): OMS_KAFKA_TOPIC_PARTITIONS, OMS_KAFKA_REPLICATION_FACTOR.
    kafka_topic_partitions: int = Field(default_factory=lambda: int(_env("OMS_KAFKA_TOPIC_PARTITIONS", "3")), ge=1)
    kafka_replication_factor: int = Field(default_factory=lambda: int(_env("OMS_KAFKA_REPLICATION_FACTOR", "1")), ge=1)
    # How often the consumer lag (oms_consumer_lag) is measured, off the message path.
    consumer_lag_interval_s: float = Field(default=15.0, gt=0)
    consumer_group: str = ""
    # A handler error that may happen again: tried this many times (backoff doubling from ...), then dead-lettered.
    consumer_max_attempts: int = 3
    consumer_retry_backoff_s: float = 0.2
    # A transient database error (unreachable, failover, serialization failure, deadlock, lock timeout, SQLite
    # busy): the event is tried again in place, first after this, doubling up to the cap, for as long as it lasts.
    consumer_transient_backoff_s: float = 0.5
    consumer_transient_backoff_max_s: float = 30.0
    # /ready asks the database with this timeout (not ready while it does not answer).
    ready_db_timeout_s: float = 2.0
    # Events whose handler said "not yet" (NotYet): first retry after this, doubling up to 60 s ...
    consumer_park_backoff_s: float = 0.5
    # ... and dead-lettered when still not applicable this long after they were parked.
    consumer_park_deadline_s: float = 900.0
    # Events applied per transaction: what one poll brings, up to this many (1: a transaction and an offset
    # commit per event). A failing event is still retried, parked or dead-lettered alone (oms_shared.consumer).
    # 20 measured 6-9x the events/s of 1; set 1 (OMS_<SERVICE>_CONSUMER_BATCH_SIZE=1) to opt out
    # (docs/adr/018-batched-consumption-and-relay-rounds.md).
    consumer_batch_size: int = Field(default=20, ge=1, le=1000)
    # An idle batch consumer polls this long, then sleeps as long: the most a first message waits extra.
    consumer_batch_wait_ms: int = Field(default=10, ge=1, le=1000)
    # A batch transaction takes no new event after this much handler time (row locks are held until commit).
    consumer_batch_max_s: float = Field(default=0.25, gt=0)
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    outbox_poll_interval_s: float = 0.5
    # The relay sends up to this many rows per round (awaiting their acks together) ...
    outbox_batch_size: int = Field(default=500, ge=1, le=10000)
    # ... and, when fewer are waiting, lingers this long after a commit so close commits go in one round.
    outbox_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    # Published rows are kept this long and sent again when the broker lost its log (a memory broker restarted;
    # consumers dedupe by event id); 0 deletes them at once (a durable Kafka cluster). docs/adr/019.
    outbox_keep_sent_s: float = Field(default=900.0, ge=0)
    # How often the broker's cluster id and topics are checked (a broker that lost its log); 0: never.
    kafka_watch_interval_s: float = Field(default=2.0, ge=0)
    jwt_public_key_file: str = Field(
        default_factory=lambda: _env("OMS_JWT_PUBLIC_KEY_FILE", str(var_dir() / "keys" / "jwt-public.pem"))
    )
    # Where the token issuer (orders) publishes its public keys; when set, it wins over the key file.
    jwks_url: str = Field(default_factory=lambda: _env("OMS_JWKS_URL", ""))
    # An unknown key id makes a service fetch the keys again, at most this often ...
    jwks_min_refresh_interval_s: float = 30.0
    # ... and it re-reads them this often anyway (a rotated-out key stops being accepted).
    jwks_refresh_interval_s: float = 300.0
    jwt_audience: str = "oms"
    jwt_issuer: str = "oms-orders"
    log_level: str = Field(default_factory=lambda: _env("OMS_LOG_LEVEL", "INFO"))
    log_json: bool = True
    start_consumers: bool = True
    # The largest request body a route takes unless the service declares more for it (uploads): 413 above.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # An Idempotency-Key claim whose request died before its effect committed may be taken over after this.
    idempotency_lease_s: float = Field(default=30.0, gt=0)
    # Retention: rows older than these are deleted in batches by a background loop every retention_interval_s.
    inbox_retention_s: float = Field(default=14 * 24 * 3600.0, gt=0)
    idempotency_retention_s: float = Field(default=24 * 3600.0, gt=0)
    retention_interval_s: float = Field(default=600.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1)

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file under the var dir named after the service."""
        if self.database_url:
            return self.database_url
        path = var_dir() / f"{self.service_name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{path}"

    def resolved_group(self) -> str:
        return self.consumer_group or f"oms-{self.service_name}"
