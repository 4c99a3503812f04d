"""HTTP plumbing shared by every service: errors, correlation ids, Idempotency-Key, ops routes."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.dialects import postgresql, sqlite
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms_shared.db import Database, utcnow
from oms_shared.errors import OmsError
from oms_shared.logs import CORRELATION_HEADER, reset_correlation_id, set_correlation_id

log = logging.getLogger(__name__)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal is JSON ``{"error": {"code", "message", "details"}}``; never a bare 500."""

    @app.exception_handler(OmsError)
    async def _oms_error(_request: Request, exc: OmsError) -> JSONResponse:
        headers = getattr(exc, "headers", None)  # e.g. Retry-After of a 429
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in err.get("loc", ())[1:]) or "body", "reason": err.get("msg", "")}
            for err in exc.errors()
        ]
        return JSONResponse(
            error_body("validation_error", "the request is not valid; see details", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body("internal_error", "an unexpected error occurred"), status_code=500)


class CorrelationIdMiddleware:
    """Takes ``X-Correlation-ID`` from the request (or makes one) and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope.get("headers", []):
            if name.decode().lower() == CORRELATION_HEADER.lower():
                incoming = value.decode()[:128]
        token = set_correlation_id(incoming)
        from oms_shared.logs import current_correlation_id

        cid = current_correlation_id()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((CORRELATION_HEADER.encode(), cid.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_correlation_id(token)


class IdempotencyMiddleware:
    """Honours ``Idempotency-Key`` on POST/PUT/PATCH/DELETE: a repeat replays the first answer.

    The key is scoped to the verified caller (or the client address for anonymous calls); reusing
    a key for a different request is refused with 422, and a repeat while the first is still
    running gets 409. Server errors are not stored, so the client may retry them.
    """

    METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(
        self, app: ASGIApp, db_getter: Callable[[], Database | None], verifier_getter: Callable[[], Any]
    ) -> None:
        self.app = app
        self.db_getter = db_getter
        self.verifier_getter = verifier_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in self.METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        key = headers.get("idempotency-key", "").strip()
        db = self.db_getter()
        if not key or db is None:
            await self.app(scope, receive, send)
            return
        if len(key) > 200:
            await _send_json(send, 422, error_body("invalid_idempotency_key", "Idempotency-Key is longer than 200"))
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        scope_id = self._caller(headers, scope)
        digest = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        table = db.idempotency
        async with db.transaction() as tx:
            # One statement claims the key; the stored row is read only when someone holds it already.
            claimed = await tx.conn.execute(
                _insert_ignoring_conflict(tx.conn.dialect.name, table).values(
                    scope=scope_id, key=key, request_hash=digest, created_at=utcnow()
                )
            )
            row = None
            if claimed.rowcount != 1:
                row = (
                    await tx.conn.execute(sa.select(table).where(table.c.scope == scope_id, table.c.key == key))
                ).first()
                if row is None:  # claimed and released (a 5xx) between the two statements: ours now
                    await tx.conn.execute(
                        table.insert().values(scope=scope_id, key=key, request_hash=digest, created_at=utcnow())
                    )
        if row is not None:
            if row.request_hash != digest:
                await _send_json(
                    send, 422, error_body("idempotency_key_reused", "this Idempotency-Key was used for another request")
                )
            elif row.status_code is None:
                await _send_json(send, 409, error_body("request_in_progress", "a request with this key is running"))
            else:
                stored_headers = [(k.encode(), v.encode()) for k, v in json.loads(row.response_headers or "[]")]
                stored_headers.append((b"idempotent-replayed", b"true"))
                await send({"type": "http.response.start", "status": row.status_code, "headers": stored_headers})
                await send({"type": "http.response.body", "body": row.response_body or b""})
            return

        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        resp_headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, resp_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                resp_headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture)
        finally:
            async with db.transaction() as tx:
                where = sa.and_(table.c.scope == scope_id, table.c.key == key)
                if status >= 500:
                    await tx.conn.execute(table.delete().where(where))
                else:
                    kept = [
                        (k.decode(), v.decode())
                        for k, v in resp_headers
                        if k.decode().lower() in ("content-type", "etag", "location")
                    ]
                    await tx.conn.execute(
                        table.update()
                        .where(where)
                        .values(status_code=status, response_body=b"".join(chunks), response_headers=json.dumps(kept))
                    )

    def _caller(self, headers: dict[str, str], scope: Scope) -> str:
        auth = headers.get("authorization", "")
        verifier = self.verifier_getter()
        if auth.lower().startswith("bearer ") and verifier is not None:
            try:
                principal = verifier.verify(auth[7:].strip())
                return f"user:{principal.user_id}"
            except Exception:
                pass
        client = scope.get("client") or ("anonymous", 0)
        return f"anon:{client[0]}"


def _insert_ignoring_conflict(dialect: str, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL."""
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise RuntimeError(f"Idempotency-Key storage supports SQLite and PostgreSQL, not {dialect}")


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": payload})


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
