"""`oms up --replicas`: extra processes of a consumer service on ports of their own, shown by `oms status`,
restarted by the supervisor, stopped with the rest; what the option refuses."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack import cli
from oms_devstack.components import http_ready, parse_replicas, partitions_summary, read_state
from oms_devstack.stack import LocalStack
from tests.integration.devstack.test_localstack import clean_env, fake_commands, wait_until_dead
from tests.integration.devstack.test_supervisor import supervised, wait_for


def status_json(var: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    monkeypatch.setenv("OMS_VAR_DIR", str(var))
    capsys.readouterr()
    cli.main(["status", "--json"])
    return {s["component"]: s for s in json.loads(capsys.readouterr().out)}


def test_replicas_run_on_ports_of_their_own_are_shown_by_status_restarted_and_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    said: list[str] = []
    stack = LocalStack.on_free_ports(
        var,
        env=clean_env(),
        service_commands=fake_commands(),
        replicas={"inventory": 2, "notifications": 3},
        echo=said.append,
        restart_backoff_s=0.2,
    )
    stack.start()
    try:
        state = read_state(var)
        assert state is not None
        recorded = {c["name"]: c for c in state["components"]}
        replicas = ["inventory", "inventory#2", "notifications", "notifications#2", "notifications#3"]
        assert set(replicas) <= set(recorded)
        ports = [recorded[name]["port"] for name in replicas]
        assert len(set(ports)) == len(ports)
        assert recorded["inventory#2"]["service"] == "inventory" and recorded["inventory#2"]["replica"] == 2
        # Other services and `oms demo` keep talking to the first replica.
        assert state["urls"]["inventory"] == recorded["inventory"]["url"]
        assert (var / "log" / "inventory-2.log").exists() and (var / "log" / "notifications-3.log").exists()

        statuses = status_json(var, monkeypatch, capsys)
        for name in replicas:
            assert statuses[name]["ready"] is True and statuses[name]["alive"] is True, statuses[name]
            assert statuses[name]["port"] == recorded[name]["port"]

        killed = stack.children["inventory#2"].component.pid
        assert killed is not None
        with supervised(stack) as failures, httpx.Client(timeout=1.0, trust_env=False) as client:
            os.kill(killed, signal.SIGKILL)
            wait_for(lambda: stack.children["inventory#2"].component.restarts == 1, what="inventory#2 restarted")
            url = stack.children["inventory#2"].component.url
            wait_for(lambda: http_ready(client, url), what="inventory#2 ready again")
            assert failures == []
        assert any("inventory#2 restarted" in line for line in said)
        again = status_json(var, monkeypatch, capsys)
        assert again["inventory#2"]["restarts"] == 1 and again["inventory#2"]["port"] == recorded["inventory#2"]["port"]
        assert again["inventory"]["restarts"] == 0
        pids = [c.pid for c in stack.components() if c.pid is not None]
    finally:
        stack.stop()
    assert wait_until_dead(pids) == []


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("console=2", "consumer services"),
        ("inventory=4", "between 1 and 3 replicas"),
        ("inventory=0", "between 1 and 3 replicas"),
        ("inventory", "SERVICE=COUNT"),
        ("inventory=2,inventory=3", "given twice"),
        ("stock=2", "consumer services"),
    ],
)
def test_replicas_the_stack_cannot_run_are_refused_with_the_reason(
    given: str, said: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMS_KAFKA_TOPIC_PARTITIONS", raising=False)
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args(["up", "--replicas", given])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_replicas_up_to_the_partitions_of_the_topics() -> None:
    assert parse_replicas("inventory=2, notifications=3") == {"inventory": 2, "notifications": 3}
    assert parse_replicas("analytics=6", {"OMS_KAFKA_TOPIC_PARTITIONS": "6"}) == {"analytics": 6}


def test_status_says_how_many_partitions_a_process_consumes() -> None:
    assert partitions_summary({"order.placed": [0, 2], "order.status_changed": [0, 2]}) == "4 (0,2)"
    assert partitions_summary({"order.placed": [1], "order.status_changed": [0, 2]}) == "3"
    assert partitions_summary({}) == "0"
    assert partitions_summary(None) is None
