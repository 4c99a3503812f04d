"""JSON logs with a correlation id carried through HTTP and Kafka headers."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

CORRELATION_HEADER = "X-Correlation-ID"
_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("oms_correlation_id", default="")


def current_correlation_id() -> str:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> contextvars.Token[str]:
    """Set the correlation id for this task (a new one when ``value`` is empty)."""
    return _correlation_id.set(value or uuid.uuid4().hex)


def reset_correlation_id(token: contextvars.Token[str]) -> None:
    _correlation_id.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, service, correlation id, extras."""

    _RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
        }
        cid = _correlation_id.get()
        if cid:
            data["correlation_id"] = cid
        for key, value in record.__dict__.items():
            if key not in self._RESERVED and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO", json_output: bool = True) -> None:
    """Route the root logger to stderr, as JSON unless told otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if json_output:
        handler.setFormatter(JsonFormatter(service))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "aiosqlite", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
