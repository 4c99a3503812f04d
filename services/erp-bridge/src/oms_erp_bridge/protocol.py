"""What the 1C exchange endpoint and its channels share: answers, the call's context, safe file names, the log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from oms_erp_bridge.db import exchange_log
from oms_erp_bridge.settings import Settings
from oms_shared.db import Database, utcnow

MAX_NAME = 200


class ExchangeFailure(Exception):
    """A refusal 1C shows its user: answered as ``failure\\n<message>``."""


@dataclass(frozen=True)
class Answer:
    """What a channel answers: ``success``/``progress``/``failure`` and lines for the 1C user."""

    status: str
    text: str = ""

    def body(self) -> str:
        return self.status + ("\n" + self.text if self.text else "")


@dataclass(frozen=True)
class Context:
    """One authenticated call: whose exchange, which session, where its files are, and the settings."""

    db: Database
    settings: Settings
    tenant_id: str
    session_id: str
    connection: Any  # the erp_connections row
    directory: Path

    def path_of(self, filename: str) -> Path:
        return self.directory / safe_name(filename)


def safe_name(filename: str) -> str:
    """A relative path inside the session directory, or ``ExchangeFailure`` (pitfall 2: ``..``, absolute)."""
    name = (filename or "").replace("\\", "/").strip()
    parts = PurePosixPath(name).parts
    if (
        not name
        or len(name) > MAX_NAME
        or "\x00" in name
        or name.startswith("/")
        or (len(parts) > 0 and ":" in parts[0])
        or any(p in ("..", ".", "") for p in parts)
    ):
        raise ExchangeFailure(f"refused file name {filename!r}: a relative name without '..' is expected")
    return "/".join(parts)


async def log_call(
    db: Database,
    *,
    tenant_id: str,
    kind: str,
    outcome: str,
    detail: str,
    session_id: str | None = None,
    filename: str | None = None,
    caller: str | None = None,
) -> None:
    now = utcnow()
    async with db.transaction() as tx:
        await tx.conn.execute(
            exchange_log.insert().values(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                kind=_loggable(kind, 50),  # the mode comes from the query string: any text, any length
                outcome=outcome,
                detail=_loggable(detail, 4000),
                started_at=now,
                finished_at=now,
                session_id=session_id,
                filename=_loggable(filename, 255) if filename is not None else None,
                caller=caller,
            )
        )


def _loggable(text: str, width: int) -> str:
    """Text from 1C as a column takes it: no NUL (PostgreSQL refuses it in text), at most ``width`` characters."""
    return text.replace("\x00", "\\x00")[:width]
