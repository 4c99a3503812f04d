"""The SMTP catcher stores what it receives as .eml files and refuses the addresses it is told to."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from oms_devstack.mailcatcher import MailCatcher, read_mailbox
from oms_devstack.procs import free_port, tcp_accepts
from tests.support.services import WAIT_SCALE


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[MailCatcher]:
    with MailCatcher(tmp_path / "mail", refuse={"Bad@Example.com"}, defer={"later@example.com"}) as running:
        yield running


def a_message(to: str = "manager@example.com", subject: str = "Order 42 confirmed") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "oms@example.com"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("Заказ 42 подтверждён.")  # non-ASCII bodies must survive the round trip
    return message


async def test_a_sent_message_is_stored_with_its_envelope_recipients(catcher: MailCatcher) -> None:
    assert catcher.port is not None
    await aiosmtplib.send(
        a_message(),
        hostname=catcher.host,
        port=catcher.port,
        recipients=["manager@example.com", "audit@example.com"],  # audit is a Bcc: envelope only
    )

    [caught] = await catcher.wait_for_messages(1, timeout_s=10 * WAIT_SCALE)

    assert caught.path.suffix == ".eml"
    assert caught.path.parent == catcher.directory
    assert caught.subject == "Order 42 confirmed"
    assert caught.envelope_to == ("manager@example.com", "audit@example.com")
    assert caught.envelope_from == "oms@example.com"
    assert "Заказ 42 подтверждён." in caught.body_text()
    assert caught.message["To"] == "manager@example.com"


async def test_a_refused_address_gets_a_permanent_5xx(catcher: MailCatcher) -> None:
    assert catcher.port is not None
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(a_message(to="bad@example.com"), hostname=catcher.host, port=catcher.port)

    [error] = refused.value.recipients
    assert error.code == 550
    assert catcher.messages() == []


async def test_a_deferred_address_gets_a_temporary_4xx(catcher: MailCatcher) -> None:
    assert catcher.port is not None
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(a_message(to="later@example.com"), hostname=catcher.host, port=catcher.port)
    assert refused.value.recipients[0].code == 451

    catcher.defer.clear()
    await aiosmtplib.send(a_message(to="later@example.com"), hostname=catcher.host, port=catcher.port)
    assert len(await catcher.wait_for_messages(1, timeout_s=10 * WAIT_SCALE)) == 1


async def test_messages_are_listed_in_arrival_order(catcher: MailCatcher) -> None:
    assert catcher.port is not None
    for n in range(3):
        await aiosmtplib.send(a_message(subject=f"m{n}"), hostname=catcher.host, port=catcher.port)
    assert [m.subject for m in await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)] == ["m0", "m1", "m2"]


def test_the_standalone_catcher_writes_eml_files_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    mail_dir = tmp_path / "mail"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oms_devstack.mailcatcher",
            "--port",
            str(port),
            "--dir",
            str(mail_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 8 * WAIT_SCALE
        while not tcp_accepts("127.0.0.1", port):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "the catcher did not listen in time"
            time.sleep(0.05)
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.send_message(a_message())
        [caught] = read_mailbox(mail_dir)
        assert caught.envelope_to == ("manager@example.com",)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
