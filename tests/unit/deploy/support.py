"""What the deployment tests share: the repository root, the command-line tools, what each service reads."""

from __future__ import annotations

import importlib
import os
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from oms_shared import settings as shared_settings
from oms_shared.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("local", "production")
SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")
HTTP_PORTS = {
    "console": 8100,
    "orders": 8101,
    "inventory": 8102,
    "notifications": 8103,
    "erp-bridge": 8104,
    "analytics": 8105,
}
IN_CI = os.environ.get("CI", "").lower() == "true"

# Read by the HTTP server every service runs (uvicorn): which peers may set the client address.
SERVER_VARIABLES = {"FORWARDED_ALLOW_IPS"}


def tool(name: str) -> str:
    """The path of a command-line tool; missing, the test skips (fails in CI, where .ci/run installs it)."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found:
        return found
    if IN_CI:
        pytest.fail(f"CI=true but {name} is not installed (.ci/run installs it)")
    pytest.skip(f"{name} is not installed")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def unprefixed_variables(*modules: ModuleType) -> set[str]:
    """``OMS_*`` variables settings modules read themselves, without a prefix (fallbacks for the whole stack)."""
    found: set[str] = set()
    for module in modules:
        text = Path(str(module.__file__)).read_text()
        found |= set(re.findall(r'(?:_env|environ\.get)\("(OMS_[A-Z_]+)"', text))
    return found


def variables_read_by(package: str) -> set[str]:
    """Every environment variable the settings of ``package`` (``oms_orders``) read."""
    module = importlib.import_module(f"{package}.settings")
    settings: type[BaseSettings] = module.Settings
    # Every service's runtime also reads the Kafka connection settings (OMS_KAFKA_SECURITY_PROTOCOL, ...).
    return (
        settings_variables(settings)
        | settings_variables(KafkaSettings)
        | unprefixed_variables(module, shared_settings)
        | SERVER_VARIABLES
    )


def settings_variables(settings: type[BaseSettings]) -> set[str]:
    """The variables a pydantic-settings class reads: prefix + field name, or the field's aliases."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    names: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if alias is None:
            names.add(prefix + name.upper())
        elif isinstance(alias, str):
            names.add(alias.upper())
        elif isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
    return names


def package_of(command: list[str]) -> str | None:
    """The service package a container's command runs: ``oms-erp-bridge`` or ``-m oms_shared.migrate erp-bridge``."""
    if command[:3] == ["python", "-m", "oms_shared.migrate"]:
        return "oms_" + command[3].replace("-", "_")
    if command and re.fullmatch(r"oms-[a-z-]+", command[0]) and command[0] != "oms-topics":
        return command[0].replace("-", "_")
    return None


def unread(command: list[str], names: set[str]) -> set[str]:
    """The names set for a container running ``command`` that nothing it runs reads."""
    if command and command[0] == "oms-topics":
        readable = settings_variables(KafkaSettings)
    else:
        package = package_of(command)
        assert package, f"not an OMS command: {command}"
        readable = variables_read_by(package)
    return names - readable
