"""LocalStack starts broker, topics, SMTP catcher and services on free ports and leaves nothing behind."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from oms_devstack import cli
from oms_devstack.components import SERVICE_NAMES, StackError, read_state
from oms_devstack.procs import PortInUseError, free_port, pid_alive
from oms_devstack.stack import LocalStack
from oms_shared.topics import all_topics_with_dlq
from tests.support.services import WAIT_SCALE

# A stand-in for a service console script: serves /ready on the port the stack assigned, records
# the environment it got, and leaves a grandchild that ignores SIGTERM (it must still be killed).
FAKE_SERVICE = r"""
import http.server, json, os, signal, subprocess, sys
name = sys.argv[1]
port = int(os.environ["OMS_" + name.upper().replace("-", "_") + "_HTTP_PORT"])
grandchild = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
with open(os.path.join(os.environ["OMS_VAR_DIR"], name + ".env.json"), "w") as fh:
    json.dump({**os.environ, "GRANDCHILD_PID": str(grandchild.pid)}, fh)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/drained":
            body = json.dumps({"service": name, "drained": name != "notifications"}).encode()
            self.send_response(503 if name == "notifications" else 200)
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200 if self.path == "/ready" else 404)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def fake_commands(**overrides: list[str]) -> dict[str, list[str]]:
    commands = {name: [sys.executable, "-c", FAKE_SERVICE, name] for name in SERVICE_NAMES}
    commands.update(overrides)
    return commands


def clean_env() -> dict[str, str]:
    # The developer's own OMS_* settings must not leak into a test stack.
    return {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}


def wait_until_dead(pids: list[int], timeout_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout_s * WAIT_SCALE
    while (alive := [p for p in pids if pid_alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


async def test_the_stack_starts_on_free_ports_wires_the_services_and_stops_everything(tmp_path: Path) -> None:
    stack = LocalStack.on_free_ports(tmp_path / "var", env=clean_env(), service_commands=fake_commands())
    stack.start()
    try:
        var = tmp_path / "var"
        state = read_state(var)
        assert state is not None
        assert {c["name"] for c in state["components"]} == {"broker", "smtp", *SERVICE_NAMES}
        assert state["urls"] == stack.urls

        orders_env = json.loads((var / "orders.env.json").read_text())
        assert orders_env["OMS_KAFKA_BOOTSTRAP"] == stack.bootstrap
        assert orders_env["OMS_VAR_DIR"] == str(var)
        assert orders_env["OMS_NOTIFICATIONS_SMTP_PORT"] == str(stack.smtp_port)
        assert orders_env["OMS_JWT_PUBLIC_KEY_FILE"] == str(var / "keys" / "jwt-public.pem")
        assert orders_env["OMS_ORDERS_JWT_PRIVATE_KEY_FILE"] == str(var / "keys" / "jwt-private.pem")
        for name in SERVICE_NAMES:
            svc = name.upper().replace("-", "_")
            assert orders_env[f"OMS_{svc}_BASE_URL"] == stack.url(name)
            assert orders_env[f"OMS_{svc}_HTTP_PORT"] == str(stack.service_ports[name])

        admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(all_topics_with_dlq())
        finally:
            await admin.close()
        assert all(len(t["partitions"]) == 3 for t in described)

        async with httpx.AsyncClient(trust_env=False) as client:
            for url in stack.urls.values():
                assert (await client.get(f"{url}/ready")).status_code == 200

        pids = [c.pid for c in stack.components() if c.pid is not None]
        grandchildren = [int(json.loads((var / f"{n}.env.json").read_text())["GRANDCHILD_PID"]) for n in SERVICE_NAMES]
    finally:
        stack.stop()

    assert wait_until_dead(pids + grandchildren) == []
    assert read_state(tmp_path / "var") is None


def test_status_and_down_work_from_the_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    var = tmp_path / "var"
    stack = LocalStack.on_free_ports(var, env=clean_env(), service_commands=fake_commands())
    stack.start()
    try:
        monkeypatch.setenv("OMS_VAR_DIR", str(var))
        capsys.readouterr()
        assert cli.main(["status", "--json"]) == 0
        statuses = json.loads(capsys.readouterr().out)
        assert len(statuses) == 2 + len(SERVICE_NAMES)
        assert all(s["ready"] and s["alive"] for s in statuses)
        # Each service says whether it is drained (GET /drained); the broker and the catcher have no say.
        drained = {s["component"]: s["drained"] for s in statuses}
        assert drained == {**{name: name != "notifications" for name in SERVICE_NAMES}, "broker": None, "smtp": None}
        assert cli.main(["status"]) == 0
        assert "drained" in capsys.readouterr().out

        pids = [c.pid for c in stack.components() if c.pid is not None]
        assert cli.main(["down"]) == 0
        assert wait_until_dead(pids) == []
        assert read_state(var) is None
        assert cli.main(["status"]) == 1
        assert cli.main(["down"]) == 0  # nothing running is fine
    finally:
        stack.stop()


def test_a_service_that_dies_fails_the_start_with_its_log_and_stops_the_rest(tmp_path: Path) -> None:
    crash = [sys.executable, "-c", "import sys; print('boom: no database'); sys.exit(3)"]
    stack = LocalStack.on_free_ports(tmp_path / "var", env=clean_env(), service_commands=fake_commands(inventory=crash))

    with pytest.raises(StackError, match=r"(?s)inventory .*exited with code 3.*boom: no database"):
        stack.start()

    started = [c for c in stack.components() if c.pid is not None]
    assert {c.name for c in started} == {"broker", "smtp", *SERVICE_NAMES}
    assert wait_until_dead([c.pid for c in started if c.pid is not None]) == []
    assert read_state(tmp_path / "var") is None


def test_a_service_port_in_use_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        stack = LocalStack(
            tmp_path / "var",
            broker_port=free_port(),
            smtp_port=0,
            service_ports={"orders": port, **{n: 0 for n in SERVICE_NAMES if n != "orders"}},
            env=clean_env(),
            service_commands=fake_commands(),
        )
        with pytest.raises(PortInUseError, match=rf"port {port} \(orders\)"):
            stack.start()
    assert stack.components() == [], "nothing may start when a port is taken"
