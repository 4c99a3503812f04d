"""The production-like compose file agrees with the services' settings (we cannot run Docker here)."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


def test_every_service_is_wired_to_kafka_postgres_and_its_own_database() -> None:
    """Platform teams scale each service on its own: one compose service per OMS service, own database."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for infra in ("kafka", "postgres", "prometheus", "grafana", "mail"):
        assert infra in services
    targets = set(
        yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"][0][
            "static_configs"
        ][0]["targets"]
    )
    databases: set[str] = set()
    for name in SERVICES:
        module = importlib.import_module(f"oms_{name.replace('-', '_')}.settings")
        settings = module.Settings()
        prefix = f"OMS_{name.replace('-', '_').upper()}_"
        service = services[name]
        env = service["environment"]
        assert service["command"] == [f"oms-{name}"]
        assert env["OMS_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
        url = env[f"{prefix}DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
        databases.add(url.rsplit("/", 1)[1])
        assert service["ports"] == [f"{settings.http_port}:{settings.http_port}"]
        assert f"{name}:{settings.http_port}" in targets
    assert databases == set(services["postgres"]["environment"]["POSTGRES_MULTIPLE_DATABASES"].split(","))
    assert services["orders"]["environment"]["OMS_ORDERS_JWT_PRIVATE_KEY_FILE"] == "/keys/jwt-private.pem"


def test_alert_rules_load_and_name_only_metrics_the_services_export() -> None:
    """SREs watching Prometheus: every alert is wired into Prometheus and watches a metric that exists."""
    import re

    root = ROOT
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    mounted = " ".join(compose["services"]["prometheus"]["volumes"])
    assert "alerts.yml:/etc/prometheus/alerts.yml" in mounted
    assert "/etc/prometheus/alerts.yml" in yaml.safe_load((root / "deploy/prometheus/prometheus.yml").read_text())[
        "rule_files"
    ]
    rules = yaml.safe_load((root / "deploy/prometheus/alerts.yml").read_text())["groups"][0]["rules"]
    assert len(rules) >= 5 and all(r["alert"] and r["expr"] and r["annotations"]["summary"] for r in rules)
    exported = set()
    for path in [*(root / "services").rglob("*.py"), *(root / "shared" / "src").rglob("*.py")]:
        exported |= set(re.findall(r'"(oms_[a-z_]+)"', path.read_text(encoding="utf-8")))
    named = {m for r in rules for m in re.findall(r"\b(oms_[a-z_]+)\b", r["expr"])}
    assert named and named <= exported, named - exported


def test_only_orders_mounts_the_private_key_and_the_others_verify_with_its_published_keys() -> None:
    """The token private key is made 0600 and reaches orders alone; every other service gets the JWKS URL."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    mounting = {name for name, s in services.items() if any("oms-keys" in str(v) for v in s.get("volumes", []))}
    assert mounting == {"keys", "orders"}
    assert "chmod" not in " ".join(services["keys"]["command"]) and "0o644" not in " ".join(services["keys"]["command"])
    assert services["orders"]["environment"]["OMS_JWKS_URL"] == ""
    for name in SERVICES:
        if name != "orders":
            assert services[name]["environment"]["OMS_JWKS_URL"] == "http://orders:8101/.well-known/jwks.json"
            assert "OMS_JWT_PUBLIC_KEY_FILE" not in services[name]["environment"]


def test_the_console_reaches_every_service_by_its_compose_name() -> None:
    """The web console holds no database: it is wired to the five services and scraped like them; every
    service knows its public address for e-mail links."""
    from oms_console.settings import Settings as ConsoleSettings

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    console = compose["services"]["console"]
    env = console["environment"]
    port = ConsoleSettings().http_port
    assert console["command"] == ["oms-console"]
    assert console["ports"] == [f"{port}:{port}"]
    assert env["OMS_CONSOLE_HTTP_HOST"] == "0.0.0.0"
    assert "OMS_CONSOLE_DATABASE_URL" not in env
    for name in SERVICES:
        service_port = importlib.import_module(f"oms_{name.replace('-', '_')}.settings").Settings().http_port
        assert env[f"OMS_CONSOLE_{name.replace('-', '_').upper()}_URL"] == f"http://{name}:{service_port}"
        assert compose["services"][name]["environment"]["OMS_CONSOLE_PUBLIC_URL"].endswith(f":{port}")
    targets = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())["scrape_configs"][0][
        "static_configs"
    ][0]["targets"]
    assert f"console:{port}" in targets
    assert "./services/console" in (ROOT / "deploy/Dockerfile").read_text()
