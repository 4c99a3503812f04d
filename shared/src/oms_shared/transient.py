"""Which database errors are transient: the same work will succeed when it is simply tried again later.

A consumer retries these in place, for as long as they last, instead of dead-lettering the event: a
PostgreSQL failover (connections refused or cut for 10-30 s), a serialization failure or a deadlock, a lock
that timed out, SQLite's "database is locked". Everything else may fail again the same way and goes through
the bounded attempts. The classification looks at exception types and PostgreSQL SQLSTATEs along the whole
chain (SQLAlchemy wraps the driver's error, asyncpg's carries the SQLSTATE).
"""

from __future__ import annotations

import errno
import sqlite3
from typing import Literal

import sqlalchemy as sa

# The database cannot be reached at all: not ready until it can.
UNAVAILABLE: Literal["unavailable"] = "unavailable"
# The database answered, but this try lost a race (serialization, deadlock, lock wait): try again.
CONTENTION: Literal["contention"] = "contention"
Kind = Literal["unavailable", "contention"]

_UNAVAILABLE_SQLSTATES = {
    "57P01",  # admin_shutdown (the server is going down: failover, restart)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, recovering)
    "53300",  # too_many_connections
    "25006",  # read_only_sql_transaction (writing to a former primary during a failover)
}
_CONTENTION_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout, NOWAIT)
}
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 16:
        current = todo.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [getattr(current, "orig", None), current.__cause__]
    return seen


def _one(exc: BaseException) -> Kind | None:
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return UNAVAILABLE
    if isinstance(exc, sa.exc.DisconnectionError | sa.exc.TimeoutError):  # pool checkout timed out
        return UNAVAILABLE
    state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(state, str) and state:
        if state.startswith("08") or state in _UNAVAILABLE_SQLSTATES:
            return UNAVAILABLE
        if state == "55000" and "not currently accepting connections" in str(exc):
            return UNAVAILABLE  # ALTER DATABASE ... ALLOW_CONNECTIONS false, for maintenance
        if state in _CONTENTION_SQLSTATES:
            return CONTENTION
    if isinstance(exc, sqlite3.OperationalError) and any(m in str(exc).lower() for m in _SQLITE_BUSY):
        return CONTENTION
    if isinstance(exc, ConnectionError | TimeoutError):
        return UNAVAILABLE
    if isinstance(exc, OSError):
        if exc.errno in _NETWORK_ERRNOS:
            return UNAVAILABLE
        # asyncio's create_connection to a name with several addresses: "Multiple exceptions: [Errno 111] ..."
        if exc.errno is None and ("Connect call failed" in str(exc) or "Multiple exceptions" in str(exc)):
            return UNAVAILABLE
    return None


def transient_kind(exc: BaseException) -> Kind | None:
    """``"unavailable"``, ``"contention"`` or ``None`` (not transient: it may well fail again)."""
    kinds = {k for k in (_one(e) for e in _chain(exc)) if k is not None}
    if UNAVAILABLE in kinds:
        return UNAVAILABLE
    return CONTENTION if kinds else None


def is_transient(exc: BaseException) -> bool:
    return transient_kind(exc) is not None
