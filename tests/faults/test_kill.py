"""Every service killed (SIGKILL) and started again under a steady load of orders: nothing is lost, nothing doubled.

The services run as processes on PostgreSQL and the bundled broker. A thread places orders and confirms or rejects
them over HTTP (retrying with the same Idempotency-Key when a service is down) while the test kills each consumer
service in turn, then orders, and lets the supervisor start it again. Then it audits every effect an order has in
every service. ``OMS_FAULTS_ORDERS``, ``OMS_FAULTS_ROUNDS``, ``OMS_FAULTS_SMTP_OUTAGE`` and ``OMS_FAULTS_SMTP_OUTAGE_S``
(the mail catcher's least time down) make it longer
(``make faults``); ``OMS_FAULTS_REPORT`` names a JSON file for the figures of the run.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from oms_devstack.stack import LocalStack
from oms_devstack.story import Story
from tests.faults.load import RETRY_S, SERVICES, Audit, run_load, service_restarts, set_the_scene, wait_until
from tests.support.databases import needs_postgres

# The consumers first, then orders (the one the load talks to most).
KILL_ORDER = ("inventory", "notifications", "analytics", "erp-bridge", "orders")

ROUNDS = int(os.environ.get("OMS_FAULTS_ROUNDS", "1"))
SMTP_OUTAGE = os.environ.get("OMS_FAULTS_SMTP_OUTAGE", "0") == "1"
# How long the mail catcher stays down at least (it is down across two kills either way).
SMTP_OUTAGE_S = float(os.environ.get("OMS_FAULTS_SMTP_OUTAGE_S", "0"))
REPORT = os.environ.get("OMS_FAULTS_REPORT", "")


@needs_postgres
def test_nothing_is_lost_or_doubled_when_each_service_is_killed_under_load(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    """Exactly-once effects through the outbox and the inbox (ADR 001) when any service dies by SIGKILL.

    While orders are placed, confirmed and rejected, each consumer service is killed and restarted, then
    orders. After the system settles: every order placed exists once (R-IN-1, Idempotency-Key retries); every
    confirmed order holds exactly its lines' reserves and a rejected one holds nothing, in the order's reserve
    and in the stock totals (R-RSV-1, R-RSV-2, R-RSV-4); every order's notifications are there once per person
    in-app and every e-mail reached the SMTP server exactly once (R-NT-1, R-NT-2, R-NT-4); analytics' counts and
    sums equal a recount from the orders API (R-AN-1); every order confirmed once is offered to the ERP once, as
    it is now (R-ERP-1); nothing is parked, nothing left in an outbox, nothing dead-lettered."""
    started = time.monotonic()
    stack = LocalStack.on_free_ports(
        tmp_path / "var",
        env=pg_env,
        services=list(SERVICES),
        restart_backoff_s=0.2,
        restart_limit=100,
    )
    stack.start()
    figures: dict[str, Any] = {"kind": "kill", "orders": 0, "kills": 0, "smtp_outage": SMTP_OUTAGE}
    try:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            story = Story(stack.urls, client, say=lambda _line: None, facts={"mail_dir": stack.mail_dir})
            scene = set_the_scene(story)

            def kill(name: str) -> None:
                stack.kill(name)
                figures["kills"] += 1
                wait_until(f"{name} back after its kill", partial(stack.restarted_and_ready, name), RETRY_S, tick)

            paused_at: dict[str, float] = {}

            def pause(name: str) -> None:
                stack.pause(name)
                paused_at[name] = time.monotonic()

            def resume(name: str) -> None:
                if name == "smtp" and SMTP_OUTAGE_S:  # the load goes on while the SMTP server stays down
                    wait_until(
                        "the SMTP outage's length",
                        lambda: time.monotonic() - paused_at[name] >= SMTP_OUTAGE_S,
                        SMTP_OUTAGE_S + 60,
                        tick,
                    )
                figures["smtp_down_s"] = round(time.monotonic() - paused_at.get(name, time.monotonic()), 1)
                stack.resume(name)
                wait_until(f"{name} back", partial(stack.restarted_and_ready, name), RETRY_S, tick)

            def tick() -> None:
                stack.supervise()

            plan: list[tuple[str, str]] = [("kill", s) for _ in range(ROUNDS) for s in KILL_ORDER]
            if SMTP_OUTAGE:
                # The mail catcher is down across two kills, then back: everything queued meanwhile is delivered.
                plan[1:1] = [("pause", "smtp")]
                plan[4:4] = [("resume", "smtp")]
            do = {"kill": kill, "pause": pause, "resume": resume}
            faults = [(f"{what} {name}", partial(do[what], name)) for what, name in plan]
            load = scene.load(faults=len(faults))
            load_started = time.monotonic()
            run_load(load, faults, tick)
            figures["load_s"] = round(time.monotonic() - load_started, 1)
            figures["retried_calls"] = scene.api.retried

            orders = [scene.thin, *load.placed]
            figures["orders"] = len(orders)
            audit = Audit(scene.api, stack, scene.supplier, scene.buyer, orders, tick=stack.supervise)
            figures["audit"] = audit.results  # filled as it goes: a failed run reports how far it got
            audit.run()
            # No service died on its own along the way (the supervisor would have hidden it by a restart).
            restarts = service_restarts(stack)
            killed = Counter(name for what, name in plan if what == "kill")
            audit.results["no service crashed by itself"] = "ok" if restarts == dict(killed) else "FAIL"
            assert restarts == dict(killed), f"restarts {restarts}, kills {dict(killed)}"
    finally:
        stack.stop()
        figures["total_s"] = round(time.monotonic() - started, 1)
        if REPORT:
            Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")
