"""The operators' own tools accept the image, the alert rules, the scrape and the Alertmanager configuration."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from tests.unit.deploy.support import DEPLOY, ROOT, tool

PROMETHEUS = DEPLOY / "prometheus"


def run(*args: str, cwd: Path = ROOT) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_every_dockerfile_passes_hadolint_at_the_warning_threshold() -> None:
    """The image has a health check, exposed ports, a default command and a numeric user."""
    dockerfiles = sorted(ROOT.glob("**/Dockerfile"))
    dockerfiles = [d for d in dockerfiles if ".venv" not in d.parts]
    assert dockerfiles
    for dockerfile in dockerfiles:
        run(tool("hadolint"), "--failure-threshold", "warning", str(dockerfile))
    text = (DEPLOY / "Dockerfile").read_text()
    for instruction in ("HEALTHCHECK", "EXPOSE", "CMD"):
        assert re.search(rf"^{instruction} ", text, re.M), instruction
    assert re.search(r"^USER \d+$", text, re.M)


def test_the_proxy_configuration_passes_caddy_validate() -> None:
    """Caddy would start with the routing table compose and the cluster use."""
    output = run(tool("caddy"), "validate", "--config", str(DEPLOY / "caddy/Caddyfile"), "--adapter", "caddyfile")
    assert "Valid configuration" in output


def test_alert_rules_pass_promtool_and_their_unit_tests() -> None:
    """Every alert fires when it should and stays quiet when it should (deploy/prometheus/tests)."""
    promtool = tool("promtool")
    run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    run(promtool, "test", "rules", *map(str, sorted((PROMETHEUS / "tests").glob("*.yml"))))


def test_every_alert_has_a_unit_test_and_a_runbook_entry() -> None:
    """An alert nobody tested, or that the runbook does not explain, is not shipped."""
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    alerts = {rule["alert"] for rule in rules}
    tested = {
        case["alertname"]
        for path in (PROMETHEUS / "tests").glob("*.yml")
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts <= tested, alerts - tested
    runbook = (ROOT / "docs/operations.md").read_text()
    for alert in alerts:
        assert f"### {alert}" in runbook, alert


def test_the_scrape_configuration_passes_promtool(tmp_path: Path) -> None:
    """Prometheus would start with it: the configuration and its rule file, where compose mounts them."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    config["rule_files"] = [str(PROMETHEUS / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    run(tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml"))


def test_the_alertmanager_configuration_passes_amtool() -> None:
    """Alertmanager would start with it, and every alert reaches a receiver that sends e-mail."""
    output = run(tool("amtool"), "check-config", str(DEPLOY / "alertmanager/alertmanager.yml"))
    assert "SUCCESS" in output
    config = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    used = {config["route"]["receiver"], *(r["receiver"] for r in config["route"].get("routes", []))}
    assert used and all(receivers[name]["email_configs"] for name in used)


def test_alert_rules_name_only_metrics_the_services_export() -> None:
    """SREs watching Prometheus: every alert watches a metric that exists."""
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"][0]["rules"]
    named = {m for r in rules for m in re.findall(r"\b(oms_[a-z_]+)\b", r["expr"])}
    assert named and named <= exported_metrics(), named - exported_metrics()


def exported_metrics() -> set[str]:
    exported: set[str] = set()
    for path in [*(ROOT / "services").rglob("*.py"), *(ROOT / "shared" / "src").rglob("*.py")]:
        exported |= set(re.findall(r'"(oms_[a-z_]+)"', path.read_text(encoding="utf-8")))
    return exported
