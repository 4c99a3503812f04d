"""Who calls the ERP JSON API: the ERP with its own credential, or the supplier's owner (ADR 012).

The ERP authenticates with the exchange login of the supplier's connection — the login and password 1C already
uses for ``/exchange/1c`` — as HTTP Basic. It is a machine credential of the account: it sees and changes every
exported order of that supplier, and every call and change is recorded as ``ERP (<login>)``. A switched-off
connection is refused. People keep their tokens for the configuration routes; of the order routes a person may
call them only as the account's owner (a manager, restricted to their buyers or not, is refused: the order list
carries every buyer's name and INN, and a change applied as "the ERP" wins over everyone's).
"""

# No ``from __future__ import annotations``: FastAPI reads ``__call__``'s ``Request`` annotation at runtime, and an
# instance has no globals to resolve a string annotation in.
import asyncio
import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request

from oms_erp_bridge.db import connections
from oms_erp_bridge.exchange import _basic_credentials as basic_credentials  # the 1C endpoint's parser
from oms_shared.auth import Principal, current_principal
from oms_shared.db import Database
from oms_shared.errors import Forbidden, OmsError, Unauthorized
from oms_shared.passwords import check_password

CACHE_SIZE = 1024
TRACKED_LOGINS = 10_000  # logins with recent failures kept in memory (the oldest forgotten first)


class TooManyAttempts(OmsError):
    status = 429
    code = "too_many_attempts"


@dataclass(frozen=True)
class ErpCaller:
    """The tenant the call acts for, and how the exchange log and the order's history name the caller."""

    tenant_id: str
    name: str  # "ERP (<login>)" or "<owner's name> (owner)"
    user_id: str | None = None  # a person's user id; None for the ERP


class ErpAuth:
    """FastAPI dependency: the caller of an ERP order route, or 401/403 (429 after too many wrong passwords)."""

    def __init__(
        self, db: Database, cache_s: float = 300, max_failures: int = 10, failure_window_s: float = 300
    ) -> None:
        self.db = db
        self.cache_s = cache_s
        self.max_failures = max_failures
        self.failure_window_s = failure_window_s
        # (login, sha256(password)) → (the stored hash it matched, until when); a changed hash never matches.
        self._verified: OrderedDict[tuple[str, str], tuple[str, float]] = OrderedDict()
        # login → times of its recent failed attempts (this process): guessing is throttled, scrypt is not free.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    async def __call__(self, request: Request) -> ErpCaller:
        header = request.headers.get("authorization", "")
        if header.partition(" ")[0].lower() == "bearer":
            principal = await current_principal(request)
            if not (principal.is_supplier and principal.is_owner):
                raise Forbidden(
                    "the ERP order API takes the ERP's exchange login (HTTP Basic) or the account owner's token",
                    code="erp_credential_required",
                )
            return ErpCaller(str(principal.account_id), f"{principal.name or principal.user_id} (owner)",
                             str(principal.user_id))  # fmt: skip
        credentials = basic_credentials(request)
        if credentials is None:
            raise Unauthorized(
                "the ERP order API needs the exchange login and password (HTTP Basic)", code="missing_credentials"
            )
        login, password = credentials
        self._refuse_if_throttled(login)
        async with self.db.read() as conn:
            row = (await conn.execute(sa.select(connections).where(connections.c.login == login))).first()
        if row is None or not await self._check(login, password, row.password_hash):
            self._failed(login)
            raise Unauthorized("wrong exchange login or password", code="invalid_credentials")
        if not row.enabled:
            raise Forbidden("the exchange is switched off for this account", code="exchange_disabled")
        return ErpCaller(row.tenant_id, f"ERP ({row.login})")

    def _recent(self, login: str) -> deque[float]:
        attempts = self._failures.get(login) or deque()
        horizon = time.monotonic() - self.failure_window_s
        while attempts and attempts[0] < horizon:
            attempts.popleft()
        return attempts

    def _refuse_if_throttled(self, login: str) -> None:
        attempts = self._recent(login)
        if self.max_failures and len(attempts) >= self.max_failures:
            wait = max(1, int(attempts[0] + self.failure_window_s - time.monotonic()) + 1)
            raise TooManyAttempts(
                f"too many wrong passwords for this login: try again in {wait} s",
                details={"retry_after_s": wait},
            )

    def _failed(self, login: str) -> None:
        attempts = self._recent(login)
        attempts.append(time.monotonic())
        self._failures[login] = attempts
        self._failures.move_to_end(login)
        while len(self._failures) > TRACKED_LOGINS:
            self._failures.popitem(last=False)

    async def _check(self, login: str, password: str, stored: str) -> bool:
        key = (login, hashlib.sha256(password.encode()).hexdigest())
        now = time.monotonic()
        hit = self._verified.get(key)
        if hit is not None and hit[0] == stored and hit[1] > now:
            return True
        if not await asyncio.to_thread(check_password, password, stored):  # scrypt: off the event loop
            return False
        if self.cache_s > 0:
            self._verified[key] = (stored, now + self.cache_s)
            self._verified.move_to_end(key)
            while len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        return True


class ErpOrPerson:
    """FastAPI dependency for routes both the ERP and people call (``POST /stock``): HTTP Basic is the ERP's
    credential (as for the order routes); a bearer token is a person, admitted by ``check`` (which returns the
    tenant or raises)."""

    def __init__(self, auth: ErpAuth, check: Callable[[Principal], str]) -> None:
        self.auth = auth
        self.check = check

    async def __call__(self, request: Request) -> ErpCaller:
        if request.headers.get("authorization", "").partition(" ")[0].lower() == "basic":
            return await self.auth(request)
        principal = await current_principal(request)
        return ErpCaller(self.check(principal), principal.name or str(principal.user_id), str(principal.user_id))
