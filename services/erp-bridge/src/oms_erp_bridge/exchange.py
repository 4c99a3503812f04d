"""The 1C "exchange with a website" endpoint (CommerceML 2): one URL, the mode in the query string (R-ERP-1).

1C calls ``/exchange/1c?type=catalog|sale&mode=…`` and reads plain-text answers whose first line is
``success``, ``progress`` or ``failure`` (further lines are shown to the 1C user), so every refusal is an
HTTP 200 with ``failure`` and a reason, never a bare 4xx/5xx. ``checkauth`` takes HTTP Basic credentials
(the supplier's ERP connection) and opens a session named by a cookie; every file of a session is kept in
its own directory, so two 1C nodes or a repeated ``init`` never clobber each other. Files arrive in pieces
of at most ``file_limit`` bytes and are appended. What to do with them is the channels' business:
``catalog_exchange`` (products, prices, stock) and ``sale_exchange`` (orders both ways). Every call is
logged with its outcome (R-ERP-6); credentials never are.

With the connection's ``zip`` on, ``init`` answers ``zip=yes`` and 1C sends its files packed in one archive; the
archive is unpacked (``archive``: every entry checked first, in a worker thread) as soon as it is whole, and its
files are then those of the session, as if sent one by one. Files are deleted once imported, a catalog session's
directory at ``mode=complete``, and ``sweep_sessions`` deletes the directories of sessions idle for longer than
``session_ttl_s`` (they cannot be used any more).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import math
import secrets
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_erp_bridge import archive, catalog_exchange, sale_exchange
from oms_erp_bridge.db import connections, files, sessions
from oms_erp_bridge.protocol import Answer, Context, ExchangeFailure, log_call, safe_name
from oms_erp_bridge.settings import Settings
from oms_shared.db import Database, utcnow
from oms_shared.openapi import THROTTLED
from oms_shared.passwords import check_password
from oms_shared.throttle import AttemptGuard, RateLimiter

log = logging.getLogger(__name__)

COOKIE = "oms_exchange"
CHANNELS = ("catalog", "sale")


def _text(answer: str) -> Response:
    return Response(answer, media_type="text/plain; charset=utf-8")


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    # 1C sends the login in the Windows code page when it is not ASCII.
    text = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("cp1251")
    login, sep, password = text.partition(":")
    return (login, password) if sep else None


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _checkauth(db: Database, settings: Settings, request: Request, channel: str) -> str:
    credentials = _basic_credentials(request)
    if credentials is None:
        raise ExchangeFailure("no credentials: set the exchange login and password in 1C")
    login, password = credentials
    async with db.read() as conn:
        row = (await conn.execute(sa.select(connections).where(connections.c.login == login))).first()
    if row is None or not await asyncio.to_thread(check_password, password, row.password_hash):
        raise ExchangeFailure("wrong exchange login or password")
    if not row.enabled:
        raise ExchangeFailure("the exchange is switched off for this account")
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    async with db.transaction() as tx:
        await tx.conn.execute(
            sessions.insert().values(
                id=session_id, tenant_id=row.tenant_id, channel=channel, created_at=now, last_seen_at=now
            )
        )
    await asyncio.to_thread((Path(settings.files_dir) / session_id).mkdir, parents=True, exist_ok=True)
    await log_call(db, tenant_id=row.tenant_id, kind=f"{channel}.checkauth", outcome="success", detail=f"login {login}",
               session_id=session_id)  # fmt: skip
    return session_id


async def _context(db: Database, settings: Settings, request: Request) -> Context:
    session_id = request.cookies.get(COOKIE) or request.query_params.get("sessid") or ""
    now = utcnow()
    async with db.read() as conn:
        query = sa.select(sessions).where(sessions.c.id == session_id)
        session = (await conn.execute(query)).first() if session_id else None
        if session is None or now - session.last_seen_at > timedelta(seconds=settings.session_ttl_s):
            raise ExchangeFailure("no exchange session: 1C must call mode=checkauth first")
        connection = (
            await conn.execute(sa.select(connections).where(connections.c.tenant_id == session.tenant_id))
        ).one()
    if session.created_at < connection.updated_at:
        # The connection (its login or password among it) was set after this session began: the session
        # ends, so one who logged in with an old password keeps nothing.
        raise ExchangeFailure("the exchange connection changed: 1C must call mode=checkauth again")
    if not connection.enabled:
        raise ExchangeFailure("the exchange is switched off for this account")
    async with db.transaction() as tx:
        await tx.conn.execute(sessions.update().where(sessions.c.id == session_id).values(last_seen_at=now))
    return Context(
        db=db,
        settings=settings,
        tenant_id=session.tenant_id,
        session_id=session_id,
        connection=connection,
        directory=Path(settings.files_dir) / session_id,
    )


async def _receive_file(ctx: Context, filename: str, body: bytes) -> Any:
    """Append a piece to the session's file (pieces of one file share its name), within the limits."""
    name = safe_name(filename)
    if len(body) > ctx.settings.file_limit_bytes:
        raise ExchangeFailure(f"a piece of {len(body)} bytes is more than file_limit={ctx.settings.file_limit_bytes}")
    async with ctx.db.transaction() as tx:
        used = await tx.conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(files.c.size), 0)).where(files.c.session_id == ctx.session_id)
        )
        if int(used or 0) + len(body) > ctx.settings.max_session_bytes:
            raise ExchangeFailure(f"this exchange sent more than {ctx.settings.max_session_bytes} bytes in all")
        row = (
            await tx.conn.execute(
                sa.select(files).where(files.c.session_id == ctx.session_id, files.c.filename == name)
            )
        ).first()
        if row is not None and row.size + len(body) > ctx.settings.max_file_bytes:
            raise ExchangeFailure(f"{name} is larger than {ctx.settings.max_file_bytes} bytes")
        path = ctx.path_of(name)

        def append() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as fh:  # pitfall 2: pieces are appended, never overwritten
                fh.write(body)

        await asyncio.to_thread(append)  # a piece is up to file_limit bytes: not on the event loop
        if row is None:
            await tx.conn.execute(
                files.insert().values(
                    session_id=ctx.session_id,
                    tenant_id=ctx.tenant_id,
                    filename=name,
                    size=len(body),
                    received_at=utcnow(),
                    cursor=0,
                    outcome=None,
                    detail="",
                )
            )
        else:
            await tx.conn.execute(files.update().where(files.c.id == row.id).values(size=row.size + len(body)))
        return (
            await tx.conn.execute(
                sa.select(files).where(files.c.session_id == ctx.session_id, files.c.filename == name)
            )
        ).one()


async def _file_row(ctx: Context, filename: str) -> Any:
    name = safe_name(filename)
    async with ctx.db.read() as conn:
        row = (
            await conn.execute(sa.select(files).where(files.c.session_id == ctx.session_id, files.c.filename == name))
        ).first()
    if row is None:
        raise ExchangeFailure(f"{name} was not received in this exchange session")
    return row


def _throttled(guard: AttemptGuard | None, request: Request) -> Response | None:
    """429 with Retry-After when this address or login tried ``checkauth`` too often (a 1C node retries later)."""
    if guard is None:
        return None
    credentials = _basic_credentials(request)
    ip = request.client.host if request.client else "unknown"
    wait = guard.wait_for(ip, credentials[0] if credentials else "")
    if wait <= 0:
        return None
    seconds = max(1, math.ceil(wait))
    log.warning("exchange checkauth from %s throttled for %d s", ip, seconds)
    return Response(
        f"failure\ntoo many login attempts; try again in {seconds} s",
        status_code=429,
        media_type="text/plain; charset=utf-8",
        headers={"Retry-After": str(seconds)},
    )


def checkauth_guard(settings: Settings) -> AttemptGuard:
    return AttemptGuard(
        RateLimiter(settings.checkauth_per_ip_burst, settings.checkauth_per_ip_per_minute),
        RateLimiter(settings.checkauth_per_login_burst, settings.checkauth_per_login_per_minute),
        what="exchange login",
    )


async def handle(db: Database, settings: Settings, request: Request, guard: AttemptGuard | None = None) -> Response:
    """One call of the protocol; the answer is always plain text, a failure included."""
    params = request.query_params
    channel = params.get("type", "")
    mode = params.get("mode", "")
    filename = params.get("filename") or None
    kind = f"{channel}.{mode}"
    tenant = ""
    session_id: str | None = None
    try:
        if channel not in CHANNELS:
            raise ExchangeFailure(f"unknown type {channel!r}: catalog or sale expected")
        if mode == "checkauth":
            refused = _throttled(guard, request)
            if refused is not None:
                return refused
            sid = await _checkauth(db, settings, request, channel)
            return _text(f"success\n{COOKIE}\n{sid}\nsessid={sid}")
        ctx = await _context(db, settings, request)
        tenant, session_id = ctx.tenant_id, ctx.session_id
        answer = await _dispatch(ctx, request, channel, mode, filename)
    except ExchangeFailure as exc:
        answer = Answer("failure", str(exc))
    except Exception as exc:  # never a bare 500 to 1C: it shows the reason, and the call can be repeated
        log.exception("exchange call %s failed", kind)
        answer = Answer("failure", f"internal error ({type(exc).__name__}); the exchange can be repeated")
    if isinstance(answer, Response):
        return answer
    if tenant:
        await log_call(db, tenant_id=tenant, kind=kind, outcome=answer.status, detail=answer.text,
                   session_id=session_id, filename=filename)  # fmt: skip
    else:
        log.info("exchange call %s refused before authentication: %s", kind, answer.text)
    return _text(answer.body())


async def _dispatch(ctx: Context, request: Request, channel: str, mode: str, filename: str | None) -> Answer | Response:
    if mode == "init":
        # Without zip 1C sends the XML files themselves, with zip one archive of them; in pieces of file_limit bytes.
        text = f"zip={'yes' if ctx.connection.zip else 'no'}\nfile_limit={ctx.settings.file_limit_bytes}"
        if request.query_params.get("version"):
            text += f"\nsessid={ctx.session_id}\nversion={request.query_params['version']}"
        await log_call(ctx.db, tenant_id=ctx.tenant_id, kind=f"{channel}.init", outcome="success", detail=text,
                   session_id=ctx.session_id)  # fmt: skip
        return _text(text)
    if mode == "file":
        if not filename:
            raise ExchangeFailure("mode=file needs filename=")
        row = await _receive_file(ctx, filename, await request.body())
        if ctx.connection.zip and await asyncio.to_thread(archive.is_zip, ctx.path_of(row.filename)):
            return await _zip_received(ctx, channel, row)
        if channel == "sale":
            return await sale_exchange.file_received(ctx, row)
        return Answer("success", f"{row.filename}: {row.size} bytes")
    if mode == "import":
        if not filename:
            raise ExchangeFailure("mode=import needs filename=")
        row = await _file_row(ctx, filename)
        if channel == "sale":
            return await sale_exchange.import_file(ctx, row)
        answer = await catalog_exchange.import_step(ctx, row)
        if answer.status == "success":  # imported whole: its outcome is in the database, the bytes can go
            await asyncio.to_thread(ctx.path_of(row.filename).unlink, missing_ok=True)
        return answer
    if channel == "sale" and mode == "query":
        return await sale_exchange.query(ctx)
    if channel == "sale" and mode == "success":
        return await sale_exchange.success(ctx)
    if channel == "catalog" and mode == "complete":
        await asyncio.to_thread(shutil.rmtree, ctx.directory, True)  # the session's files are all imported
        return Answer("success")
    raise ExchangeFailure(f"unknown mode {mode!r} for type={channel}")


# --- zip=yes ---------------------------------------------------------------------------------------------------


def zip_limits(settings: Settings) -> archive.ZipLimits:
    return archive.ZipLimits(
        max_entries=settings.zip_max_entries,
        max_entry_bytes=settings.max_file_bytes,
        max_total_bytes=settings.max_session_bytes,
        max_ratio=settings.zip_max_ratio,
    )


async def _zip_received(ctx: Context, channel: str, row: Any) -> Answer:
    """A piece of an archive arrived: once the archive is whole, unpack it and take its files as the session's."""
    path = ctx.path_of(row.filename)
    try:
        unpacked = await asyncio.to_thread(archive.unpack, path, ctx.directory, zip_limits(ctx.settings))
    except archive.Incomplete:
        return Answer("success", f"{row.filename}: received {row.size} bytes")
    except ExchangeFailure as exc:
        await asyncio.to_thread(path.unlink, missing_ok=True)
        async with ctx.db.transaction() as tx:
            await tx.conn.execute(
                files.update().where(files.c.id == row.id).values(kind="zip", outcome="failure", detail=str(exc)[:4000])
            )
        raise
    await asyncio.to_thread(path.unlink, missing_ok=True)
    rows = await _register_unpacked(ctx, row, unpacked)
    head = f"{row.filename}: unpacked {len(unpacked)} files"
    if channel != "sale":
        return Answer("success", "\n".join([head, *(f"{r.filename}: {r.size} bytes" for r in rows[:60])]))
    answers = [await sale_exchange.file_received(ctx, r) for r in rows if r.filename.lower().endswith(".xml")]
    status = "failure" if any(a.status == "failure" for a in answers) else "success"
    return Answer(status, "\n".join([head, *(a.text for a in answers)]))


async def _register_unpacked(ctx: Context, zip_row: Any, unpacked: list[tuple[str, int]]) -> list[Any]:
    """The archive's files become the session's received files (a file of the same name sent before is replaced)."""
    now = utcnow()
    names = [name for name, _ in unpacked]
    async with ctx.db.transaction() as tx:
        for name, size in unpacked:
            fresh = {"size": size, "received_at": now, "kind": None, "cursor": 0, "total": None, "outcome": None}
            done = await tx.conn.execute(
                files.update()
                .where(files.c.session_id == ctx.session_id, files.c.filename == name)
                .values(detail="", **fresh)
            )
            if not done.rowcount:
                await tx.conn.execute(
                    files.insert().values(
                        session_id=ctx.session_id, tenant_id=ctx.tenant_id, filename=name, detail="", **fresh
                    )
                )
        detail = f"unpacked: {', '.join(names[:60])}" + (", …" if len(names) > 60 else "")
        await tx.conn.execute(
            files.update().where(files.c.id == zip_row.id).values(kind="zip", outcome="success", detail=detail[:4000])
        )
        found = await tx.conn.execute(
            sa.select(files).where(files.c.session_id == ctx.session_id, files.c.filename.in_(names))
        )
        by_name = {r.filename: r for r in found}
    return [by_name[name] for name in names]


# --- cleaning up ------------------------------------------------------------------------------------------------


async def sweep_sessions(db: Database, settings: Settings) -> int:
    """Delete the directories of sessions idle for longer than ``session_ttl_s`` (and of ones without a session);
    returns how many were deleted."""
    root = Path(settings.files_dir)
    names = await asyncio.to_thread(lambda: [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else [])
    if not names:
        return 0
    cutoff = utcnow() - timedelta(seconds=settings.session_ttl_s)
    alive: set[str] = set()
    async with db.read() as conn:
        for i in range(0, len(names), 500):
            found = await conn.scalars(
                sa.select(sessions.c.id).where(sessions.c.id.in_(names[i : i + 500]), sessions.c.last_seen_at >= cutoff)
            )
            alive.update(found)

    def remove(stale: list[str]) -> int:
        removed = 0
        horizon = time.time() - settings.session_ttl_s
        for name in stale:
            path = root / name
            try:
                if path.stat().st_mtime > horizon:
                    continue  # made a moment ago by a checkauth whose row another replica's read may not see yet
            except OSError:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        return removed

    removed = await asyncio.to_thread(remove, [n for n in names if n not in alive])
    if removed:
        log.info("deleted the files of %d finished or abandoned exchange sessions", removed)
    return removed


def build_exchange_router(db: Database, settings: Settings) -> APIRouter:
    router = APIRouter(tags=["1c-exchange"])
    guard = checkauth_guard(settings)  # per replica: see docs/adr/011

    summary = "1C exchange with a website (CommerceML 2): checkauth, init, file, import, query, success"

    @router.get(
        "/exchange/1c",
        summary=summary,
        response_class=Response,
        operation_id="exchange_1c_get",
        responses=THROTTLED,
    )
    async def exchange_get(request: Request) -> Response:
        return await handle(db, settings, request, guard)

    @router.post(
        "/exchange/1c",
        summary=summary,
        response_class=Response,
        operation_id="exchange_1c_post",
        responses=THROTTLED,
    )
    async def exchange_post(request: Request) -> Response:
        return await handle(db, settings, request, guard)

    return router
