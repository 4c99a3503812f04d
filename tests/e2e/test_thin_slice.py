"""The whole system as processes against the real broker: the thin slice of the guide (issue 2)."""

from __future__ import annotations

import email
import os
from collections.abc import AsyncIterator
from email import policy
from pathlib import Path

import pytest

from oms_shared.devstack.stack import LocalStack
from oms_shared.devstack.story import play
from tests.support.databases import db_params, fresh_postgres_databases


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


SERVICES = ("orders", "inventory", "notifications", "erp-bridge", "analytics")


@pytest.fixture(params=db_params())
async def stack_env(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, str]]:
    """The stack decides its own broker and ports; databases are SQLite files, or fresh PostgreSQL ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")}
    if request.param == "sqlite":
        yield env
        return
    async with fresh_postgres_databases(len(SERVICES)) as urls:
        for service, url in zip(SERVICES, urls, strict=True):
            env[f"OMS_{service.replace('-', '_').upper()}_DATABASE_URL"] = url
        yield env


def test_buyer_orders_supplier_confirms_stock_is_reserved_and_everyone_is_told(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """Issue 2, item 8 (R-IN-1, R-ST-1, R-RSV-1, R-STK-2, R-NT-1, R-NT-2, R-AN-1): five service processes,
    a real Kafka-protocol broker, SQLite, a real SMTP catcher; every step through public HTTP."""
    stack = LocalStack.on_free_ports(tmp_path / "var", env=stack_env)
    stack.start()
    pids = [c.pid for c in stack.components() if c.pid]
    try:
        assert stack.started_in_s is not None and stack.started_in_s < 60, stack.started_in_s
        lines: list[str] = []
        story = play(stack.urls, say=lines.append)
        number = story.facts["number"]
        mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in stack.mail_dir.glob("*.eml")]
        about_order = [m for m in mails if number in str(m["Subject"])]
        assert about_order, f"no e-mail about order {number} in {stack.mail_dir}: {[m['Subject'] for m in mails]}"
        recipients = {str(m["To"]) for m in about_order}
        assert any(story.facts["supplier"].email in r for r in recipients)
        assert any(story.facts["buyer"].email in r for r in recipients)
    finally:
        stack.stop()
    assert len(pids) == 7
    assert [pid for pid in pids if _alive(pid)] == [], "processes left behind after stop"
