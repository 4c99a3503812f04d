"""Sign in and out, the language switch, password reset by link, invitations (R-UI-1)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import i18n
from oms_console.auth import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    api_for,
    safe_next,
    session_of,
    signed_in_api,
    token_expiry,
)
from oms_console.clients import ServiceError, SessionExpired
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, flash_from, form_errors

router = APIRouter()


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    session = session_of(request)
    if session.access and not request.query_params.get("done"):
        exp = token_expiry(session.access)
        if exp is not None and exp > time.time():  # already signed in: straight on
            return RedirectResponse(safe_next(next, "/orders"), status_code=303)
    return render(
        request,
        "auth/login.html",
        {"next": safe_next(next, ""), "email": "", "errors": {}, "flash": flash_from(request)},
    )


@router.post("/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    target = safe_next(next, "/orders")
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = _("Enter your e-mail.")
    if not password:
        errors["password"] = _("Enter your password.")
    if not errors:
        try:
            tokens = await api_for(request, None).orders.sign_in(email.strip(), password)
        except ServiceError as exc:
            if exc.status == 401:
                errors["_"] = _("Wrong e-mail or password.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            else:
                errors["_"] = exc.message or _("Sign-in failed.")
        else:
            session = session_of(request)
            session.set_tokens = tokens
            return RedirectResponse(target, status_code=303)
    context = {"next": safe_next(next, ""), "email": email, "errors": errors}
    return render(request, "auth/login.html", context, status_code=422)


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = session_of(request)
    if session.access or session.refresh:
        try:
            api = await signed_in_api(request)
            await api.orders.sign_out()
        except (ServiceError, SessionExpired):
            pass  # the session is over either way
    session.clear = True
    session.set_tokens = None
    response = RedirectResponse("/login", status_code=303)
    return response


@router.post("/locale")
async def switch_locale(
    request: Request,
    locale: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    response = RedirectResponse(safe_next(next, "/"), status_code=303)
    code = i18n.supported(locale)
    if code:
        settings = request.app.state.settings
        response.set_cookie(
            i18n.LOCALE_COOKIE, code, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
            secure=settings.cookie_secure, path="/",
        )  # fmt: skip
    return response


@router.get("/")
async def home(user: CurrentUser) -> Response:
    return RedirectResponse("/orders", status_code=303)


# -- password reset by the e-mailed link ------------------------------------------------------------


@router.get("/reset")
async def reset_page(request: Request, token: str = "") -> Response:
    return render(request, "auth/reset.html", {"token": token, "errors": {}})


@router.post("/reset")
async def reset(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    errors: dict[str, str] = {}
    if len(password) < 8:
        errors["password"] = _("At least 8 characters.")
    elif password != password2:
        errors["password2"] = _("The passwords differ.")
    if not token:
        errors["_"] = _("The link is incomplete. Open it again from the e-mail.")
    if not errors:
        try:
            await api_for(request, None).orders.reset_password(token, password)
        except ServiceError as exc:
            if exc.status == 400:
                errors["_"] = _("This link is unknown, used or expired. Ask for a new one.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            else:
                errors.update({("password" if k == "new_password" else k): v for k, v in exc.field_errors().items()})
                errors.setdefault("_", exc.message)
        else:
            for name in (ACCESS_COOKIE, REFRESH_COOKIE):
                request.cookies.pop(name, None)
            return RedirectResponse("/login?done=password", status_code=303)
    return render(request, "auth/reset.html", {"token": token, "errors": errors}, status_code=422)


# -- invitations ----------------------------------------------------------------------------------


async def _invitation(request: Request, token: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        return await api_for(request, None).orders.invitation(token)
    except ServiceError as exc:
        if exc.status in (400, 404, 410, 422):
            return None
        raise


def _signed_in(request: Request) -> bool:
    session = session_of(request)
    return bool(session.access or session.refresh)


def _invitation_page(
    request: Request,
    token: str,
    invitation: dict[str, Any] | None,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "token": token,
        "invitation": invitation,
        "signed_in": _signed_in(request),
        "errors": errors or {},
        "typed": typed or {"email": (invitation or {}).get("email") or "", "name": ""},
    }
    return render(request, "auth/invitation.html", context, status_code=status_code)


@router.get("/invitation")
async def invitation_page(request: Request, token: str = "") -> Response:
    """A buyer invited by a supplier: register (the usual case) or, already signed in, accept."""
    return _invitation_page(request, token, await _invitation(request, token))


@router.post("/invitation")
async def accept_invitation(
    request: Request, user: CurrentUser, token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    api = await signed_in_api(request)
    try:
        await api.orders.accept_invitation(token)
    except ServiceError as exc:
        if exc.status not in (400, 403, 404, 409, 422):
            raise
        invitation = await _invitation(request, token)
        return _invitation_page(request, token, invitation, errors=form_errors(exc), status_code=422)
    return RedirectResponse("/orders?done=invitation", status_code=303)
