"""Every event's JSON schema is pinned: a change to a contract shows up here, on purpose or not.

Regenerate the pinned files after a deliberate, compatible change with
``OMS_UPDATE_SCHEMAS=1 make test PYTEST_ARGS=tests/contract``. Adding an optional field keeps the
version; removing or retyping a field, or making one required, needs a new version (ARCHITECTURE.md).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from oms_shared.contracts import Event, OrderStatusChangedV1, parse_event, registered_events
from oms_shared.topics import ALL_TOPICS

SCHEMAS = Path(__file__).parent / "schemas"
EVENTS = sorted(registered_events().items())


def _schema(cls: type[Event]) -> dict[str, Any]:
    return cls.model_json_schema(mode="serialization")


@pytest.mark.parametrize(("key", "cls"), EVENTS, ids=[f"{t}.v{v}" for (t, v), _ in EVENTS])
def test_event_schema_matches_the_pinned_schema(key: tuple[str, int], cls: type[Event]) -> None:
    """Consumers in other services (and the ERP) rely on these shapes staying put."""
    path = SCHEMAS / f"{key[0]}.v{key[1]}.json"
    current = _schema(cls)
    if os.environ.get("OMS_UPDATE_SCHEMAS") == "1":
        path.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert path.exists(), f"no pinned schema for {key}; run with OMS_UPDATE_SCHEMAS=1 once"
    pinned = json.loads(path.read_text())
    assert current == pinned, f"{key} changed; see the module docstring"


def test_every_pinned_schema_still_has_its_event() -> None:
    """A contract is never deleted while a pinned schema says consumers may still receive it."""
    pinned = {p.name.removesuffix(".json") for p in SCHEMAS.glob("*.json")}
    assert pinned == {f"{t}.v{v}" for (t, v), _ in EVENTS}


def test_every_event_names_a_registered_topic_and_round_trips_through_json() -> None:
    """Events travel as JSON that any consumer can read back into the same model."""
    for (event_type, version), cls in EVENTS:
        assert cls.TOPIC in ALL_TOPICS
        assert cls.EVENT_TYPE == event_type and cls.VERSION == version
    event = OrderStatusChangedV1(
        event_type="order.status_changed",
        schema_version=1,
        tenant_id=uuid.uuid4(),
        aggregate_id="o-1",
        data={
            "order_id": uuid.uuid4(),
            "number": "1001",
            "buyer_id": uuid.uuid4(),
            "from_status": "new",
            "to_status": "confirmed",
            "by_side": "supplier",
            "changed_at": "2026-11-26T10:00:00Z",
            "lines": [{"line_id": uuid.uuid4(), "sku": "A-1", "quantity": "2.5", "price": "10.10"}],
        },
    )
    back = parse_event(event.to_json(), event.kafka_headers())
    assert back == event
    assert json.loads(event.to_json())["data"]["lines"][0]["quantity"] == "2.5"
