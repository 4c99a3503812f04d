"""A real Prometheus (Debian's package) scrapes the local stack: every service is up, a business figure moves."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from oms_devstack.components import READY_TIMEOUT_S
from oms_devstack.procs import free_port
from oms_devstack.stack import LocalStack
from oms_devstack.story import Story, chapter_thin_slice
from tests.support.services import WAIT_SCALE

SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Prometheus is not installed (apt-get install prometheus); CI must run this test")
        pytest.skip("Prometheus is not installed (apt-get install prometheus)")
    return found


def scrape_config(urls: dict[str, str]) -> str:
    jobs = []
    for service in SERVICES:
        target = urlparse(urls[service]).netloc
        jobs.append(
            f"  - job_name: {service}\n    metrics_path: /metrics\n    static_configs:\n      - targets: ['{target}']\n"
        )
    return "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n" + "".join(jobs)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    local = LocalStack.on_free_ports(tmp_path / "var", env=env, ready_timeout_s=READY_TIMEOUT_S * WAIT_SCALE)
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture
def prometheus(tmp_path: Path, stack: LocalStack) -> Iterator[str]:
    binary = prometheus_binary()
    config = tmp_path / "prometheus.yml"
    config.write_text(scrape_config(stack.urls))
    check = subprocess.run(
        [shutil.which("promtool") or "promtool", "check", "config", str(config)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout * WAIT_SCALE
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, ValueError) as exc:  # not listening yet, or "starting up" as plain text
            last = exc
        else:
            if last:
                return last
        time.sleep(0.5)
    raise AssertionError(f"{what}: still not so after {timeout:.0f} s (last: {last!r})")


def query(client: httpx.Client, base: str, promql: str) -> list[dict[str, Any]]:
    answer = client.get(f"{base}/api/v1/query", params={"query": promql}).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def test_prometheus_sees_every_service_up_and_the_orders_placed_figure_move(stack: LocalStack, prometheus: str) -> None:
    """The services' /metrics are scraped by a real Prometheus; placing an order moves its counter."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:

        def every_target_up() -> dict[str, str] | None:
            targets = client.get(f"{prometheus}/api/v1/targets").json()["data"]["activeTargets"]
            health = {t["labels"]["job"]: t["health"] for t in targets}
            return health if health == {s: "up" for s in SERVICES} else None

        wait_for("every service scraped and up", every_target_up)
        # Known label sets exist before anything happened: the first order and the first dead letter count.
        placed = wait_for("the orders figure at 0", lambda: query(client, prometheus, "oms_orders_placed_total"))
        assert {r["metric"]["how"]: float(r["value"][1]) for r in placed} == {"placed": 0.0, "imported": 0.0}
        assert query(client, prometheus, 'oms_dlq_messages_total{job="inventory"}')

        story = Story(urls=stack.urls, client=client, say=lambda _line: None)
        chapter_thin_slice(story)

        def moved() -> list[dict[str, Any]]:
            return query(client, prometheus, 'oms_orders_placed_total{how="placed"} >= 1')

        wait_for("an order placed shows in Prometheus", moved)
        lag = wait_for("consumer lag exported", lambda: query(client, prometheus, 'oms_consumer_lag{job="inventory"}'))
        assert {r["metric"]["group"] for r in lag} == {"oms-inventory"}
