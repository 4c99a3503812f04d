"""`oms up` supervises: a service, the SMTP catcher or the broker killed with SIGKILL comes back and is ready
without help, `oms status` counts the restarts, and a crash loop makes the supervisor give up loudly."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from oms_devstack import cli
from oms_devstack.components import READY_TIMEOUT_S, SERVICE_NAMES, StackError
from oms_devstack.procs import pid_alive, run_coro_blocking, tcp_accepts
from oms_devstack.stack import LocalStack, StackGaveUp
from oms_shared.kafka import topic_partitions
from oms_shared.topics import all_topics_with_dlq
from tests.integration.devstack.test_localstack import clean_env, fake_commands, wait_until_dead
from tests.support.services import WAIT_SCALE


def wait_for(check: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s * WAIT_SCALE
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s:.0f} s")
        time.sleep(0.1)


@contextmanager
def supervised(stack: LocalStack) -> Iterator[list[BaseException]]:
    """Run the supervisor loop in a thread, as `oms up` runs it in its main loop; yields its failure, if any."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            stack.supervise_forever(poll_s=0.1, stop=stop)
        except BaseException as exc:  # handed to the test
            failures.append(exc)

    thread = threading.Thread(target=run, name="supervisor", daemon=True)
    thread.start()
    try:
        yield failures
    finally:
        stop.set()
        thread.join(timeout=10)


def status_json(var: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    monkeypatch.setenv("OMS_VAR_DIR", str(var))
    capsys.readouterr()
    cli.main(["status", "--json"])
    return {s["component"]: s for s in json.loads(capsys.readouterr().out)}


def test_each_service_and_the_mail_catcher_killed_in_turn_comes_back_ready_and_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """kill -9 of every service and of the SMTP catcher, one after the other, on one running stack: each is
    started again by the supervisor (said on the console and in its log), answers /ready (the catcher accepts
    SMTP) without help, whatever it left behind in its process group is gone, and `oms status --json` shows one
    restart for each."""
    var = tmp_path / "var"
    said: list[str] = []
    stack = LocalStack.on_free_ports(
        var, env=clean_env(), service_commands=fake_commands(), echo=said.append, restart_backoff_s=0.2
    )
    stack.start()
    try:
        with supervised(stack) as failures, httpx.Client(timeout=1.0, trust_env=False) as client:
            for name in [*SERVICE_NAMES, "smtp"]:
                component = next(c for c in stack.components() if c.name == name)
                old_pid = component.pid
                assert old_pid is not None
                leftovers: list[int] = []
                if name != "smtp":
                    leftovers.append(int(json.loads((var / f"{name}.env.json").read_text())["GRANDCHILD_PID"]))
                os.kill(old_pid, signal.SIGKILL)

                def back(c: Any = component, old: int = old_pid, n: str = name) -> bool:
                    if c.pid == old or c.pid is None or not pid_alive(c.pid):
                        return False
                    if n == "smtp":
                        return tcp_accepts(c.host, c.port)
                    try:
                        return client.get(f"{c.url}/ready").status_code == 200
                    except httpx.HTTPError:
                        return False

                wait_for(back, what=f"{name} back and ready")
                assert wait_until_dead(leftovers) == [], f"{name}'s leftovers survived its restart"
                assert failures == []
                statuses = status_json(var, monkeypatch, capsys)
                assert statuses[name]["restarts"] == 1 and statuses[name]["alive"] and statuses[name]["ready"]
                assert statuses[name]["pid"] == component.pid != old_pid
                log = Path(str(component.log)).read_text()
                assert f"{name} exited with code -9; restarting it in 0.2 s" in log
                assert any(line.startswith(f"{name} restarted (pid {component.pid}") for line in said)
                wait_for(lambda n=name: any(s.startswith(f"{n} is ready again") for s in said), what="ready note")
            statuses = status_json(var, monkeypatch, capsys)
            assert {n: s["restarts"] for n, s in statuses.items()} == {
                "broker": 0,
                "smtp": 1,
                **{n: 1 for n in SERVICE_NAMES},
            }
            assert all(s["ready"] for s in statuses.values())
        pids = [c.pid for c in stack.components() if c.pid is not None]
    finally:
        stack.stop()
    assert wait_until_dead(pids) == []


def test_a_service_that_keeps_crashing_is_given_up_on_loudly(tmp_path: Path) -> None:
    """Restarts back off (0.2 s, then 0.4 s); the third crash within the window is one too many: the supervisor
    gives up with the service's name, its crash count and its log tail, for `oms up` to stop the stack."""
    said: list[str] = []
    stack = LocalStack.on_free_ports(
        tmp_path / "var",
        env=clean_env(),
        service_commands=fake_commands(),
        echo=said.append,
        restart_backoff_s=0.2,
        restart_limit=2,
        restart_window_s=60,
    )
    stack.start()
    try:
        with supervised(stack) as failures:
            inventory = next(c for c in stack.components() if c.name == "inventory")
            for restart in (1, 2, 3):
                old = inventory.pid
                assert old is not None
                wait_for(lambda o=old: pid_alive(o), what="inventory running")
                os.kill(old, signal.SIGKILL)
                if restart < 3:
                    wait_for(lambda o=old, r=restart: inventory.pid != o and inventory.restarts == r, what="restart")
            wait_for(lambda: failures, what="the supervisor gives up")
        assert isinstance(failures[0], StackGaveUp)
        assert "inventory" in str(failures[0]) and "crashed 3 times within 60 s" in str(failures[0])
        assert any("restarting it in 0.2 s" in s for s in said) and any("restarting it in 0.4 s" in s for s in said)
    finally:
        stack.stop()


def test_the_real_orders_service_killed_under_the_stack_comes_back_ready(tmp_path: Path) -> None:
    """The same with the real orders process (uvicorn, migrations, Kafka consumer): SIGKILL, then it is
    started again on its port and answers /ready without help."""
    said: list[str] = []
    stack = LocalStack.on_free_ports(
        tmp_path / "var",
        env=clean_env(),
        services=["orders"],
        echo=said.append,
        restart_backoff_s=0.2,
        ready_timeout_s=READY_TIMEOUT_S * WAIT_SCALE,
    )
    stack.start()
    try:
        with supervised(stack) as failures, httpx.Client(timeout=2.0, trust_env=False) as client:
            orders = next(c for c in stack.components() if c.name == "orders")
            old = orders.pid
            assert old is not None
            os.kill(old, signal.SIGKILL)

            def ready_again() -> bool:
                if orders.pid == old:
                    return False
                try:
                    return client.get(f"{orders.url}/ready").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready_again, timeout_s=90, what="orders back and ready")
            assert failures == [] and orders.restarts == 1
            assert not pid_alive(old)
    finally:
        stack.stop()


def test_a_component_killed_by_name_comes_back_and_a_paused_one_stays_down_until_resumed(tmp_path: Path) -> None:
    """What fault tests do to a running stack: ``kill(name)`` (SIGKILL, as a crash) and the supervisor starts it
    again; ``pause("smtp")`` is an outage the supervisor leaves alone until ``resume``; an unknown name is refused."""
    stack = LocalStack.on_free_ports(
        tmp_path / "var", env=clean_env(), service_commands=fake_commands(), restart_backoff_s=0.2
    )
    stack.start()
    try:
        with supervised(stack) as failures:
            orders = stack.children["orders"].component
            old_pid = stack.kill("orders")
            assert old_pid == orders.pid and not pid_alive(old_pid)
            assert not stack.restarted_and_ready("orders")
            wait_for(lambda: stack.restarted_and_ready("orders"), what="orders back after its kill")
            assert orders.pid != old_pid and orders.restarts == 1
            assert failures == []

        smtp = stack.smtp_component
        assert smtp is not None
        stack.pause("smtp")
        for _ in range(3):
            stack.supervise()
        assert not stack.restarted_and_ready("smtp") and not tcp_accepts(smtp.host, smtp.port) and smtp.restarts == 0
        stack.resume("smtp")
        wait_for(lambda: (stack.supervise(), stack.restarted_and_ready("smtp"))[1], what="smtp back after resume")
        assert tcp_accepts(smtp.host, smtp.port) and smtp.restarts == 1
        with pytest.raises(StackError, match="not paused"):
            stack.resume("smtp")
        with pytest.raises(StackError, match="no component"):
            stack.kill("billing")
    finally:
        stack.stop()


def test_a_killed_broker_is_started_again_on_its_port_with_its_topics(tmp_path: Path) -> None:
    """The bundled broker killed with SIGKILL: the supervisor starts it again on the same port (a memory broker:
    empty, with a new cluster id), creates every topic with the configured partitions before anyone else can,
    says so on the console and in the broker's log, and counts the restart; the services are left running."""
    said: list[str] = []
    stack = LocalStack.on_free_ports(
        tmp_path / "var", env=clean_env(), service_commands=fake_commands(), echo=said.append, restart_backoff_s=0.2
    )
    stack.start()
    try:
        with supervised(stack) as failures:
            broker = next(c for c in stack.components() if c.name == "broker")
            assert stack.broker is not None
            old_pid, old_cluster, port = broker.pid, stack.broker.started_cluster_id, broker.port
            stack.kill("broker")
            wait_for(lambda: broker.restarts == 1 and stack.restarted_and_ready("broker"), what="broker back")
            assert failures == []
            assert broker.pid != old_pid and broker.port == port and tcp_accepts(broker.host, port)
            assert stack.broker.started_cluster_id != old_cluster
            topics = run_coro_blocking(topic_partitions(stack.bootstrap, all_topics_with_dlq()))
            assert topics == dict.fromkeys(all_topics_with_dlq(), 3)
            log = Path(str(broker.log)).read_text()
            assert f"the Kafka broker exited with code -9; restarting it on port {port} in 0.2 s" in log
            assert any(line.startswith("broker restarted (pid") for line in said)
            assert all(c.restarts == 0 for c in stack.components() if c.kind == "service")
    finally:
        stack.stop()
