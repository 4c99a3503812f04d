"""Two stacks side by side on one machine, as the README says, and `oms status` naming the stack it shows."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from oms_devstack import cli
from oms_devstack.components import SERVICES, read_state
from oms_devstack.procs import free_port
from tests.integration.devstack.test_localstack import clean_env, fake_commands, wait_until_dead


def readme_env(var: Path) -> dict[str, str]:
    """The README's second stack: its own OMS_VAR_DIR and its own ports (free ones here)."""
    env = {**clean_env(), "OMS_VAR_DIR": str(var), "OMS_NOTIFICATIONS_SMTP_PORT": str(free_port())}
    env.update({f"OMS_{s.env_name}_HTTP_PORT": str(free_port()) for s in SERVICES})
    return env


def status(var: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    monkeypatch.setenv("OMS_VAR_DIR", str(var))
    capsys.readouterr()
    code = cli.main(["status", "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_two_stacks_run_side_by_side_each_found_by_its_var_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second stack started with OMS_VAR_DIR, OMS_*_HTTP_PORT and `oms up --broker-port` runs beside the
    first; `oms status` with each var dir shows that stack, and `oms down` of one leaves the other running."""
    stacks = []
    for name in ("var", "var2"):
        env = readme_env(tmp_path / name)
        args = cli.build_parser().parse_args(["up", "--broker-port", str(free_port())])
        stack = cli.stack_from_env(args, env, service_commands=fake_commands())
        assert stack.var_dir == tmp_path / name
        assert stack.service_ports == {s.name: int(env[f"OMS_{s.env_name}_HTTP_PORT"]) for s in SERVICES}
        assert stack.broker_port == args.broker_port
        stacks.append(stack)
    try:
        for stack in stacks:
            stack.start()
        first, second = stacks
        assert set(first.urls.values()).isdisjoint(second.urls.values())
        assert first.bootstrap != second.bootstrap

        for stack in stacks:
            code, shown, heading = status(stack.var_dir, monkeypatch, capsys)
            assert code == 0 and all(s["ready"] for s in shown)
            assert {s["url"] for s in shown} >= set(stack.urls.values())
            assert f"the stack recorded in {stack.var_dir / 'stack.json'}" in heading

        pids = [c.pid for c in second.components() if c.pid is not None]
        monkeypatch.setenv("OMS_VAR_DIR", str(second.var_dir))
        assert cli.main(["down"]) == 0
        assert wait_until_dead(pids) == []
        assert read_state(second.var_dir) is None
        code, shown, _ = status(first.var_dir, monkeypatch, capsys)
        assert code == 0 and all(s["ready"] for s in shown)  # the first stack did not notice
    finally:
        for stack in stacks:
            stack.stop()


def test_status_without_a_stack_in_its_var_dir_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`oms status` with a var dir that holds no stack says which folder it looked in and that the addresses
    shown are only the defaults, instead of silently probing them."""
    for name in [k for k in os.environ if k.startswith("OMS_")]:
        monkeypatch.delenv(name)
    code, _shown, heading = status(tmp_path / "empty", monkeypatch, capsys)
    assert code == 1
    assert f"no stack found in {tmp_path / 'empty'}" in heading
    assert "the default addresses" in heading and "OMS_VAR_DIR=<dir> oms status" in heading
    monkeypatch.delenv("OMS_VAR_DIR")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert f"no stack found in {tmp_path / 'var'} (the default: OMS_VAR_DIR is not set" in err
