"""Run a service in-process against the real broker and database, and talk to it over HTTP."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from oms_shared.auth import Principal, issue_token
from tests.support.documented import undocumented_answers

# Every wait for a condition scales with this (e.g. 3 on a heavily shared runner).
WAIT_SCALE = float(os.environ.get("OMS_TEST_WAIT_SCALE", "1"))


@asynccontextmanager
async def running_service(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (migrations, broker, relay, consumer) and yield an HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    # The service's OpenAPI document must declare every answer the test saw it give (checked after a test
    # body that passed; a failing one reports its own error).
    undocumented = undocumented_answers(app)
    assert not undocumented, "answers missing from the OpenAPI document:\n" + "\n".join(undocumented)


def token_for(
    private_key_file: Path,
    *,
    account_id: uuid.UUID | None = None,
    kind: str = "supplier",
    owner: bool = True,
    access: dict[str, str] | None = None,
    restricted: bool = False,
    user_id: uuid.UUID | None = None,
) -> str:
    """A signed token as orders would issue it (for testing services other than orders)."""
    principal = Principal(
        user_id=user_id or uuid.uuid4(),
        account_id=account_id or uuid.uuid4(),
        account_kind=kind,  # type: ignore[arg-type]
        is_owner=owner,
        access=access or {},
        restricted_to_own_buyers=restricted,
    )
    return issue_token(private_key_file.read_bytes(), principal)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any], timeout: float = 60.0, interval: float = 0.1
) -> Any:
    """Retry ``check`` until it stops raising AssertionError (or returns truthy); returns its value.

    The deadline is generous (a consumer joining its group on a busy CI runner takes seconds) and scales with
    ``OMS_TEST_WAIT_SCALE``; a check that holds returns at once, so a passing test never waits for it."""
    deadline = asyncio.get_running_loop().time() + timeout * WAIT_SCALE
    while True:
        try:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result is None or result:
                return result
            raise AssertionError(f"condition still false: {result!r}")
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(interval)
