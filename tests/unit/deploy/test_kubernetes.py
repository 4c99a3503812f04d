"""The Kubernetes manifests: every overlay renders (tests/unit/deploy/kustomize.py) and validates offline
against the Kubernetes API schemas (kubernetes-validate, schemas bundled); what operators rely on holds in each."""

from __future__ import annotations

import functools
import importlib
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy.kustomize import build
from tests.unit.deploy.support import DEPLOY, HTTP_PORTS, OVERLAYS, SERVICES, unread

K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"
# Made by the operator, never rendered in production (docs/operations.md, "Secrets").
OPERATOR_SECRETS = {
    "oms-orders-signing-key",
    "oms-orders-s3",
    *(f"oms-{name}-database" for name in SERVICES),
}
Resource = dict[str, Any]


@functools.cache
def render(overlay: str) -> dict[tuple[str, str], Resource]:
    """Rendered once per overlay; the tests only read it."""
    return {(r["kind"], r["metadata"]["name"]): r for r in build(K8S / "overlays" / overlay)}


def pod(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def env_names(resources: dict[tuple[str, str], Resource], container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(resources[("ConfigMap", source["configMapRef"]["name"])]["data"])
    return names


def env_value(resources: dict[tuple[str, str], Resource], container: dict[str, Any], name: str) -> str | None:
    value = None
    for source in container.get("envFrom", []):  # the last source wins
        value = resources[("ConfigMap", source["configMapRef"]["name"])]["data"].get(name, value)
    return value


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    """What `kubectl apply -k` would send is valid Kubernetes (KEDA's ScaledObject is checked below)."""
    resources = render(overlay)
    for (kind, name), resource in resources.items():
        if kind == "ScaledObject":
            continue
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{overlay}: {kind}/{name}: {error.message} at {list(error.path)}")
        assert resource["metadata"].get("namespace") or kind == "Namespace", (kind, name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_deployment_service_budget_probes_limits_and_scrape_annotations(overlay: str) -> None:
    """Operators get the same shape for all six services: what Kubernetes needs to roll, route, drain and watch."""
    resources = render(overlay)
    for name, port in HTTP_PORTS.items():
        deployment = resources[("Deployment", name)]
        container = pod(deployment)["containers"][0]
        assert container["command"] == [f"oms-{name}"]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health"
        assert container["readinessProbe"]["httpGet"]["path"] == ("/health" if name == "console" else "/ready")
        assert container["startupProbe"]["httpGet"]["path"] == "/health"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod(deployment)["securityContext"]["runAsNonRoot"] is True
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
        service = resources[("Service", name)]
        assert service["spec"]["ports"][0]["port"] == port
        assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
        budget = resources[("PodDisruptionBudget", name)]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_a_migration_job_on_its_own_database(overlay: str) -> None:
    """Schema changes run before the new version takes traffic: one Job per service, the same image and settings."""
    resources = render(overlay)
    for name in SERVICES:
        job = resources[("Job", f"{name}-migrate")]
        container = pod(job)["containers"][0]
        assert container["command"] == ["python", "-m", "oms_shared.migrate", name]
        service = pod(resources[("Deployment", name)])["containers"][0]
        assert container["image"] == service["image"]
        assert container["envFrom"] == service["envFrom"]
        assert f"OMS_{name.replace('-', '_').upper()}_DATABASE_URL" in {e["name"] for e in container["env"]}
    assert pod(resources[("Job", "topics")])["containers"][0]["command"] == ["oms-topics"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_orders_gets_the_private_key(overlay: str) -> None:
    """The signing key reaches one Deployment; everyone else verifies with orders' published keys (ADR 011)."""
    resources = render(overlay)
    holders = {
        name
        for (kind, name), r in resources.items()
        if kind in {"Deployment", "Job"}
        for v in pod(r).get("volumes", [])
        if v.get("secret", {}).get("secretName") == "oms-orders-signing-key"
    }
    assert holders == {"orders"}
    copy = pod(resources[("Deployment", "orders")])["initContainers"][0]["command"][-1]
    assert "install -D -m 0600 /secret/jwt-private.pem /var/lib/oms/keys/jwt-private.pem" in copy
    orders = pod(resources[("Deployment", "orders")])["containers"][0]
    assert env_value(resources, orders, "OMS_ORDERS_JWT_PRIVATE_KEY_FILE") == "/var/lib/oms/keys/jwt-private.pem"
    assert env_value(resources, orders, "OMS_JWKS_URL") == ""
    for name in SERVICES:
        if name != "orders":
            container = pod(resources[("Deployment", name)])["containers"][0]
            assert env_value(resources, container, "OMS_JWKS_URL") == "http://orders:8101/.well-known/jwks.json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_variable_the_manifests_set_is_one_the_container_reads(overlay: str) -> None:
    """A misspelt setting in a ConfigMap is silently ignored by pydantic; here it fails instead."""
    resources = render(overlay)
    for (kind, name), resource in resources.items():
        if kind not in {"Deployment", "Job"}:
            continue
        for container in pod(resource)["containers"]:
            if not container["image"].split(":")[0].endswith("oms"):
                continue
            assert not unread(container["command"], env_names(resources, container)), (kind, name)


def test_an_unknown_variable_is_caught() -> None:
    """The check above is not vacuous."""
    assert unread(["oms-inventory"], {"OMS_INVENTORY_HTTP_HOTS", "OMS_INVENTORY_HTTP_HOST"}) == {
        "OMS_INVENTORY_HTTP_HOTS"
    }
    assert unread(["python", "-m", "oms_shared.migrate", "orders"], {"OMS_INVENTORY_DATABASE_URL"})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_the_pods_use_are_rendered_or_made_by_the_operator(overlay: str) -> None:
    """Nothing waits for a Secret nobody makes: local renders them (but the signing key), production none."""
    resources = render(overlay)
    used: set[str] = set()
    for (kind, _), resource in resources.items():
        if kind not in {"Deployment", "Job"}:
            continue
        for volume in pod(resource).get("volumes", []):
            if "secret" in volume:
                used.add(volume["secret"]["secretName"])
        for container in pod(resource)["containers"]:
            for env in container.get("env", []):
                if "secretKeyRef" in env.get("valueFrom", {}):
                    used.add(env["valueFrom"]["secretKeyRef"]["name"])
    rendered = {name for kind, name in resources if kind == "Secret"}
    assert used - rendered <= OPERATOR_SECRETS
    if overlay == "production":
        assert not rendered
    runbook = (DEPLOY.parent / "docs/operations.md").read_text()
    for secret in OPERATOR_SECRETS:
        assert secret in runbook, secret


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_consumer_scales_once_and_never_beyond_its_partitions(overlay: str) -> None:
    """Lag-driven (KEDA) or CPU autoscaling, one autoscaler per Deployment, at most one replica per partition."""
    resources = render(overlay)
    common = resources[("ConfigMap", "oms-common")]["data"]
    partitions = int(common["OMS_KAFKA_TOPIC_PARTITIONS"])
    assert int(common["OMS_KAFKA_REPLICATION_FACTOR"]) >= 1
    for name in HTTP_PORTS:
        hpa = resources.get(("HorizontalPodAutoscaler", name))
        scaled = resources.get(("ScaledObject", name))
        assert (hpa is None) != (scaled is None), name
        if hpa is not None:
            assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
            assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
            assert hpa["spec"]["maxReplicas"] <= partitions
            continue
        assert scaled is not None and name in SERVICES
        spec = scaled["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        kafka = next(t for t in spec["triggers"] if t["type"] == "kafka")["metadata"]
        settings = importlib.import_module(f"oms_{name.replace('-', '_')}.settings").Settings()
        assert kafka["consumerGroup"] == settings.resolved_group()
        assert kafka["bootstrapServers"] == common["OMS_KAFKA_BOOTSTRAP"]
        assert kafka["allowIdleConsumers"] == "false"
        assert int(kafka["lagThreshold"]) > 0
        assert {t["type"] for t in spec["triggers"]} == {"kafka", "cpu"}
    if overlay == "production":
        assert {name for kind, name in resources if kind == "ScaledObject"} == set(SERVICES)


def test_the_proxy_in_the_cluster_routes_with_the_same_table_as_compose() -> None:
    """One routing table (deploy/caddy/Caddyfile), tested once, used in both."""
    resources = render("production")
    assert resources[("ConfigMap", "oms-proxy")]["data"]["Caddyfile"] == (DEPLOY / "caddy/Caddyfile").read_text()
    ingress = resources[("Ingress", "oms")]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "proxy"


def test_every_kustomization_is_valid_yaml_with_its_resources_present() -> None:
    """A kustomization that names a missing file fails here, not at `kubectl apply`."""
    for path in K8S.rglob("kustomization.yaml"):
        kustomization = yaml.safe_load(path.read_text())
        for entry in kustomization.get("resources", []):
            assert (path.parent / entry).exists(), (path, entry)
