"""The whole system as processes against the real broker: the story of the guide, chapter by chapter."""

from __future__ import annotations

import email
import os
import re
from collections.abc import AsyncIterator
from email import policy
from pathlib import Path

import httpx
import pytest

from oms_devstack.components import READY_TIMEOUT_S
from oms_devstack.demo import console_invitation
from oms_devstack.stack import LocalStack
from oms_devstack.story import play
from tests.support.databases import db_params, fresh_postgres_databases
from tests.support.services import WAIT_SCALE


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


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "orders"


def test_the_whole_story_through_the_services_a_real_broker_and_a_real_smtp_server(
    tmp_path: Path, stack_env: dict[str, str]
) -> None:
    """The whole product tour (the demo story), through public HTTP only.

    Thin slice (R-IN-1, R-ST-1, R-RSV-1, R-STK-2, R-NT-1, R-NT-2, R-AN-1): buyer orders two lines, the
    supplier confirms, availability drops, the order shows its reserve, both sides are told in-app and by
    e-mail, analytics counts it. Lifecycle (R-ED-1..4, R-ST-1/2, R-SPL-1, R-RSV-4): the manager edits
    quantity, price and VAT, adds and removes lines, sends for approval, the buyer agrees, the manager
    confirms, the order splits into in-stock and coming-soon parts, the in-stock part ships. Import
    (R-IN-3): a file saved by LibreOffice Calc is imported for the buyer and sent for approval; a bad one
    is refused row by row. Scarce stock (R-RSV-1..5, R-SPL-1): two buyers compete, the second order is cut
    into in-stock and coming-soon parts, rejecting the first frees stock that fills the waiting part, a
    manual reserve counts in availability. Notifications (R-NT-1..4): both inboxes, read per order, no
    failed e-mail, the catcher holds them. Analytics (R-AN-1/2): summaries by period, buyer and manager, a chart and an
    Excel file. ERP (R-ERP-1, R-ERP-5, R-ERP-6): 1C logs in over the CommerceML exchange, takes the confirmed
    orders (the split part too), confirms it took them, and sends back the order with a shipment of its first
    line: the order stays confirmed and shows what was shipped per line; with the second shipment it is shipped,
    by the ERP."""
    stack = LocalStack.on_free_ports(tmp_path / "var", env=stack_env, ready_timeout_s=READY_TIMEOUT_S * WAIT_SCALE)
    stack.start()
    pids = [c.pid for c in stack.components() if c.pid]
    try:
        assert stack.started_in_s is not None and stack.started_in_s < 60, stack.started_in_s
        lines: list[str] = []
        story = play(
            stack.urls,
            say=lines.append,
            facts={
                "import_file": FIXTURES / "import_libreoffice.xlsx",
                "out_dir": tmp_path / "demo",
                "mail_dir": stack.mail_dir,
            },
        )
        assert lines[-1] == "demo: the story played through", "\n".join(lines)
        number = story.facts["number"]
        assert len(story.facts["lifecycle_parts"]) == 1
        assert [Path(p).name for p in story.facts["analytics_files"]] == [
            "summary-chart.png",
            "summary-chart.svg",
            "summary-export.xlsx",
        ]
        assert (tmp_path / "demo" / "summary-chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # The file with bad rows shipped with the demo is refused row by row (sheet rows 3 to 6).
        refused = [line.strip() for line in lines if line.strip().startswith("refused: row")]
        assert [r.split(" (")[0] for r in refused] == [f"refused: row {n}" for n in (3, 4, 5, 6)], "\n".join(lines)
        assert story.facts["erp_partly_shipped"] == {"BOLT-M8": "10", "NUT-M8": "0"}
        assert story.facts["erp_shipped_order_id"] == story.facts["order_id"]
        assert any("('sale.query', 'success')" in line and "('sale.success', 'success')" in line for line in lines)
        mails = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in stack.mail_dir.glob("*.eml")]
        about_order = [m for m in mails if number in str(m["Subject"])]
        assert about_order, f"no e-mail about order {number} in {stack.mail_dir}: {[m['Subject'] for m in mails]}"
        recipients = {str(m["To"]) for m in about_order}
        assert any(story.facts["supplier"].email in r for r in recipients)
        assert any(story.facts["buyer"].email in r for r in recipients)
        # What the demo leaves, a person opens in the console with the login `oms demo` prints (R-UI-1, R-UI-4).
        printed = console_invitation(stack.urls, story.facts)
        assert stack.urls["console"] in printed
        _company, _person, login, password = story.facts["logins"]["supplier"]
        assert f"{login} / {password}" in printed
        with httpx.Client(base_url=stack.urls["console"], trust_env=False, timeout=30) as browser:
            form = browser.get(f"/orders/{story.facts['order_id']}", follow_redirects=True)
            assert form.status_code == 200 and 'action="/login"' in form.text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token, form.text[:500]
            signed_in = browser.post(
                "/login",
                data={
                    "csrf_token": token.group(1),
                    "email": login,
                    "password": password,
                    "next": f"/orders/{story.facts['order_id']}",
                },
                headers={"Origin": stack.urls["console"]},
                follow_redirects=True,
            )
            assert signed_in.status_code == 200, signed_in.text[:500]
            assert number in signed_in.text
    finally:
        stack.stop()
    assert len(pids) == 8  # the broker, the mail catcher, five services and the console
    assert [pid for pid in pids if _alive(pid)] == [], "processes left behind after stop"
