"""Events published by the notifications service."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from oms_shared import topics
from oms_shared.contracts.envelope import ContractModel, Event, register


class NotificationDeliveredData(ContractModel):
    notification_id: uuid.UUID
    source_event_id: uuid.UUID
    recipient_user_id: uuid.UUID
    channel: Literal["in_app", "email"]
    outcome: Literal["delivered", "failed"]
    error: str = ""


@register
class NotificationDeliveredV1(Event):
    """Audit: the outcome of one delivery; keyed by recipient."""

    TOPIC: ClassVar[str] = topics.NOTIFICATION_DELIVERED
    EVENT_TYPE: ClassVar[str] = "notification.delivered"
    event_type: Literal["notification.delivered"] = "notification.delivered"
    schema_version: Literal[1] = 1
    data: NotificationDeliveredData
