"""The proxy's routing table sends every path of every service's API to that service, and the rest to the console."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.unit.deploy.support import DEPLOY, HTTP_PORTS, SERVICES

CADDYFILE = DEPLOY / "caddy/Caddyfile"
# Served by every service for its operators (probes, scraping), not through the public origin.
INTERNAL = {"/health", "/ready", "/metrics", "/asyncapi.json"}


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


def openapi_paths(service: str, tmp_path: Path) -> list[str]:
    package = f"oms_{service.replace('-', '_')}"
    settings = importlib.import_module(f"{package}.settings").Settings
    app = importlib.import_module(f"{package}.app").create_app(
        settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    )
    return sorted(app.openapi()["paths"])


@pytest.mark.parametrize("service", SERVICES)
def test_every_path_of_a_service_reaches_that_service_and_no_other(service: str, tmp_path: Path) -> None:
    """One origin: a client calls the same paths as on each service's own port, and each lands where it belongs."""
    paths = [p for p in openapi_paths(service, tmp_path) if p not in INTERNAL]
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
