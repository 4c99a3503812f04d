"""Settings of the Notifications service (environment prefix ``OMS_NOTIFICATIONS_``)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from oms_shared.settings import ServiceSettings

DEFAULT_CONSOLE_URL = "http://127.0.0.1:8100"  # the console of the local stack


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_NOTIFICATIONS_", extra="ignore", validate_by_name=True)

    service_name: str = "notifications"
    http_port: int = 8103

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_s: float = 10.0
    mail_from: str = "OMS <noreply@oms.local>"
    # The web console's public address: every link of an e-mail opens one of its pages (/orders/{id}, /reset,
    # /invitation, /settings/notifications). Read from OMS_CONSOLE_PUBLIC_URL (the console's own setting name);
    # OMS_NOTIFICATIONS_PUBLIC_BASE_URL, the former name, is used when that is not set.
    console_public_url: str = Field(default="", validation_alias=AliasChoices("OMS_CONSOLE_PUBLIC_URL"))
    public_base_url: str = DEFAULT_CONSOLE_URL

    @field_validator("console_public_url", "public_base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value:
            parsed = urlsplit(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.query or parsed.fragment:
                raise ValueError(f"the console's public URL must be an absolute http(s) URL, not {value!r}")
        return value

    @property
    def links_base_url(self) -> str:
        """Where the links of e-mails point: the console's public URL."""
        return self.console_public_url or self.public_base_url or DEFAULT_CONSOLE_URL

    # R-NT-4: an e-mail is retried until it is sent (a server that is down or answers 4xx never fails it; only a
    # recipient refused with 5xx does), after base, 2·base, 4·base, ... seconds, at most email_retry_max_s apart:
    # mail held up by an outage arrives at most that long after the server is back.
    email_retry_base_s: float = 2.0
    email_retry_max_s: float = 600.0
    email_poll_interval_s: float = 0.5
    # E-mails per claim (one SMTP session); small, so a slow server holds few and replicas share the queue.
    email_batch_size: int = 10
    email_linger_s: float = 0.05
    # What one action causes (a move's event per part, an edit's line changes and its status) reaches a person as
    # one e-mail: an order's e-mail waits this long for more of the same order and its parts to the same recipient,
    # then the mailer sends them together. 0 sends each at once.
    email_coalesce_window_s: float = 5.0
    # An SMTP session is kept open while e-mails keep coming and closed after this much idle time.
    smtp_idle_close_s: float = 2.0
    # A claimed e-mail whose sender died is picked up again after this lease. The sender renews it before each
    # message, so it must outlive one message: several SMTP commands of smtp_timeout_s each (keep it >= 6x).
    email_claim_lease_s: float = 120.0
    # Empty: the templates shipped with the package; a directory overrides them (same layout).
    templates_dir: str = ""
