"""Errors with a machine-readable code that the HTTP layer and consumers understand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class OmsError(Exception):
    """Base: a clear, machine-readable refusal. ``status`` is the HTTP status to answer with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class NotFound(OmsError):
    status = 404
    code = "not_found"


class Forbidden(OmsError):
    status = 403
    code = "forbidden"


class Unauthorized(OmsError):
    status = 401
    code = "unauthorized"


class Conflict(OmsError):
    status = 409
    code = "conflict"


class PreconditionFailed(OmsError):
    status = 412
    code = "precondition_failed"


class Invalid(OmsError):
    status = 422
    code = "invalid"


class Unavailable(OmsError):
    """Something the request needs (a store, another system) does not answer now; trying later may work."""

    status = 503
    code = "unavailable"


class PermanentError(Exception):
    """Raised by an event handler when retrying cannot help: the message goes to the DLQ at once."""


class NotYet(Exception):
    """Raised by an event handler when a fact the event depends on has not arrived yet (an event of another
    topic, which Kafka does not order against this one). The consumer parks the event and feeds it to the
    handler again later, with backoff, until ``consumer_park_deadline_s``; then it is dead-lettered."""


@dataclass(frozen=True)
class RowError:
    """Why one row of an upload (CSV, .xlsx, JSON rows) was refused: the whole upload applies nothing."""

    row: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "code": self.code, "message": self.message}
