"""The memory broker killed (SIGKILL) and started again on its port under a steady load of orders.

The broker starts empty: no topics, no records, no committed offsets. The supervisor starts it again and creates
the topics before the services reconnect; each service notices the new cluster (its id changed), re-sends the
outbox rows it kept (docs/adr/019-broker-restart-and-lost-logs.md), and its consumers start over from the new
log's beginning, deduplicating by event id. Then the audit of tests/faults/test_kill.py holds. ``OMS_FAULTS_ORDERS``
and ``OMS_FAULTS_BROKER_KILLS`` make it longer; with ``OMS_FAULTS_REPORT=x.json`` the figures go to ``x-broker.json``.
"""

from __future__ import annotations

import json
import os
import re
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack.procs import run_coro_blocking
from oms_devstack.stack import LocalStack
from oms_devstack.story import Story
from oms_shared.kafka import topic_partitions
from oms_shared.topics import all_topics_with_dlq
from tests.faults.load import RETRY_S, SERVICES, Audit, run_load, set_the_scene, wait_until
from tests.support.databases import needs_postgres

BROKER_KILLS = int(os.environ.get("OMS_FAULTS_BROKER_KILLS", "2"))
REPORT = os.environ.get("OMS_FAULTS_REPORT", "")


def metric(text: str, name: str) -> float:
    """The value of an unlabelled-but-for-service counter in a Prometheus page (0 when absent)."""
    found = re.search(rf"^{re.escape(name)}\{{[^}}]*\}} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@needs_postgres
@pytest.mark.faults
def test_the_broker_killed_under_load_loses_nothing_for_good(tmp_path: Path, pg_env: dict[str, str]) -> None:
    """The broker restarted (R-FLT: clients reconnect; what a memory broker lost is re-published from the outboxes
    or reported). While orders are placed, confirmed and rejected, the broker is killed and started again on its
    port. No service is restarted (by hand or by the supervisor): each reconnects, finds the broker's new cluster
    id, has its topics (created with the configured partitions, no broker-default "ghost" topic) and sends again
    what its outbox kept. Its consumers resume from the new log and commit (no stall). Then the audit holds:
    every order once, its reserves, notifications and e-mails once, analytics and the ERP queue equal to a
    recount, nothing parked, nothing dead-lettered, every service drained (R-IN-1, R-RSV-1, R-RSV-2, R-RSV-4,
    R-NT-1, R-NT-2, R-NT-4, R-AN-1, R-ERP-1)."""
    started = time.monotonic()
    stack = LocalStack.on_free_ports(
        tmp_path / "var",
        env=pg_env,
        services=list(SERVICES),
        restart_backoff_s=0.2,
        restart_limit=100,
    )
    stack.start()
    figures: dict[str, Any] = {"kind": "broker", "orders": 0, "broker_kills": 0}
    try:
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            story = Story(stack.urls, client, say=lambda _line: None, facts={"mail_dir": stack.mail_dir})
            scene = set_the_scene(story)
            supplier, buyer, api = scene.supplier, scene.buyer, scene.api
            load = scene.load(faults=BROKER_KILLS)
            load_started = time.monotonic()

            def kill_broker() -> None:
                stack.kill("broker")
                figures["broker_kills"] += 1
                wait_until("the broker back", partial(stack.restarted_and_ready, "broker"), RETRY_S, stack.supervise)

            run_load(load, [("broker kill", kill_broker)] * BROKER_KILLS, stack.supervise)
            figures["load_s"] = round(time.monotonic() - load_started, 1)
            figures["retried_calls"] = api.retried

            orders = [scene.thin, *load.placed]
            figures["orders"] = len(orders)
            audit = Audit(api, stack, supplier, buyer, orders, tick=stack.supervise)
            figures["audit"] = audit.results
            audit.run()

            # Every service noticed each lost log and re-sent what it kept; nothing older than the window was lost.
            seen: dict[str, dict[str, float]] = {}
            for name, url in stack.urls.items():
                page = client.get(f"{url}/metrics").text
                seen[name] = {
                    "log_lost": metric(page, "oms_outbox_broker_log_lost_total"),
                    "resent": metric(page, "oms_outbox_resent_total"),
                    "unrecoverable": metric(page, "oms_outbox_unrecoverable_losses_total"),
                }
            figures["relays"] = seen
            assert all(s["log_lost"] >= 1 for s in seen.values()), seen
            assert all(s["unrecoverable"] == 0 for s in seen.values()), seen
            # No "ghost" topic: every topic has the configured partitions, none the broker's default of 4.
            partitions = run_coro_blocking(topic_partitions(stack.bootstrap, all_topics_with_dlq()))
            figures["topics_with_3_partitions"] = sum(1 for n in partitions.values() if n == 3)
            assert partitions == dict.fromkeys(all_topics_with_dlq(), 3), partitions
            # Nobody restarted a service: they reconnected by themselves (and none crashed along the way).
            restarts = {c.name: c.restarts for c in stack.components()}
            figures["restarts"] = restarts
            assert restarts == {"broker": BROKER_KILLS, "smtp": 0, **dict.fromkeys(SERVICES, 0)}, restarts
    finally:
        stack.stop()
        figures["total_s"] = round(time.monotonic() - started, 1)
        if REPORT:  # beside the kill test's figures (``make faults`` names one file for the whole run)
            report = Path(REPORT)
            report.with_name(f"{report.stem}-broker{report.suffix}").write_text(json.dumps(figures, indent=2) + "\n")
