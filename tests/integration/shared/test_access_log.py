"""Every HTTP request is counted and timed per route in /metrics, and leaves one JSON access-log line."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import httpx
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families

from oms_shared.errors import OmsError
from oms_shared.logs import JsonFormatter
from tests.integration.shared.test_service_runtime import build_app
from tests.support.documented import undocumented_answers
from tests.support.services import bearer, running_service, token_for


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_requests_are_counted_timed_and_logged_by_route(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """/metrics has request counts by route template, method and status and a latency histogram; each request
    leaves a JSON line with method, route, status, duration, correlation id and the signed-in user."""
    runtime = build_app(database_url, service_env)
    app = runtime.build_app()
    lines = _Lines()
    access = logging.getLogger("oms.access")
    access.addHandler(lines)
    user_id = uuid.uuid4()
    token = token_for(keys[0], user_id=user_id)
    try:
        async with running_service(app) as client:
            for _ in range(2):
                r = await client.post("/things", json={"n": 1}, headers={**bearer(token), "X-Correlation-ID": "c-42"})
                assert r.status_code == 200, r.text
            assert (await client.post("/things", json={"n": 1})).status_code == 401
            assert (await client.get(f"/no/such/{uuid.uuid4()}")).status_code == 404
            text = (await client.get("/metrics")).text
    finally:
        access.removeHandler(lines)

    counts = _samples(text, "oms_http_requests_total")
    service = runtime.settings.service_name

    def key(method: str, route: str, status: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted({"service": service, "method": method, "route": route, "status": status}.items()))

    assert counts[key("POST", "/things", "200")] == 2
    assert counts[key("POST", "/things", "401")] == 1
    assert counts[key("GET", "unmatched", "404")] == 1  # an unknown path makes no series of its own
    latency = _samples(text, "oms_http_request_duration_seconds_count")
    assert latency[tuple(sorted({"service": service, "method": "POST", "route": "/things"}.items()))] == 3

    things = [line for line in lines.lines if line.get("route") == "/things"]
    assert len(things) == 3
    signed_in = things[0]
    assert signed_in["http_method"] == "POST" and signed_in["status"] == 200 and signed_in["level"] == "INFO"
    assert signed_in["correlation_id"] == "c-42"  # the id the response echoed finds the line
    assert signed_in["user_id"] == str(user_id)
    assert isinstance(signed_in["duration_ms"], float) and signed_in["duration_ms"] >= 0
    anonymous = things[2]
    assert anonymous["status"] == 401 and anonymous["user_id"] is None and anonymous["correlation_id"]


async def test_an_answer_the_document_lacks_is_caught(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """The check every in-process service test runs: an answer its OpenAPI document does not declare is named."""
    runtime = build_app(database_url, service_env)
    router = APIRouter()

    @router.get("/teapot")
    async def teapot() -> None:
        raise OmsError("short and stout", code="teapot")  # 400, which the document does not declare

    runtime.routers.append(router)
    app = runtime.build_app()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/teapot")).status_code == 400
            assert (await client.post("/things", json={"n": 1})).status_code == 401
    assert undocumented_answers(app) == ["GET /teapot answered 400, documented [200]"]
