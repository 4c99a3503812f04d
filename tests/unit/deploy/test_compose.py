"""The production-like compose file: one origin, replicas that scale, health, storage, alerts that reach someone."""

from __future__ import annotations

import importlib
import subprocess

import yaml

from tests.unit.deploy.support import DEPLOY, HTTP_PORTS, ROOT, SERVICES, compose, tool, unread

INFRA = (
    "kafka",
    "postgres",
    "minio",
    "minio-bucket",
    "mail",
    "keys",
    "topics",
    "proxy",
    "prometheus",
    "alertmanager",
    "grafana",
)
ONE_SHOT = {"keys", "topics", "minio-bucket"}


def test_debian_docker_compose_parses_the_file() -> None:
    """Operators run it as written: Debian's docker-compose (v1) accepts the file."""
    result = subprocess.run(
        [tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_every_service_is_wired_to_kafka_postgres_and_its_own_database() -> None:
    """Platform teams scale each service on its own: one compose service per OMS service, own database."""
    services = compose()["services"]
    assert set(INFRA) <= set(services)
    databases: set[str] = set()
    for name in SERVICES:
        settings = importlib.import_module(f"oms_{name.replace('-', '_')}.settings").Settings()
        prefix = f"OMS_{name.replace('-', '_').upper()}_"
        service = services[name]
        env = service["environment"]
        assert service["command"] == [f"oms-{name}"]
        assert env["OMS_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env[f"{prefix}HTTP_HOST"] == "0.0.0.0"
        url = env[f"{prefix}DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
        databases.add(url.rsplit("/", 1)[1])
        # Prometheus finds each replica through this label, on the port the service listens on.
        assert service["labels"]["oms.metrics-port"] == str(settings.http_port)
        assert service["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    assert databases == set(services["postgres"]["environment"]["POSTGRES_MULTIPLE_DATABASES"].split(","))
    assert services["orders"]["environment"]["OMS_ORDERS_JWT_PRIVATE_KEY_FILE"] == "/keys/jwt-private.pem"


def test_scaled_services_publish_no_host_port_and_nothing_is_keyed_by_container_name() -> None:
    """`docker compose up --scale inventory=3` works: no fixed host port or container name can clash."""
    services = compose()["services"]
    for name in (*SERVICES, "console"):
        assert "ports" not in services[name], name
    for name, service in services.items():
        assert "container_name" not in service, name
    # The one way in for people and programs is the proxy.
    assert services["proxy"]["ports"] == ["8080:8080"]
    assert "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]


def test_every_long_running_container_has_a_healthcheck() -> None:
    """Compose (and operators) see a replica that is up but not ready: every service answers /ready."""
    services = compose()["services"]
    for name, service in services.items():
        if name in ONE_SHOT or name == "mail":
            continue
        assert service.get("healthcheck", {}).get("test"), name
    for name in SERVICES:
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py", "/ready"]


def test_order_documents_live_in_minio_shared_by_every_orders_replica() -> None:
    """Documents survive a recreated container and every replica sees them: S3 (MinIO), bucket made first."""
    services = compose()["services"]
    env = services["orders"]["environment"]
    assert env["OMS_ORDERS_DOCUMENT_STORE"] == "s3"
    assert env["OMS_ORDERS_S3_ENDPOINT_URL"] == "http://minio:9000"
    bucket = env["OMS_ORDERS_S3_BUCKET"]
    assert f"mb --ignore-existing oms/{bucket}" in " ".join(services["minio-bucket"]["command"])
    assert services["orders"]["depends_on"]["minio-bucket"] == {"condition": "service_completed_successfully"}
    assert env["OMS_ORDERS_S3_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]


def test_topics_are_set_up_from_settings_before_any_service_starts() -> None:
    """Partitions and replication come from settings, the same ones every service sees."""
    services = compose()["services"]
    topics = services["topics"]
    assert topics["command"] == ["oms-topics"]
    for name in SERVICES:
        env = services[name]["environment"]
        for key in ("OMS_KAFKA_BOOTSTRAP", "OMS_KAFKA_TOPIC_PARTITIONS", "OMS_KAFKA_REPLICATION_FACTOR"):
            assert env[key] == topics["environment"][key]


def test_e_mail_links_point_at_the_console_behind_the_proxy() -> None:
    """Links in e-mails open the console at the public address, never a container's 127.0.0.1."""
    services = compose()["services"]
    public = services["console"]["environment"]["OMS_CONSOLE_PUBLIC_URL"]
    assert public == "http://localhost:8080"
    assert services["notifications"]["environment"]["OMS_CONSOLE_PUBLIC_URL"] == public
    for name in SERVICES:
        assert services["console"]["environment"][f"OMS_CONSOLE_{name.replace('-', '_').upper()}_URL"] == (
            f"http://{name}:{HTTP_PORTS[name]}"
        )


def test_every_variable_compose_sets_for_oms_is_one_the_container_reads() -> None:
    """A misspelt setting is silently ignored by pydantic; here it fails instead."""
    for name, service in compose()["services"].items():
        command = service.get("command")
        if service.get("image") != "oms:latest" or not service.get("environment"):
            continue
        assert not unread(command, set(service["environment"])), (name, unread(command, set(service["environment"])))


def test_prometheus_discovers_replicas_and_alerts_go_to_alertmanager() -> None:
    """A second replica is scraped without editing anything; alerts reach the Alertmanager."""
    services = compose()["services"]
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    oms = next(job for job in config["scrape_configs"] if job["job_name"] == "oms")
    assert oms["docker_sd_configs"][0]["host"] == "unix:///var/run/docker.sock"
    assert "/var/run/docker.sock:/var/run/docker.sock:ro" in services["prometheus"]["volumes"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    assert "alerts.yml:/etc/prometheus/alerts.yml" in " ".join(services["prometheus"]["volumes"])
    assert "/etc/prometheus/alerts.yml" in config["rule_files"]
    alertmanager = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text())
    assert alertmanager["global"]["smtp_smarthost"] == "mail:1025"


def test_only_orders_mounts_the_private_key_and_the_others_verify_with_its_published_keys() -> None:
    """The token private key is made 0600 and reaches orders alone; every other service gets the JWKS URL."""
    services = compose()["services"]
    mounting = {name for name, s in services.items() if any("oms-keys" in str(v) for v in s.get("volumes", []))}
    assert mounting == {"keys", "orders"}
    assert "chmod" not in " ".join(services["keys"]["command"]) and "0o644" not in " ".join(services["keys"]["command"])
    assert services["orders"]["environment"]["OMS_JWKS_URL"] == ""
    for name in SERVICES:
        if name != "orders":
            assert services[name]["environment"]["OMS_JWKS_URL"] == "http://orders:8101/.well-known/jwks.json"
            assert "OMS_JWT_PUBLIC_KEY_FILE" not in services[name]["environment"]


def test_grafana_is_provisioned_with_its_data_source_and_dashboards() -> None:
    """Grafana opens with Prometheus and the OMS dashboards, nothing to click together."""
    grafana = compose()["services"]["grafana"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana["volumes"]
