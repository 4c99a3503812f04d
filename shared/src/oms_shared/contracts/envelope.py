"""The event envelope every message on every topic carries, and the registry of event types."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oms_shared.quantity import Quantity as _Quantity

Money = Decimal
Quantity = _Quantity  # at most 3 decimal places (oms_shared.quantity): refused, never rounded


class ContractModel(BaseModel):
    """Base of every contract model: unknown fields are kept out, values are immutable."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(ContractModel):
    """Envelope fields; a subclass per event type and version adds a typed ``data``."""

    TOPIC: ClassVar[str]
    EVENT_TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique id; consumers dedupe on it.")
    event_type: str = Field(description="Dotted event name, also in the `event_type` Kafka header.")
    schema_version: int = Field(description="Version of this event type's schema.")
    occurred_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="When the change happened (UTC)."
    )
    tenant_id: uuid.UUID = Field(description="The supplier account (tenant) the event belongs to.")
    aggregate_id: str = Field(description="Id of the aggregate that changed (order id, warehouse:SKU, ...).")
    sequence: int = Field(default=0, ge=0, description="Per-aggregate sequence number; 0 when not ordered.")
    correlation_id: str = Field(default="", description="Id of the request or flow this event belongs to.")
    causation_id: str = Field(default="", description="Id of the event or request that caused this one.")
    producer: str = Field(default="", description="The service that produced the event.")

    def partition_key(self) -> str:
        """Kafka key: events of one aggregate land on one partition, in order."""
        return self.aggregate_id

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_headers(self) -> dict[str, str]:
        return {
            "event_type": self.event_type,
            "schema_version": str(self.schema_version),
            "event_id": str(self.event_id),
            "correlation_id": self.correlation_id,
        }

    def kafka_header_list(self) -> list[tuple[str, bytes]]:
        """The same headers as aiokafka's producer takes them."""
        return [(k, v.encode()) for k, v in self.kafka_headers().items()]


E = TypeVar("E", bound=Event)

_REGISTRY: dict[tuple[str, int], type[Event]] = {}


def register(cls: type[E]) -> type[E]:
    """Class decorator: make an event type known to ``parse_event`` and the schema tests."""
    key = (cls.EVENT_TYPE, cls.VERSION)
    if key in _REGISTRY:
        raise RuntimeError(f"event {key} registered twice")
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[Event]]:
    return dict(_REGISTRY)


def make_event(
    cls: type[E],
    *,
    tenant_id: uuid.UUID,
    aggregate_id: str,
    data: Any,
    sequence: int = 0,
    correlation_id: str = "",
    causation_id: str = "",
    producer: str = "",
) -> E:
    """Build an event with its type and version filled in from the class."""
    return cls(
        event_type=cls.EVENT_TYPE,
        schema_version=cls.VERSION,
        tenant_id=tenant_id,
        aggregate_id=aggregate_id,
        data=data,
        sequence=sequence,
        correlation_id=correlation_id,
        causation_id=causation_id,
        producer=producer,
    )


class ContractError(ValueError):
    """A message that is not a valid event of a known type and version."""


class UnknownEventError(ContractError):
    """A well-formed envelope whose (event_type, schema_version) no contract describes."""


def parse_event(raw: bytes | str, headers: dict[str, str] | None = None) -> Event:
    """Decode a message into its registered event class or raise ``ContractError`` with a reason."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContractError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ContractError("not a JSON object")
    headers = headers or {}
    event_type = body.get("event_type") or headers.get("event_type")
    version_raw = body.get("schema_version") or headers.get("schema_version")
    if not isinstance(event_type, str) or version_raw is None:
        raise ContractError("missing event_type or schema_version")
    try:
        version = int(version_raw)
    except (TypeError, ValueError) as exc:
        raise ContractError(f"schema_version is not an integer: {version_raw!r}") from exc
    cls = _REGISTRY.get((event_type, version))
    if cls is None:
        raise UnknownEventError(f"unknown event {event_type} v{version}")
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        raise ContractError(f"invalid {event_type} v{version}: {exc.errors(include_url=False)}") from exc
