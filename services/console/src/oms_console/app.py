"""Composition root of the web console: templates, catalogs, the services' client, middleware, views."""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oms_console import i18n
from oms_console.auth import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    CsrfRefused,
    Refresher,
    csrf_guard,
    login_url,
    new_csrf_token,
    safe_next,
    session_of,
)
from oms_console.cache import NameCache
from oms_console.clients import CallLog, ServiceError, ServiceUnavailable, SessionExpired
from oms_console.clients.base import ConsoleMetrics
from oms_console.i18n import _
from oms_console.rendering import build_environment, is_htmx, render
from oms_console.settings import Settings
from oms_console.views import ROUTERS, UPLOAD_PATHS
from oms_shared.http import (
    AccessLogMiddleware,
    BodyLimit,
    BodyLimitMiddleware,
    CorrelationIdMiddleware,
    HttpMetrics,
    metrics_response,
)
from oms_shared.logs import configure_logging

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CALLS_HEADER = "X-OMS-Service-Calls"
# Pages come only from the console; Alpine's expressions need 'unsafe-eval', htmx's indicator styles an inline
# style; no page may be framed (clickjacking) and no form may post elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(settings: Settings | None = None, *, http: httpx.AsyncClient | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    registry = CollectorRegistry()
    metrics = ConsoleMetrics(registry)
    client = http or httpx.AsyncClient(timeout=settings.service_timeout_s, trust_env=False)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    app = FastAPI(
        title="OMS Console",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.settings = settings
    app.state.http = client
    app.state.service_urls = settings.service_urls()
    app.state.refresher = Refresher()
    app.state.names = NameCache()
    app.state.catalogs = i18n.load_catalogs()
    app.state.templates = build_environment()
    app.state.metrics = metrics

    @app.middleware("http")
    async def console_request(request: Request, call_next: object) -> Response:
        request.state.calls = CallLog(metrics)
        csrf = request.cookies.get(CSRF_COOKIE)
        request.state.csrf_token = csrf or new_csrf_token()
        # Before the user is known: the switch's cookie, then the browser's languages (then Russian).
        i18n.activate(
            i18n.choose_locale(request.cookies.get(i18n.LOCALE_COOKIE), None, request.headers.get("accept-language")),
            request.app.state.catalogs,
            settings.timezone,
        )
        response: Response = await call_next(request)  # type: ignore[operator]
        _write_cookies(request, response, settings, set_csrf=csrf is None)
        calls = request.state.calls.count
        if not request.url.path.startswith(("/static/", "/metrics", "/health", "/ready")):
            metrics.per_request.observe(calls)
        if settings.debug_headers:
            response.headers[CALLS_HEADER] = str(calls)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    install_error_pages(app)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/ready", include_in_schema=False)
    async def ready() -> dict[str, object]:
        # The console holds nothing of its own: it is ready when it answers. A service that is down shows
        # as a friendly page on the screens that need it.
        return {"service": settings.service_name, "ready": True}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return metrics_response(registry)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for router in ROUTERS:
        app.include_router(router)

    limits = [BodyLimit(path, settings.max_upload_bytes + 64 * 1024) for path in UPLOAD_PATHS]
    app.add_middleware(BodyLimitMiddleware, default_max_bytes=settings.max_body_bytes, limits=limits)
    app.add_middleware(FriendlyTooLarge, catalogs=app.state.catalogs)
    app.add_middleware(AccessLogMiddleware, metrics=HttpMetrics(registry, settings.service_name))
    app.add_middleware(CorrelationIdMiddleware)
    return app


def _is_html(message: Message) -> bool:
    """A page a view rendered itself (e.g. a form with the file's error next to it) is left as it is."""
    for name, value in message.get("headers", []):
        if name.lower() == b"content-type":
            return bool(value.startswith(b"text/html"))
    return False


class FriendlyTooLarge:
    """The body limit answers 413 in the services' JSON shape; a person gets a page in their language."""

    def __init__(self, app: ASGIApp, catalogs: dict[str, Any]) -> None:
        self.app = app
        self.catalogs = catalogs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def friendly_send(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413 and not _is_html(message):
                replaced = True
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"connection", b"close")],
                    }
                )
                await send({"type": "http.response.body", "body": self._page(scope).encode()})
                return
            if replaced:
                return
            await send(message)

        await self.app(scope, receive, friendly_send)

    def _page(self, scope: Scope) -> str:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        cookies = dict(part.strip().split("=", 1) for part in headers.get("cookie", "").split(";") if "=" in part)
        code = i18n.choose_locale(cookies.get(i18n.LOCALE_COOKIE), None, headers.get("accept-language"))
        i18n.activate(code, self.catalogs)
        title = html.escape(_("The file is too large."))
        text = html.escape(_("Go back and choose a smaller file."))
        return (
            f'<!doctype html><html lang="{code}"><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="stylesheet" href="/static/console.css"></head><body><main><section class="error-page" '
            f'role="alert"><h1>{title}</h1><p>{text}</p></section></main></body></html>'
        )


def _write_cookies(request: Request, response: Response, settings: Settings, *, set_csrf: bool) -> None:
    common = {"httponly": True, "samesite": "lax", "secure": settings.cookie_secure, "path": "/"}
    if set_csrf:
        response.set_cookie(CSRF_COOKIE, request.state.csrf_token, **common)  # type: ignore[arg-type]
    session = getattr(request.state, "session", None)
    if session is None:
        return
    if session.clear:
        response.delete_cookie(ACCESS_COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="lax")
        response.delete_cookie(REFRESH_COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="lax")
    elif session.set_tokens is not None:
        tokens = session.set_tokens
        response.set_cookie(ACCESS_COOKIE, str(tokens["access_token"]), **common)  # type: ignore[arg-type]
        response.set_cookie(
            REFRESH_COOKIE,
            str(tokens["refresh_token"]),
            max_age=int(tokens.get("refresh_expires_in") or 12 * 3600),
            **common,  # type: ignore[arg-type]
        )


def install_error_pages(app: FastAPI) -> None:
    """Every failure is a page in the user's language (or an htmx-friendly answer), never a trace."""

    @app.exception_handler(SessionExpired)
    async def session_expired(request: Request, exc: SessionExpired) -> Response:
        session_of(request).clear = True
        target = login_url(request)
        if is_htmx(request):
            # htmx follows HX-Redirect only on a 2xx answer.
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ServiceUnavailable)
    async def service_unavailable(request: Request, exc: ServiceUnavailable) -> Response:
        log.warning("service %s unavailable: %s", exc.service, exc.reason)
        return error_page(
            request,
            503,
            _("A part of the system does not answer"),
            _("The %(service)s service is not answering right now. Please try again in a minute.")
            % {"service": exc.service},
        )

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        return error_page(
            request,
            403,
            _("This form has expired"),
            _("The form was not sent from this page, or the page is too old. Reload the page and try again."),
        )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        if exc.status == 404:
            return error_page(request, 404, _("Not found"), _("There is no such page, or you have no access to it."))
        if exc.status == 403:
            return error_page(request, 403, _("Not allowed"), _("You have no access to this."))
        if exc.status == 412:
            return error_page(request, 412, _("Someone changed this order"), _("Reload the page and try again."))
        return error_page(request, exc.status if 400 <= exc.status < 500 else 400, _("Not done"), exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Forms the console renders never fail this (fields are bounded in the page too); a crafted or cut
        # request does: say so, in the user's language.
        return error_page(
            request,
            422,
            _("The form could not be read"),
            _("Some of its values are missing or too long. Reload the page and try again."),
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return error_page(request, 404, _("Not found"), _("There is no such page, or you have no access to it."))
        if exc.status_code == 405:
            return error_page(request, 405, _("Not found"), _("There is no such page, or you have no access to it."))
        return error_page(request, exc.status_code, _("Not done"), str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        try:
            return error_page(
                request, 500, _("Something went wrong"), _("The error has been logged. Please try again later.")
            )
        except Exception:  # the page itself failed: plain text, still no trace
            return JSONResponse({"error": "internal error"}, status_code=500)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    reload = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":  # reload the page the form was on, not the form's target
        referer = request.headers.get("Referer") or ""
        reload = safe_next(urlsplit(referer).path + (f"?{urlsplit(referer).query}" if urlsplit(referer).query else ""))
    context = {"title": title, "message": message, "status": status, "reload": reload}
    if is_htmx(request):
        return render(request, "error.html", context, block="content", status_code=status)
    return render(request, "error.html", context, status_code=status)
