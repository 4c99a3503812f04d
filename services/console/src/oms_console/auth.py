"""Sessions (the orders service's tokens in HttpOnly cookies, refreshed here), CSRF, the Origin check, the user.

The access token lives at most 60 s; when it has expired (or nearly) the console renews it with the refresh
token and sets both cookies again on the answer. Refresh tokens rotate and a reused one ends the session, so
concurrent requests of one browser that all find the access token expired share one refresh (``Refresher``).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request

from oms_console.clients import Api, CallLog, ServiceError, SessionExpired

ACCESS_COOKIE = "oms_access"
REFRESH_COOKIE = "oms_refresh"
CSRF_COOKIE = "oms_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Renew the access token this long before it expires, so a service never sees it expire mid-request.
EXPIRY_MARGIN_S = 5.0
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class CsrfRefused(Exception):
    """A write without the page's CSRF token, or from another origin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class User:
    """The signed-in user as orders' ``/me`` describes them."""

    user_id: str
    email: str
    name: str
    locale: str | None
    account_id: str
    account_kind: str
    account_name: str
    is_owner: bool
    manage_users: bool
    access: dict[str, str] = field(default_factory=dict)

    @property
    def is_staff(self) -> bool:
        """The supplier's people (staff) see customer orders, stock, analytics, settings."""
        return self.account_kind == "supplier"

    @property
    def is_buyer(self) -> bool:
        return not self.is_staff

    @property
    def display_name(self) -> str:
        return self.name or self.email

    @classmethod
    def from_me(cls, me: dict[str, Any]) -> User:
        user, account = me.get("user") or {}, me.get("account") or {}
        return cls(
            user_id=str(user.get("user_id", "")),
            email=str(user.get("email", "")),
            name=str(user.get("name") or ""),
            locale=user.get("locale"),
            account_id=str(account.get("account_id", "")),
            account_kind=str(account.get("kind", "")),
            account_name=str(account.get("name") or ""),
            is_owner=bool(user.get("is_owner")),
            manage_users=bool(user.get("manage_users")),
            access={k: str(v) for k, v in (me.get("access") or {}).items()},
        )


def token_expiry(token: str) -> float | None:
    """The ``exp`` of a JWT, read without verifying it (only to know when to renew; the services verify)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(data["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class Refresher:
    """One refresh per refresh token at a time; the answer is shared for a short while (rotation)."""

    def __init__(self, keep_s: float = 30.0) -> None:
        self.keep_s = keep_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._answers: dict[str, tuple[float, dict[str, Any]]] = {}

    async def refresh(self, api: Api, refresh_token: str) -> dict[str, Any]:
        now = time.monotonic()
        for key, (at, _answer) in list(self._answers.items()):
            if now - at > self.keep_s:
                del self._answers[key]
        lock = self._locks.setdefault(refresh_token, asyncio.Lock())
        try:
            async with lock:
                cached = self._answers.get(refresh_token)
                if cached is not None:
                    return cached[1]
                try:
                    answer = await api.orders.refresh(refresh_token)
                except ServiceError as exc:
                    if exc.status in (400, 401, 403, 422):
                        raise SessionExpired() from exc
                    raise
                self._answers[refresh_token] = (time.monotonic(), answer)
                return answer
        finally:
            if not lock.locked():
                self._locks.pop(refresh_token, None)


@dataclass
class Session:
    """The request's view of the session cookies and what the answer must set or clear."""

    access: str | None
    refresh: str | None
    set_tokens: dict[str, Any] | None = None
    clear: bool = False


def session_of(request: Request) -> Session:
    session = getattr(request.state, "session", None)
    if session is None:
        session = Session(request.cookies.get(ACCESS_COOKIE), request.cookies.get(REFRESH_COOKIE))
        request.state.session = session
    return session


def api_for(request: Request, token: str | None) -> Api:
    app_state = request.app.state
    log: CallLog = request.state.calls
    return Api(app_state.http, app_state.service_urls, token, log)


async def access_token(request: Request) -> str:
    """A live access token for this request, renewed with the refresh token when needed."""
    session = session_of(request)
    if session.access:
        exp = token_expiry(session.access)
        if exp is not None and exp - EXPIRY_MARGIN_S > time.time():
            return session.access
    if not session.refresh:
        raise SessionExpired()
    answer = await request.app.state.refresher.refresh(api_for(request, None), session.refresh)
    session.access = str(answer["access_token"])
    session.refresh = str(answer.get("refresh_token") or session.refresh)
    session.set_tokens = answer
    return session.access


async def signed_in_api(request: Request) -> Api:
    """The services with the user's token (raises ``SessionExpired`` when there is no live session)."""
    api = getattr(request.state, "api", None)
    if api is None:
        api = api_for(request, await access_token(request))
        request.state.api = api
    return api


# -- redirects after sign-in --------------------------------------------------------------------


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path of this site (no scheme, no host, no ``//`` or ``\\``), else ``default``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ch in target for ch in "\\\r\n\t") or any(ord(ch) < 32 for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def login_url(request: Request) -> str:
    """``/login?next=<the page to come back to>``: the page asked for; for htmx, the page the user is on
    (``HX-Current-URL``); for a form sent without htmx, the page the form was on (``Referer``)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    came_from = None
    if request.headers.get("HX-Request") == "true":
        came_from = request.headers.get("HX-Current-URL")
    elif request.method != "GET":
        came_from = request.headers.get("Referer")
    if came_from is not None:
        parts = urlsplit(came_from)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    target = safe_next(target)
    return "/login" if target in ("/", "/login") else f"/login?next={quote(target, safe='/')}"


# -- CSRF and Origin ----------------------------------------------------------------------------


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request, public_url: str) -> None:
    """A write must come from a page of this console: Origin (or, without it, Referer) is ours."""
    allowed = {
        o
        for o in (_origin_of(public_url), _origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}"))
        if o
    }
    origin = request.headers.get("Origin")
    if origin is not None:
        if origin.lower() not in allowed:
            raise CsrfRefused("origin")
        return
    referer = request.headers.get("Referer")
    if referer and _origin_of(referer) in allowed:
        return
    raise CsrfRefused("origin")


async def check_csrf(request: Request) -> None:
    """The token of the page (form field or htmx header) must equal the browser's CSRF cookie."""
    expected = request.cookies.get(CSRF_COOKIE)
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfRefused("token")


async def csrf_guard(request: Request) -> None:
    """App-wide dependency: every write checks its Origin and its CSRF token."""
    if request.method in UNSAFE_METHODS:
        check_origin(request, request.app.state.settings.resolved_public_url())
        await check_csrf(request)
