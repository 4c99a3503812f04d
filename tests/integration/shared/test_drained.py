"""``GET /drained``: a service says when it has nothing left to do (outbox, parked events, consumer lag)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from oms_shared.topics import dlq
from tests.integration.orders.helpers import orders_app, register
from tests.support.services import eventually, running_service


async def drained(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/drained")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_a_pending_outbox_row_answers_503_until_the_relay_publishes_it(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """An operator or a test waits on /drained: 503 naming the unpublished row, 200 once it is out."""
    app = orders_app(database_url, service_env, keys)
    runtime = app.state.runtime
    async with running_service(app) as client:
        body = await eventually(lambda: drained(client))
        assert body["drained"] is True
        assert body["outbox"]["pending"] == 0 and body["parked"] == 0
        assert body["lag"]["group"] == service_env["consumer_group"] and body["lag"]["total"] == 0

        await runtime.relay.stop()  # the relay is held back: what commits now stays in the outbox
        await register(client, "supplier", "Drain Co")
        r = await client.get("/drained")
        assert r.status_code == 503, r.text
        assert r.json()["drained"] is False and r.json()["outbox"]["pending"] >= 1

        runtime.relay.start()
        body = await eventually(lambda: drained(client))
        assert body["outbox"] == {"pending": 0, "oldest_age_s": 0.0}


async def test_dead_letter_counters_and_lag_have_series_from_the_start(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """An alert on the first dead letter after a restart needs a series at 0 before it; lag is exported."""
    app = orders_app(database_url, service_env, keys)
    runtime = app.state.runtime
    async with running_service(app) as client:
        await eventually(lambda: drained(client))
        text = (await client.get("/metrics")).text
        group = service_env["consumer_group"]
        for topic in runtime.consumer.topics:
            assert f'oms_dlq_messages_total{{service="orders",topic="{topic}"}} 0.0' in text
            assert dlq(topic) not in runtime.consumer.topics
            assert f'oms_consumer_lag{{group="{group}",partition="0",topic="{topic}"}} 0.0' in text
        dead = 'oms_consumer_events_total{event_type="reserve.updated",outcome="dead_lettered",service="orders"} 0.0'
        assert dead in text
