"""An SMTP catcher (aiosmtpd) that stores every message as an ``.eml`` file, for the local stack and tests."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import FrameType, TracebackType
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from oms_devstack.procs import PortInUseError, free_port, port_is_free

ENVELOPE_FROM_HEADER = "X-Envelope-From"
ENVELOPE_TO_HEADER = "X-Envelope-To"
DEFAULT_DIR = Path("var") / "mail"


@dataclass(frozen=True)
class CaughtMessage:
    """One stored message: the parsed e-mail plus the SMTP envelope it arrived with."""

    path: Path
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    def body_text(self) -> str:
        """The plain-text body (or the HTML one when there is no plain part)."""
        part = self.message.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
        return content if isinstance(content, str) else content.decode("utf-8", errors="replace")


def read_message(path: Path) -> CaughtMessage:
    """Parse one stored ``.eml`` file."""
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    rcpts = str(message.get(ENVELOPE_TO_HEADER, ""))
    return CaughtMessage(
        path=path,
        envelope_from=str(message.get(ENVELOPE_FROM_HEADER, "")),
        envelope_to=tuple(r.strip() for r in rcpts.split(",") if r.strip()),
        message=message,
    )


def read_mailbox(directory: Path | str) -> list[CaughtMessage]:
    """Every message stored under ``directory``, oldest first (works for a catcher in another process)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    # Names start with a UTC timestamp and a zero-padded counter, so name order is arrival order.
    return [read_message(p) for p in sorted(root.glob("*.eml"))]


class _Handler:
    """aiosmtpd handler: refuses or defers configured recipients, writes accepted messages to disk."""

    def __init__(self, directory: Path, refuse: set[str], defer: set[str]) -> None:
        self.directory = directory
        self.refuse = refuse
        self.defer = defer
        self._counter = itertools.count(1)

    # aiosmtpd finds its hooks by these exact names (handle_RCPT, handle_DATA).
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        normalized = address.lower()
        if normalized in self.refuse:
            return f"550 5.1.1 <{address}>: recipient address rejected"
        if normalized in self.defer:
            # A temporary failure lets tests exercise the sender's retry path.
            return f"451 4.3.0 <{address}>: temporarily unavailable, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        sender = envelope.mail_from or ""
        # Envelope recipients differ from To/Cc for Bcc and lists, and tests assert on them.
        prefix = (
            f"{ENVELOPE_FROM_HEADER}: {sender}\r\n{ENVELOPE_TO_HEADER}: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        await asyncio.to_thread(self._store, prefix + raw)
        return "250 2.0.0 Message accepted for delivery"

    def _store(self, data: bytes) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        n = next(self._counter)
        # Unique per message even when two arrive in the same microsecond (stores run in threads).
        tmp = self.directory / f".{stamp}-{n:06d}-{os.getpid()}.tmp"
        tmp.write_bytes(data)
        try:
            while True:
                final = self.directory / f"{stamp}-{n:06d}.eml"
                try:
                    # link() never overwrites (another catcher may share the directory), and readers
                    # never see a half-written .eml.
                    os.link(tmp, final)
                    return final
                except FileExistsError:
                    n = next(self._counter)
        finally:
            tmp.unlink(missing_ok=True)


class MailCatcher:
    """An SMTP server in a background thread; ``port=None`` picks a free port."""

    def __init__(
        self,
        directory: Path | str = DEFAULT_DIR,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        refuse: Iterable[str] = (),
        defer: Iterable[str] = (),
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self._handler = _Handler(self.directory, {a.lower() for a in refuse}, {a.lower() for a in defer})
        self._controller: Controller | None = None

    @property
    def refuse(self) -> set[str]:
        """Recipients answered with 550 at RCPT; mutable while running (compare lower-case)."""
        return self._handler.refuse

    @property
    def defer(self) -> set[str]:
        """Recipients answered with 451 at RCPT; mutable while running (compare lower-case)."""
        return self._handler.defer

    def start(self) -> None:
        if self._controller is not None:
            return
        if self.port is None:
            self.port = free_port(self.host)
        elif not port_is_free(self.host, self.port):
            raise PortInUseError(self.host, self.port, "SMTP catcher")
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = Controller(self._handler, hostname=self.host, port=self.port, server_hostname="oms-mailcatcher")
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[CaughtMessage]:
        """Every message received so far (as stored on disk), oldest first."""
        return read_mailbox(self.directory)

    def clear(self) -> None:
        for path in self.directory.glob("*.eml"):
            path.unlink(missing_ok=True)

    async def wait_for_messages(self, count: int = 1, timeout_s: float = 10.0) -> list[CaughtMessage]:
        """Wait until at least ``count`` messages are stored; raise ``TimeoutError`` otherwise."""
        deadline = time.monotonic() + timeout_s
        while True:
            found = self.messages()
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} messages in {self.directory}, found {len(found)}")
            await asyncio.sleep(0.05)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the catcher in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m oms_devstack.mailcatcher", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where .eml files go (default var/mail)")
    parser.add_argument("--refuse", action="append", default=[], metavar="ADDRESS", help="answer 550 at RCPT")
    parser.add_argument("--defer", action="append", default=[], metavar="ADDRESS", help="answer 451 at RCPT")
    args = parser.parse_args(argv)

    catcher = MailCatcher(args.dir, host=args.host, port=args.port, refuse=args.refuse, defer=args.defer)
    try:
        catcher.start()
    except PortInUseError as exc:
        print(f"mailcatcher: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    print(f"mailcatcher: listening on {args.host}:{catcher.port}, writing {args.dir.resolve()}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        with contextlib.suppress(Exception):
            catcher.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
