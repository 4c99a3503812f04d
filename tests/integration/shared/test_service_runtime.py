"""The service runtime over real HTTP plumbing: tokens, Idempotency-Key, correlation ids, ops routes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import APIRouter

from oms_erp_bridge.app import MIGRATIONS
from oms_erp_bridge.db import metadata
from oms_erp_bridge.settings import Settings
from oms_shared.auth import CurrentPrincipal, Principal, generate_keypair, issue_token
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.service import ServiceRuntime
from oms_shared.topics import STOCK_UPDATED
from tests.support.kafka import read_topic
from tests.support.services import bearer, running_service, token_for


def build_app(database_url: str, service_env: dict[str, object]) -> ServiceRuntime:
    runtime = ServiceRuntime(Settings(database_url=database_url, **service_env), metadata, MIGRATIONS, title="t")
    router = APIRouter()

    @router.post("/things")
    async def create_thing(principal: CurrentPrincipal, body: dict[str, int]) -> dict[str, str]:
        principal.require("orders", "change")
        event = make_event(
            StockUpdatedV1,
            tenant_id=principal.account_id,
            aggregate_id="w:thing",
            data={
                "warehouse_id": uuid.UUID(int=1),
                "sku": "thing",
                "on_hand": body.get("n", 0),
                "reserved": 0,
                "available": body.get("n", 0),
            },
        )
        async with runtime.db.transaction() as tx:
            await tx.publish(event)
        return {"event_id": str(event.event_id)}

    runtime.routers.append(router)
    return runtime


async def outbox_events(runtime: ServiceRuntime, kafka: str, expect: int) -> list[dict[str, object]]:
    return [json.loads(r.value) for r in await read_topic(kafka, STOCK_UPDATED, expect=expect, timeout=5)]


async def test_requests_without_a_valid_token_are_refused_and_change_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """Missing, malformed, expired, foreign-key and under-privileged tokens get 401/403; no event is written."""
    runtime = build_app(database_url, service_env)
    app = runtime.build_app()
    supplier = Principal(uuid.uuid4(), uuid.uuid4(), "supplier", is_owner=True)
    expired = issue_token(keys[0].read_bytes(), supplier, ttl=timedelta(seconds=-60))
    other_private, _ = generate_keypair(tmp_path / "other-keys")
    forged = issue_token(other_private.read_bytes(), supplier)
    buyer = token_for(keys[0], kind="buyer")
    reader = token_for(keys[0], owner=False, access={"orders": "read"})
    async with running_service(app) as client:
        cases: list[tuple[dict[str, str], int, str]] = [
            ({}, 401, "missing_token"),
            ({"Authorization": "Bearer not-a-jwt"}, 401, "invalid_token"),
            (bearer(expired), 401, "token_expired"),
            (bearer(forged), 401, "invalid_token"),
            (bearer(buyer), 403, "supplier_only"),
            (bearer(reader), 403, "access_denied"),
        ]
        for headers, status, code in cases:
            response = await client.post("/things", json={"n": 1}, headers=headers)
            assert response.status_code == status, (code, response.text)
            assert response.json()["error"]["code"] == code
        ok = await client.post("/things", json={"n": 1}, headers=bearer(token_for(keys[0])))
        assert ok.status_code == 200
        events = await outbox_events(runtime, kafka, expect=2)
    assert [e["event_id"] for e in events] == [ok.json()["event_id"]]


async def test_idempotency_key_replays_the_first_answer_and_correlation_id_reaches_the_event(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """A retried POST with the same Idempotency-Key changes state once; the correlation id is carried into Kafka."""
    runtime = build_app(database_url, service_env)
    app = runtime.build_app()
    auth = bearer(token_for(keys[0]))
    async with running_service(app) as client:
        headers = {**auth, "Idempotency-Key": "k-1", "X-Correlation-ID": "corr-42"}
        first = await client.post("/things", json={"n": 3}, headers=headers)
        again = await client.post("/things", json={"n": 3}, headers=headers)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json()
        assert again.headers.get("idempotent-replayed") == "true"
        assert first.headers["x-correlation-id"] == "corr-42"
        reused = await client.post("/things", json={"n": 4}, headers=headers)
        assert reused.status_code == 422
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        bad_body = await client.post("/things", content=b"{oops", headers={**auth, "content-type": "application/json"})
        assert bad_body.status_code == 422
        assert bad_body.json()["error"]["code"] == "validation_error"
        events = await outbox_events(runtime, kafka, expect=2)
    assert len(events) == 1
    assert events[0]["correlation_id"] == "corr-42"


async def test_health_ready_and_metrics_are_served(database_url: str, service_env: dict[str, object]) -> None:
    """SREs get liveness, readiness and Prometheus metrics (outbox, consumer, FastStream) from every service."""
    app = build_app(database_url, service_env).build_app()
    async with running_service(app) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        metrics = (await client.get("/metrics")).text
        assert "oms_outbox_backlog" in metrics
        assert 'oms_ready{service="erp-bridge"} 1.0' in metrics
        docs = await client.get("/openapi.json")
        assert docs.status_code == 200 and "/things" in docs.json()["paths"]
    stopped = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=stopped, base_url="http://t") as client:
        assert (await client.get("/ready")).status_code == 503
