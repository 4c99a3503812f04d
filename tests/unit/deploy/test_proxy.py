"""The proxy's routing table sends every path of every service's API to that service, and the rest to the console."""

from __future__ import annotations

import functools
import importlib
import re
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.services import WAIT_SCALE
from tests.unit.deploy.support import DEPLOY, HTTP_PORTS, SERVICES, tool

CADDYFILE = DEPLOY / "caddy/Caddyfile"
# Served by every service for its operators (probes, scraping), not through the public origin.
INTERNAL = {"/health", "/ready", "/drained", "/metrics", "/asyncapi.json"}


def caddy_path_matches(pattern: str, path: str) -> bool:
    """Caddy's ``path`` matcher: a trailing ``*`` is a prefix, a ``*`` elsewhere stands for one path segment's text."""
    if pattern.endswith("*") and "*" not in pattern[:-1]:
        return path.startswith(pattern[:-1])
    regex = "".join("[^/]*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    return re.fullmatch(regex, path) is not None


def routing_table() -> list[tuple[str, list[str], list[str], str, int]]:
    """(matcher, paths, excluded paths, upstream, port) per ``handle @matcher``, in the Caddyfile's order."""
    text = CADDYFILE.read_text()
    matchers: dict[str, tuple[list[str], list[str]]] = {}
    for name, paths in re.findall(r"^\s*@([\w-]+) path (.+)$", text, re.M):
        matchers[name] = (paths.split(), [])
    for name, body in re.findall(r"^\s*@([\w-]+) \{\n(.*?)\n\s*\}", text, re.M | re.S):
        paths_in = re.search(r"^\s*path (.+)$", body, re.M)
        paths_out = re.search(r"^\s*not path (.+)$", body, re.M)
        matchers[name] = (
            paths_in.group(1).split() if paths_in else [],
            paths_out.group(1).split() if paths_out else [],
        )
    table: list[tuple[str, list[str], list[str], str, int]] = []
    for name, upstream, port in re.findall(r"handle @([\w-]+) \{\s*reverse_proxy \{\s*dynamic a ([\w-]+) (\d+)", text):
        include, exclude = matchers[name]
        table.append((name, include, exclude, upstream, int(port)))
    return table


def route(path: str) -> list[tuple[str, int]]:
    """Every upstream whose matcher takes ``path`` (the console when none does)."""
    hits = [
        (upstream, port)
        for _, include, exclude, upstream, port in routing_table()
        if any(caddy_path_matches(p, path) for p in include) and not any(caddy_path_matches(p, path) for p in exclude)
    ]
    return hits or [("console", HTTP_PORTS["console"])]


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Building orders' app makes its token keys in the var dir: a temporary one, not the checkout's."""
    var = tmp_path_factory.mktemp("var")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMS_VAR_DIR", str(var))
        yield var


@functools.cache
def openapi_paths(service: str, var_dir: Path) -> list[str]:
    """Every path of the service's OpenAPI document (the app is built, never started)."""
    package = f"oms_{service.replace('-', '_')}"
    settings = importlib.import_module(f"{package}.settings").Settings
    app = importlib.import_module(f"{package}.app").create_app(settings(database_url="sqlite+aiosqlite://"))
    return sorted(app.openapi()["paths"])


@pytest.mark.parametrize("service", SERVICES)
def test_every_path_of_a_service_reaches_that_service_and_no_other(service: str, var_dir: Path) -> None:
    """One origin: a client calls the same paths as on each service's own port, and each lands where it belongs."""
    paths = [p for p in openapi_paths(service, var_dir) if p not in INTERNAL]
    assert paths
    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "x1", path)
        assert route(concrete) == [(service, HTTP_PORTS[service])], path


def test_the_console_gets_everything_else_and_each_upstream_is_a_scaled_service() -> None:
    """People open the console at /; the upstreams are service names (every replica), on each service's port."""
    assert route("/") == [("console", 8100)]
    assert route("/orders/42") == [("console", 8100)]
    assert "handle {\n        reverse_proxy {\n            dynamic a console 8100" in CADDYFILE.read_text()
    upstreams = {(upstream, port) for *_, upstream, port in routing_table()}
    assert upstreams == {(s, HTTP_PORTS[s]) for s in SERVICES}


def test_caddy_path_matching_as_the_table_relies_on_it() -> None:
    """The emulation above: a prefix, and a wildcard that stays inside one segment."""
    assert caddy_path_matches("/api/v1/orders*", "/api/v1/orders/1/lines")
    assert caddy_path_matches("/api/v1/orders/*/reserves", "/api/v1/orders/1/reserves")
    assert not caddy_path_matches("/api/v1/orders/*/reserves", "/api/v1/orders/1/lines/2/reserves")
    assert not caddy_path_matches("/api/v1/orders/*/reserves", "/api/v1/orders/1/reserves/extra")


class Backend(BaseHTTPRequestHandler):
    """Stands for one service: answers any request with its own name."""

    name = ""

    def answer(self) -> None:
        self.send_response(200)
        self.send_header("X-Service", self.name)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = answer

    def log_message(self, format: str, *args: object) -> None:  # http.server's signature
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def caddy(tmp_path: Path) -> Iterator[str]:
    """The real Caddy with the real table, each upstream replaced by a stand-in on this machine; its base URL."""
    binary = tool("caddy")
    servers = []
    text = CADDYFILE.read_text().replace("admin 127.0.0.1:2019", "admin off")
    for name in HTTP_PORTS:
        backend = type(f"Backend_{name}", (Backend,), {"name": name})
        server = ThreadingHTTPServer(("127.0.0.1", 0), backend)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        text, count = re.subn(
            rf"dynamic a {name} {HTTP_PORTS[name]} \{{\s*refresh 5s\s*\}}",
            f"to 127.0.0.1:{server.server_address[1]}",
            text,
        )
        assert count == 1, name
    port = free_port()
    text = text.replace(":8080 {", f":{port} {{")
    (tmp_path / "Caddyfile").write_text(text)
    process = subprocess.Popen(
        [binary, "run", "--config", str(tmp_path / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)},
    )
    try:
        deadline = time.monotonic() + 30 * WAIT_SCALE
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "caddy did not open its port"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in servers:
            server.shutdown()
            server.server_close()


def test_real_caddy_routes_every_api_path_as_the_table_says(caddy: str, var_dir: Path) -> None:
    """Not only the emulation: Caddy itself sends each service's paths to it and the rest to the console."""
    expected = {"/": "console", "/orders/42": "console", "/static/app.css": "console"}
    for service in SERVICES:
        for path in openapi_paths(service, var_dir):
            if path not in INTERNAL:
                expected[re.sub(r"\{[^}]+\}", "x1", path)] = service
    for path, service in expected.items():
        with urllib.request.urlopen(caddy + path, timeout=10) as answer:
            assert answer.headers["X-Service"] == service, path
