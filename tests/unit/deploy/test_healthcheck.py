"""The image's health check asks the service the container runs, on the port its settings say."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType

import pytest

from tests.unit.deploy.support import DEPLOY

INVENTORY = b"/usr/local/bin/python\0/usr/local/bin/oms-inventory\0"


def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oms_healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Answers(BaseHTTPRequestHandler):
    """/ready answers 200, anything else 503 (a service that is up but not ready)."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    monkeypatch.setenv("OMS_INVENTORY_HTTP_PORT", str(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthy_when_the_service_answers_2xx_on_the_port_from_its_settings(service: ThreadingHTTPServer) -> None:
    """An `OMS_INVENTORY_HTTP_PORT` override is honoured; 503 on the asked path is unhealthy."""
    check = healthcheck()
    assert check.main(["/ready"], cmdline=INVENTORY) == 0
    assert check.main(["/health"], cmdline=INVENTORY) == 1


def test_unhealthy_when_nothing_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service that died or has not opened its port yet."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    port = server.server_address[1]
    server.server_close()
    monkeypatch.setenv("OMS_INVENTORY_HTTP_PORT", str(port))
    assert healthcheck().main(["/ready"], cmdline=INVENTORY) == 1


def test_one_shot_tasks_are_not_services() -> None:
    """The topic setup and the key maker run the same image and exit; they have no port to ask."""
    check = healthcheck()
    assert check.service_module(b"/usr/local/bin/python\0/usr/local/bin/oms-topics\0") is None
    assert check.service_module(b"python\0-c\0from oms_shared.auth import generate_keypair\0") is None
    assert check.service_module(INVENTORY) == "oms_inventory"
    assert check.main([], cmdline=b"python\0-c\0pass\0") == 0
