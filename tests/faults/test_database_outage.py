"""PostgreSQL restarted under a steady load of orders, and down for 30 s: nothing dead-lettered, nothing lost, nothing
doubled, no service crashed.

The five services run as processes on a private PostgreSQL server of this test (a database each; initdb + pg_ctl
in a temporary directory on a free port, run as the ``postgres`` user: the machine's own server is never touched)
and on the bundled broker. A thread places orders and confirms or rejects them over HTTP, retrying with the same
Idempotency-Key while the services answer 503; halfway through, the server is stopped (``pg_ctl stop -m fast``:
every connection is closed, new ones are refused), kept down for ``OMS_FAULTS_DB_OUTAGE_S`` (30) seconds of real
time, and started again. Meanwhile the consumers hold the event they are on and retry it in place (a transient
database error, ``oms_shared.transient``), the outbox relays retry their round, and the services answer 503 and
report not ready. Then the audit of test_kill.py runs unchanged.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack.stack import LocalStack
from oms_devstack.story import Story
from tests.faults.load import (
    RETRY_S,
    SERVICES,
    Audit,
    run_load,
    service_env,
    service_restarts,
    set_the_scene,
    wait_until,
)
from tests.support.pgserver import PrivatePostgres, needs_postgres_server

OUTAGE_S = float(os.environ.get("OMS_FAULTS_DB_OUTAGE_S", "30"))
REPORT = os.environ.get("OMS_FAULTS_DB_REPORT", "")


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


def metric_total(client: httpx.Client, url: str, name: str) -> float:
    """The sum of every series of counter ``name`` on the service's /metrics."""
    text = client.get(f"{url}/metrics", timeout=10.0).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def unexpected_errors(log: Path) -> list[str]:
    """The log's errors of a request that escaped the service, or of a background loop that broke."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = str(entry.get("msg") or entry.get("message") or "")
        if entry.get("level") == "ERROR" and (
            message.startswith("Exception in ASGI application") or message.startswith("background task")
        ):
            found.append(message.strip()[:200])
    return found


def not_ready(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/ready", timeout=2.0).status_code != 200
    except httpx.TransportError:
        return True


@needs_postgres_server
def test_nothing_is_lost_doubled_or_dead_lettered_when_postgresql_is_down_for_30_s_under_load(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    """A database outage is transient, not a poison (ADR 001, R-IN-1, R-RSV-1, R-RSV-2, R-RSV-4, R-NT-1, R-NT-2,
    R-NT-4, R-AN-1, R-ERP-1).

    The server every service uses is stopped for 30 s while orders are placed, confirmed and rejected, then
    started again. While it is down every service says it is not ready; once it is back every call the load
    retried went through and the audit of the kill test holds: every order exists once, confirmed orders hold
    exactly their reserves and rejected ones nothing, every notification once per person and every e-mail
    received once, analytics equals a recount, every order confirmed once is offered to the ERP once, nothing
    parked, nothing left in an outbox, nothing dead-lettered (a consumer retries an event in place for as long as
    the database is unreachable). No service process exited: none was restarted by the supervisor."""
    started = time.monotonic()
    env = service_env(private_postgres.create_databases(len(SERVICES)))
    stack = LocalStack.on_free_ports(
        tmp_path / "var",
        env=env,
        services=list(SERVICES),
        restart_backoff_s=0.2,
        restart_limit=100,
    )
    stack.start()
    figures: dict[str, Any] = {"kind": "database_outage", "orders": 0, "outage_s": OUTAGE_S}
    try:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            story = Story(stack.urls, client, say=lambda _line: None, facts={"mail_dir": stack.mail_dir})
            scene = set_the_scene(story)
            seen_not_ready: set[str] = set()

            def watch() -> None:
                stack.supervise()
                if not private_postgres.running:
                    seen_not_ready.update(
                        n for n, url in stack.urls.items() if n not in seen_not_ready and not_ready(client, url)
                    )

            def outage() -> None:
                private_postgres.stop("fast")
                down_at = time.monotonic()
                # The outage itself lasts a fixed time (it is the fault, not a wait for a condition).
                wait_until("the outage to last", lambda: time.monotonic() - down_at >= OUTAGE_S, OUTAGE_S + 5, watch)
                private_postgres.start()
                figures["down_s"] = round(time.monotonic() - down_at, 1)
                back_at = time.monotonic()
                wait_until(
                    "every service ready again",
                    lambda: not any(not_ready(client, url) for url in stack.urls.values()),
                    RETRY_S,
                    stack.supervise,
                )
                figures["ready_again_after_s"] = round(time.monotonic() - back_at, 1)

            load = scene.load(faults=1)
            load_started = time.monotonic()
            run_load(load, [("PostgreSQL stopped", outage)], stack.supervise)
            figures["load_s"] = round(time.monotonic() - load_started, 1)
            figures["retried_calls"] = scene.api.retried
            figures["retried_on"] = dict(scene.api.retried_on)
            figures["not_ready_during_outage"] = sorted(seen_not_ready)
            # How often a consumer held an event through the outage and tried it again in place (by service).
            figures["consumer_transient_retries"] = {
                n: metric_total(client, url, "oms_consumer_transient_retries_total") for n, url in stack.urls.items()
            }

            orders = [scene.thin, *load.placed]
            figures["orders"] = len(orders)
            audit = Audit(scene.api, stack, scene.supplier, scene.buyer, orders, tick=stack.supervise)
            figures["audit"] = audit.results
            audit.results["every service not ready while the database was down"] = (
                "ok" if seen_not_ready == set(SERVICES) else "FAIL"
            )
            assert seen_not_ready == set(SERVICES), (
                f"ready while the database was down: {set(SERVICES) - seen_not_ready}"
            )
            # While the database was down the API said "try again" (503, Retry-After), never "it broke" (500).
            audit.results["the API answered 503 while the database was down, never 500"] = (
                "ok" if "503" in scene.api.retried_on and "500" not in scene.api.retried_on else "FAIL"
            )
            assert "503" in scene.api.retried_on and "500" not in scene.api.retried_on, scene.api.retried_on
            audit.run()
            # An outage is expected: it is logged as warnings, not as a traceback per request and per second.
            errors = {name: unexpected_errors(stack.log_dir / f"{name}.log") for name in SERVICES}
            figures["error_lines"] = {name: len(lines) for name, lines in errors.items()}
            audit.results["no request or background loop logged the outage as an unexpected error"] = (
                "ok" if not any(errors.values()) else "FAIL"
            )
            assert not any(errors.values()), {name: lines[:3] for name, lines in errors.items() if lines}
            restarts = service_restarts(stack)
            figures["restarts"] = restarts
            crashed = {name: n for name, n in restarts.items() if n}
            audit.results["no service crashed"] = "ok" if not crashed else "FAIL"
            assert not crashed, f"restarted by the supervisor after the outage: {crashed}"
    finally:
        stack.stop()
        figures["total_s"] = round(time.monotonic() - started, 1)
        if REPORT:
            Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")
