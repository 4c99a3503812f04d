"""Idempotency records: no credential is kept; a claim past its lease is taken over and the late attempt's
effect rolls back; an effect that committed is never done again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter

import oms_shared.http
from oms_erp_bridge.app import MIGRATIONS
from oms_erp_bridge.db import metadata
from oms_erp_bridge.settings import Settings
from oms_shared.auth import CurrentPrincipal
from oms_shared.contracts import StockUpdatedV1, make_event
from oms_shared.db import declare_outcome, utcnow
from oms_shared.service import ServiceRuntime
from tests.support.services import WAIT_SCALE, bearer, running_service, token_for

LEASE_S = 30.0


class Clock:
    """The idempotency layer's clock, moved on by the test: a lease runs out when the test says so, however long
    the requests before took on a busy runner (a real 0.3 s lease could run out before the second request)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.ahead

    def let_the_lease_run_out(self) -> None:
        self.ahead += timedelta(seconds=LEASE_S + 1)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(oms_shared.http, "utcnow", clock.now)
    return clock


def build(database_url: str, service_env: dict[str, object], **settings: Any) -> tuple[ServiceRuntime, dict[str, Any]]:
    runtime = ServiceRuntime(
        Settings(database_url=database_url, **service_env, **settings), metadata, MIGRATIONS, title="t"
    )
    router = APIRouter()
    state: dict[str, Any] = {"gate": asyncio.Event(), "started": asyncio.Event(), "calls": 0}
    state["fail_after_commit"] = False
    state["committed"] = 0

    async def effect(principal_id: uuid.UUID, declare: bool) -> str:
        event = make_event(
            StockUpdatedV1,
            tenant_id=principal_id,
            aggregate_id="w:thing",
            data={"warehouse_id": uuid.uuid4(), "sku": "A", "on_hand": 1, "reserved": 0, "available": 1},
        )
        async with runtime.db.transaction() as tx:
            await tx.publish(event)
            if declare:
                declare_outcome(201, f"/things/{event.event_id}")
        state["committed"] += 1
        return str(event.event_id)

    @router.post("/auth/token")
    async def sign_in() -> dict[str, str]:
        state["calls"] += 1
        return {"access_token": f"secret-{state['calls']}", "token_type": "bearer"}

    @router.post("/things")
    async def create(principal: CurrentPrincipal, body: dict[str, Any]) -> dict[str, str]:
        state["calls"] += 1
        state["started"].set()
        if state["calls"] == 1 and body.get("wait"):
            await state["gate"].wait()  # the first attempt outlives its lease
        event_id = await effect(principal.account_id, bool(body.get("declare")))
        if state["fail_after_commit"]:
            raise RuntimeError("the answer is lost after the commit")
        return {"event_id": event_id}

    @router.post("/jobs")
    async def start_job(principal: CurrentPrincipal) -> dict[str, str]:
        async def job() -> None:  # outlives the request, like a rebuild started by one
            await state["gate"].wait()
            await effect(principal.account_id, False)

        state["job"] = asyncio.create_task(job())
        raise RuntimeError("the request fails after starting its job")

    @router.get("/things/{event_id}")
    async def read(event_id: str, principal: CurrentPrincipal) -> dict[str, str]:
        return {"event_id": event_id}

    runtime.routers.append(router)
    return runtime, state


async def test_an_answer_carrying_a_token_is_not_kept(database_url: str, service_env: dict[str, object]) -> None:
    """R-ACC-4: the answer of a sign-in (an access token) is never written to the idempotency records; a retry
    with the same key signs in again."""
    runtime, _state = build(database_url, service_env)
    app = runtime.build_app()
    async with running_service(app) as client:
        key = {"Idempotency-Key": "sign-in-1"}
        first = await client.post("/auth/token", json={"email": "a@b.c"}, headers=key)
        again = await client.post("/auth/token", json={"email": "a@b.c"}, headers=key)
        assert (first.json()["access_token"], again.json()["access_token"]) == ("secret-1", "secret-2")
        async with runtime.db.read() as conn:
            kept = (await conn.execute(sa.select(runtime.db.idempotency))).all()
        assert kept == []


async def test_a_claim_past_its_lease_is_taken_over_and_the_late_attempt_changes_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], clock: Clock
) -> None:
    """An attempt that outlives the lease loses the key: a retry takes it over and acts; when the first one
    finally tries to commit, its transaction rolls back (409) — one effect, and the key answers the retry's."""
    runtime, state = build(database_url, service_env, idempotency_lease_s=LEASE_S)
    app = runtime.build_app()
    auth = bearer(token_for(keys[0]))
    async with running_service(app) as client:
        headers = {**auth, "Idempotency-Key": "slow-1"}
        first = asyncio.create_task(client.post("/things", json={"wait": True}, headers=headers))
        await asyncio.wait_for(state["started"].wait(), timeout=10 * WAIT_SCALE)
        early = await client.post("/things", json={"wait": True}, headers=headers)
        assert early.status_code == 409 and early.json()["error"]["code"] == "request_in_progress"
        clock.let_the_lease_run_out()
        retry = await client.post("/things", json={"wait": True}, headers=headers)
        assert retry.status_code == 200, retry.text
        state["gate"].set()
        late = await first
        assert late.status_code == 409 and late.json()["error"]["code"] == "request_in_progress", late.text
        assert state["committed"] == 1
        replay = await client.post("/things", json={"wait": True}, headers=headers)
        assert replay.json() == retry.json() and replay.headers["idempotent-replayed"] == "true"


async def test_an_effect_that_committed_is_not_done_again_after_a_server_error(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], clock: Clock
) -> None:
    """The handler fails after its transaction committed: the retry does not act again — it gets the answer
    rebuilt from the declared outcome, or (once the attempt's lease is over) a clear 409 when the handler
    declared none."""
    runtime, state = build(database_url, service_env, idempotency_lease_s=LEASE_S)
    state["fail_after_commit"] = True
    app = runtime.build_app()
    auth = bearer(token_for(keys[0]))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is an answer here
    async with running_service(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        declared = {**auth, "Idempotency-Key": "declared-1"}
        assert (await client.post("/things", json={"declare": True}, headers=declared)).status_code == 500
        rebuilt = await client.post("/things", json={"declare": True}, headers=declared)
        assert rebuilt.status_code == 201 and rebuilt.headers["idempotent-replayed"] == "true"
        assert "event_id" in rebuilt.json()
        bare = {**auth, "Idempotency-Key": "bare-1"}
        assert (await client.post("/things", json={}, headers=bare)).status_code == 500
        running = await client.post("/things", json={}, headers=bare)  # "in progress" while the lease runs ...
        assert running.status_code == 409 and running.json()["error"]["code"] == "request_in_progress", running.text
        clock.let_the_lease_run_out()
        applied = await client.post("/things", json={}, headers=bare)  # ... then said plainly
        assert applied.status_code == 409 and applied.json()["error"]["code"] == "request_already_applied"
        assert state["committed"] == state["calls"] == 2


async def test_a_job_started_by_a_keyed_request_is_not_bound_to_its_key(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """A background job a request starts is its own work: its transactions do not answer to the request's
    Idempotency-Key (released after the request's 500), so the job still commits."""
    runtime, state = build(database_url, service_env)
    app = runtime.build_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with running_service(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        headers = {**bearer(token_for(keys[0])), "Idempotency-Key": "job-1"}
        assert (await client.post("/jobs", json={}, headers=headers)).status_code == 500
        state["gate"].set()
        await asyncio.wait_for(state["job"], timeout=10 * WAIT_SCALE)
        assert state["committed"] == 1


async def test_a_confirmation_whose_answer_failed_after_the_commit_is_answered_not_redone(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """R-ST-1: the supplier confirms, the status changes, then building the answer fails (500). The retry
    with the same Idempotency-Key and the same If-Match is not run again (it would be refused: the order is
    confirmed already and its version moved on): it gets the confirmed order."""
    from oms_orders.handlers import orders as order_cases
    from tests.integration.orders.helpers import a_world, if_match, orders_app, place

    app = orders_app(database_url, service_env, keys, start_consumers=False)
    real_get_order = order_cases.get_order
    failures = {"left": 0}

    async def flaky_get_order(*args: Any, **kwargs: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("lost on the way back")
        return await real_get_order(*args, **kwargs)

    monkeypatch.setattr(order_cases, "get_order", flaky_get_order)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with running_service(app), httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        w = await a_world(client)
        order = (await place(client, w)).json()
        url = f"/api/v1/orders/{order['order_id']}/transitions"
        headers = {**w.sup, **if_match(order), "Idempotency-Key": "confirm-1"}
        failures["left"] = 1
        failed = await client.post(url, headers=headers, json={"to": "confirmed"})
        assert failed.status_code == 500
        retry = await client.post(url, headers=headers, json={"to": "confirmed"})
        assert retry.status_code == 200, retry.text
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json()["status"] == "confirmed" and retry.json()["version"] == order["version"] + 1
        history = [h["to"] for h in retry.json()["history"]]
        assert history == ["new", "confirmed"]
