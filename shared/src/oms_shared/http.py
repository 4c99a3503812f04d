"""HTTP plumbing shared by every service: errors, correlation ids, Idempotency-Key, ops routes."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy.dialects import postgresql, sqlite
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms_shared.db import Database, RequestKey, current_request_key, utcnow
from oms_shared.errors import OmsError
from oms_shared.logs import CORRELATION_HEADER, current_correlation_id, reset_correlation_id, set_correlation_id
from oms_shared.transient import transient_kind

log = logging.getLogger(__name__)
access_log = logging.getLogger("oms.access")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    return body


TEMPORARILY_UNAVAILABLE = error_body(
    "temporarily_unavailable", "the database is busy or unavailable; try again shortly"
)


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
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
            413: "body_too_large",
        }.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    def _temporarily_unavailable(exc: Exception) -> JSONResponse:
        # The database is busy (a lock held by another writer, SQLite's "database is locked"), restarting or
        # out of reach: nothing was committed, and the same request will do once it is back.
        log.warning("database busy or unavailable: %s", exc.__class__.__name__)
        return JSONResponse(TEMPORARILY_UNAVAILABLE, status_code=503, headers={"Retry-After": "1"})

    # The errors a database (or the way to it) raises are answered here, inside the app: the catch-all handler
    # below runs in Starlette's outermost middleware, which raises the exception again after answering, so the
    # server logged every 503 of a 30 s PostgreSQL restart as an "Exception in ASGI application" with its
    # traceback (over a hundred in orders under load). A database error that is not transient goes on to it.
    async def _database(_request: Request, exc: Exception) -> JSONResponse:
        if transient_kind(exc) is None:
            raise exc
        return _temporarily_unavailable(exc)

    for database_error in (sa.exc.SQLAlchemyError, sqlite3.Error, OSError):
        app.add_exception_handler(database_error, _database)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        if transient_kind(exc) is not None:
            return _temporarily_unavailable(exc)
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


# Where the principal dependency leaves the verified caller for the access log (a dict in the ASGI scope).
ACCESS_SCOPE_KEY = "oms.access"
# Routes polled by supervisors and scrapers: counted, but logged at DEBUG so they do not drown the access log.
_QUIET_ROUTES = frozenset({"/health", "/ready", "/drained", "/metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """RED metrics of the HTTP API: requests by route template, method and status; latency by route."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "oms_http_requests_total",
            "HTTP requests answered, by route template, method and status",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "oms_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            ["service", "method", "route"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
        )


def route_template(scope: Scope) -> str:
    """The route the request matched, as declared (``/api/v1/orders/{order_id}``); ``unmatched`` when none did,
    so that scanners cannot create a metric series per path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class AccessLogMiddleware:
    """One JSON log line per request (method, route, status, duration, correlation id, user), and the HTTP
    request metrics. Inside ``CorrelationIdMiddleware``: the line carries the id the response echoes."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        caller: dict[str, Any] = {}
        scope[ACCESS_SCOPE_KEY] = caller

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            duration = time.perf_counter() - started
            route = route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"  # no series per made-up verb
            self.metrics.requests.labels(self.metrics.service, method, route, str(status)).inc()
            self.metrics.duration.labels(self.metrics.service, method, route).observe(duration)
            access_log.log(
                logging.DEBUG if route in _QUIET_ROUTES else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "http_method": method,
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                    "user_id": caller.get("user_id"),
                    "account_id": caller.get("account_id"),
                    "correlation_id": current_correlation_id(),
                },
            )


class BodyTooLarge(Exception):
    """The request body passed the route's limit while it was being received."""


# What a multipart form adds around an uploaded file (boundaries, part headers, the other fields).
MULTIPART_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class BodyLimit:
    """The largest request body one route takes; ``path`` is the route's path as declared (``{name}`` for a
    path parameter), e.g. ``BodyLimit("/api/v1/orders/{order_id}/documents", 10 * 1024 * 1024)``."""

    path: str
    max_bytes: int

    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}/]+\})", self.path)
        return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "/?")


class BodyLimitMiddleware:
    """Refuses request bodies larger than the route allows with 413, before anything buffers them.

    Every request body is limited, on every path: by ``default_max_bytes`` unless a ``BodyLimit`` names the
    path. A ``Content-Length`` above the limit is refused without reading the body (and the connection closed);
    a body without one is counted as it streams and refused the moment it passes the limit.
    """

    def __init__(self, app: ASGIApp, default_max_bytes: int, limits: Sequence[BodyLimit] = ()) -> None:
        self.app = app
        self.default_max_bytes = default_max_bytes
        self._limits = [(limit.pattern(), limit.max_bytes) for limit in limits]

    def limit_for(self, path: str) -> int:
        for pattern, max_bytes in self._limits:
            if pattern.fullmatch(path):
                return max_bytes
        return self.default_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = [v for k, v in scope.get("headers", []) if k.lower() == b"content-length"]
        if declared:
            try:
                length = int(declared[0])
            except ValueError:
                await _send_json(send, 400, error_body("invalid_content_length", "Content-Length is not a number"))
                return
            if length > limit:
                await _refuse_too_large(send, limit)
                return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:  # whatever the app made of the cut-off body, the answer is 413
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse_too_large(send, limit)


async def _refuse_too_large(send: Send, limit: int) -> None:
    await _send_json(
        send,
        413,
        error_body(
            "body_too_large", f"the request body is larger than the {limit} bytes allowed here", {"max_bytes": limit}
        ),
        headers=[(b"connection", b"close")],
    )


# Answers that carry a credential are never kept in an idempotency record (a retry runs the request again).
_SECRET_FIELDS = ("token", "secret", "password", "api_key")


def _carries_secret(headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
    for name, value in headers:
        if name.lower() == b"cache-control" and b"no-store" in value.lower():
            return True
    lowered = body.lower()
    if not body.lstrip().startswith(b"{") or not any(word.encode() in lowered for word in _SECRET_FIELDS):
        return False
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return isinstance(parsed, dict) and any(
        any(word in str(field).lower() for word in _SECRET_FIELDS) for field in parsed
    )


class IdempotencyMiddleware:
    """Honours ``Idempotency-Key`` on POST/PUT/PATCH/DELETE: a repeat replays the first answer.

    The key is scoped to the verified caller (or the client address for anonymous calls); reusing
    a key for a different request is refused with 422, and a repeat while the first is still
    running gets 409. Server errors are not stored, so the client may retry them.

    A claim holds the key for ``lease_s``; a process that dies while running the request leaves it claimed,
    and a retry after the lease takes it over. The handler's transactions record the effect under the key
    (``Database`` does so while ``current_request_key`` is set), so a retry never re-does a committed effect:
    it gets the saved answer, or one rebuilt from the outcome the handler declared (``declare_outcome``).
    Answers that carry a credential (an access token) are not stored.
    """

    METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(
        self,
        app: ASGIApp,
        db_getter: Callable[[], Database | None],
        verifier_getter: Callable[[], Any],
        lease_s: float = 30.0,
    ) -> None:
        self.app = app
        self.db_getter = db_getter
        self.verifier_getter = verifier_getter
        self.lease = timedelta(seconds=lease_s)

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
        chunks_in: list[bytes] = []  # the body's size is bounded by BodyLimitMiddleware, outside this one
        more = True
        while more:
            message = await receive()
            chunks_in.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks_in)
        scope_id = self._caller(headers, scope)
        digest = hashlib.sha256(
            b"\0".join([scope["method"].encode(), scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        request_key = RequestKey(scope=scope_id, key=key, claim=uuid.uuid4().hex)
        try:
            row, effect = await self._claim(db, request_key, digest)
        except Exception as exc:
            if transient_kind(exc) is None:
                raise
            # The database restarting or out of reach (this layer runs outside the app's error handlers): the
            # same 503 the app answers, and nothing claimed, so the client's retry with this key is a first try.
            log.warning("database busy or unavailable: %s", exc.__class__.__name__)
            await _send_json(send, 503, TEMPORARILY_UNAVAILABLE, [(b"retry-after", b"1")])
            return
        if row is not None:
            await self._answer_repeat(db, scope, send, request_key, row, effect, digest)
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

        token = current_request_key.set(request_key)
        try:
            await self.app(scope, replay_receive, capture)
        finally:
            current_request_key.reset(token)
            answer = b"".join(chunks)
            try:
                if status >= 500 and not request_key.effect_committed:
                    await self._release(db, request_key)  # nothing happened: the client may simply retry
                elif _carries_secret(resp_headers, answer):
                    await self._release(db, request_key)
                elif status < 500:
                    await self._save(db, request_key, status, resp_headers, answer)
            except Exception as exc:
                if transient_kind(exc) is None:
                    raise
                # The answer has gone out. A claim left held is taken over after its lease; an answer not
                # saved is rebuilt from the effect recorded under the key (or the request runs again).
                log.warning("Idempotency-Key not released or saved, the database is unavailable: %r", exc)

    async def _claim(self, db: Database, request_key: RequestKey, digest: str) -> tuple[Any, Any]:
        """Claim the key; or take over an expired claim whose effect never committed. Returns the row held by
        someone else (and its committed effect, if any), or (None, None) when the key is now ours."""
        table, effects = db.idempotency, db.idempotency_effects
        where = sa.and_(table.c.scope == request_key.scope, table.c.key == request_key.key)
        now = utcnow()
        ours = {"claim": request_key.claim, "lease_until": now + self.lease}
        async with db.transaction() as tx:
            # One statement claims the key; the stored row is read only when someone holds it already.
            claimed = await tx.conn.execute(
                _insert_ignoring_conflict(tx.conn.dialect.name, table).values(
                    scope=request_key.scope, key=request_key.key, request_hash=digest, created_at=now, **ours
                )
            )
            if claimed.rowcount == 1:
                return None, None
            # Locked for update: a transaction recording its effect under the key (share lock) finishes first.
            row = (await tx.conn.execute(sa.select(table).where(where).with_for_update())).first()
            if row is None:  # claimed and released (a 5xx) between the two statements: ours now
                await tx.conn.execute(
                    table.insert().values(
                        scope=request_key.scope, key=request_key.key, request_hash=digest, created_at=now, **ours
                    )
                )
                return None, None
            if row.request_hash != digest or row.status_code is not None:
                return row, None
            effect = (
                await tx.conn.execute(
                    sa.select(effects).where(effects.c.scope == request_key.scope, effects.c.key == request_key.key)
                )
            ).first()
            lease_until = row.lease_until or row.created_at + self.lease
            if effect is None and lease_until <= now:
                # The attempt holding the key died (or outlived its lease) before its effect committed.
                await tx.conn.execute(table.update().where(where).values(**ours))
                log.warning("Idempotency-Key claim of %s taken over after its lease expired", request_key.scope)
                return None, None
            return row, effect

    async def _answer_repeat(
        self, db: Database, scope: Scope, send: Send, request_key: RequestKey, row: Any, effect: Any, digest: str
    ) -> None:
        if row.request_hash != digest:
            await _send_json(
                send, 422, error_body("idempotency_key_reused", "this Idempotency-Key was used for another request")
            )
        elif row.status_code is not None:
            stored_headers = [(k.encode(), v.encode()) for k, v in json.loads(row.response_headers or "[]")]
            stored_headers.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": row.status_code, "headers": stored_headers})
            await send({"type": "http.response.body", "body": row.response_body or b""})
        elif effect is not None and (effect.outcome or (row.lease_until or row.created_at + self.lease) <= utcnow()):
            # Committed, and its answer can be rebuilt now; or, with nothing declared, its attempt is over.
            await self._rebuild(db, scope, send, request_key, row, effect)
        else:  # still running (its answer is about to be saved), or died within its lease
            lease_until = row.lease_until or row.created_at + self.lease
            wait = max(1, math.ceil((lease_until - utcnow()).total_seconds()))
            await _send_json(
                send,
                409,
                error_body("request_in_progress", "a request with this key is running"),
                headers=[(b"retry-after", str(wait).encode())],
            )

    async def _rebuild(
        self, db: Database, scope: Scope, send: Send, request_key: RequestKey, row: Any, effect: Any
    ) -> None:
        """The effect committed but its answer was never saved (the process died): answer from the outcome."""
        outcome = json.loads(effect.outcome) if effect.outcome else None
        if not outcome:
            await _send_json(
                send,
                409,
                error_body(
                    "request_already_applied",
                    "this request was applied, but its answer was lost; read the resource to see the outcome",
                ),
            )
            return
        dropped = {b"content-length", b"content-type", b"idempotency-key", b"transfer-encoding"}
        read_scope = {
            **scope,
            "method": "GET",
            "path": outcome["read"],
            "raw_path": outcome["read"].encode(),
            "query_string": b"",
            "headers": [(k, v) for k, v in scope.get("headers", []) if k.lower() not in dropped],
        }
        status = 500
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def no_body() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(read_scope, no_body, capture)
        answer = b"".join(chunks)
        if status == 200:
            status = int(outcome["status"])
            saved = RequestKey(scope=request_key.scope, key=request_key.key, claim=row.claim or "")
            await self._save(db, saved, status, headers, answer)
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _release(self, db: Database, request_key: RequestKey) -> None:
        table, effects = db.idempotency, db.idempotency_effects
        async with db.transaction() as tx:
            await tx.conn.execute(
                table.delete().where(
                    table.c.scope == request_key.scope,
                    table.c.key == request_key.key,
                    table.c.claim == request_key.claim,
                )
            )
            await tx.conn.execute(
                effects.delete().where(
                    effects.c.scope == request_key.scope,
                    effects.c.key == request_key.key,
                    effects.c.claim == request_key.claim,
                )
            )

    async def _save(
        self, db: Database, request_key: RequestKey, status: int, headers: list[tuple[bytes, bytes]], answer: bytes
    ) -> None:
        table = db.idempotency
        kept = [
            (k.decode(), v.decode()) for k, v in headers if k.decode().lower() in ("content-type", "etag", "location")
        ]
        async with db.transaction() as tx:
            await tx.conn.execute(
                table.update()
                .where(
                    table.c.scope == request_key.scope,
                    table.c.key == request_key.key,
                    table.c.claim == request_key.claim,
                )
                .values(
                    status_code=status, response_body=answer, response_headers=json.dumps(kept), completed_at=utcnow()
                )
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


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    payload = json.dumps(body).encode()
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": payload})


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
