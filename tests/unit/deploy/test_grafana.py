"""Grafana opens with Prometheus and one dashboard per service plus an overview, each query on real metrics."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import yaml

from tests.unit.deploy.support import DEPLOY, HTTP_PORTS
from tests.unit.deploy.test_checks import exported_metrics

GRAFANA = DEPLOY / "grafana"
# FastStream's Kafka middleware (message RED); Prometheus' own series.
LIBRARY_METRICS = re.compile(
    r"^faststream_received_processed_messages(_total|_exceptions_total|_duration_seconds_bucket)$"
)


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oms_dashboards", GRAFANA / "dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_dashboards_are_what_the_generator_writes() -> None:
    """Edit deploy/grafana/dashboards.py, run it, commit both: the JSON never drifts from its source."""
    module = generator()
    boards = module.dashboards()
    committed = {p.name for p in (GRAFANA / "dashboards").glob("*.json")}
    assert committed == set(boards)
    for name, board in boards.items():
        assert (GRAFANA / "dashboards" / name).read_text() == module.render(board), name


def test_one_dashboard_per_service_and_an_overview_on_the_provisioned_data_source() -> None:
    """Operators find each service's RED, lag, outbox, dead letters and business figures in one place."""
    boards = generator().dashboards()
    assert set(boards) == {"oms-overview.json", *(f"oms-{name}.json" for name in HTTP_PORTS)}
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/oms.yml").read_text())["providers"][0]
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
    overview = " ".join(t["expr"] for p in boards["oms-overview.json"]["panels"] for t in p["targets"])
    for needed in (
        "oms_http_requests_total",
        "oms_http_request_duration_seconds_bucket",
        "faststream_received_processed_messages_total",
        "oms_consumer_lag",
        "oms_outbox_oldest_age_seconds",
        "oms_dlq_messages_total",
        "oms_inventory_reservations_total",
    ):
        assert needed in overview, needed
    for board in boards.values():
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == datasource["uid"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == datasource["uid"]


def test_every_query_names_a_metric_the_services_export() -> None:
    """A panel on a misspelt metric stays empty forever; here it fails instead."""
    known = exported_metrics()
    for name, board in generator().dashboards().items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                for metric in re.findall(r"\b((?:oms|faststream)_[a-z_]+)\b", target["expr"]):
                    base = re.sub(r"_(bucket|sum|count)$", "", metric)
                    assert base in known or metric in known or LIBRARY_METRICS.match(metric), (name, metric)
