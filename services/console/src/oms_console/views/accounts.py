"""Getting an account without a session: registering through an invitation (then signed in, on the catalogue),
and "forgot password" (the orders service e-mails a link to ``/reset``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import i18n
from oms_console.auth import api_for, session_of
from oms_console.clients import ServiceError
from oms_console.i18n import _
from oms_console.rendering import render

router = APIRouter()


# -- forgot password ----------------------------------------------------------------------------------


@router.get("/forgot")
async def forgot_page(request: Request) -> Response:
    return render(request, "accounts/forgot.html", {"email": "", "errors": {}, "sent": False})


@router.post("/forgot")
async def forgot(request: Request, email: Annotated[str, Form(max_length=320)] = "") -> Response:
    """Ask for a reset link; the answer never tells whether the address is registered."""
    email = email.strip()
    errors: dict[str, str] = {}
    if "@" not in email:
        errors["email"] = _("Enter your e-mail.")
    else:
        try:
            await api_for(request, None).orders.request_password_reset(email)
        except ServiceError as exc:
            if exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            else:
                errors["email"] = exc.field_errors().get("email") or exc.message or _("Enter your e-mail.")
    if errors:
        return render(
            request, "accounts/forgot.html", {"email": email, "errors": errors, "sent": False}, status_code=422
        )
    return render(request, "accounts/forgot.html", {"email": email, "errors": {}, "sent": True})


# -- registering through an invitation ----------------------------------------------------------------


async def _invitation(request: Request, token: str) -> dict[str, Any] | None:
    if not token or len(token) > 100:
        return None
    try:
        return await api_for(request, None).orders.invitation(token)
    except ServiceError as exc:
        if exc.status in (400, 404, 410, 422):
            return None
        raise


def _page(
    request: Request,
    token: str,
    invitation: dict[str, Any] | None,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {"token": token, "invitation": invitation, "form": form, "errors": errors or {}}
    return render(request, "accounts/invitation.html", context, status_code=status_code if invitation else 404)


@router.get("/invitation/register")
async def invitation_register_page(request: Request, token: str = "") -> Response:
    invitation = await _invitation(request, token)
    form = {"email": str((invitation or {}).get("email") or ""), "name": ""}
    return _page(request, token, invitation, form)


@router.post("/invitation/register")
async def invitation_register(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new buyer account through the invitation; then signed in, on the catalogue."""
    form = {"email": email.strip(), "name": name.strip()}
    errors: dict[str, str] = {}
    if "@" not in form["email"]:
        errors["email"] = _("Enter your e-mail.")
    if len(password) < 8:
        errors["password"] = _("At least 8 characters.")
    elif password != password2:
        errors["password2"] = _("The passwords differ.")
    invitation = await _invitation(request, token)
    if invitation is None:
        return _page(request, token, None, form)
    if not errors:
        api = api_for(request, None)
        body = {**form, "password": password, "locale": i18n.current_locale()}
        try:
            await api.orders.register_by_invitation(token, body)
            tokens = await api.orders.sign_in(form["email"], password)
        except ServiceError as exc:
            if exc.status == 409:
                errors["email"] = _("This e-mail is registered already: sign in and accept the invitation.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            elif exc.status == 404:
                return _page(request, token, None, form)
            else:
                errors.update(exc.field_errors())
                errors.setdefault("_", exc.message or _("The registration was refused."))
        else:
            session_of(request).set_tokens = tokens
            return RedirectResponse("/catalogue?done=invitation", status_code=303)
    return _page(request, token, invitation, form, errors, status_code=422)


# -- joining a company through an employee invitation ----------------------------------------------------


async def _employee_invitation(request: Request, token: str) -> dict[str, Any] | None:
    if not token or len(token) > 100:
        return None
    try:
        return await api_for(request, None).orders.employee_invitation(token)
    except ServiceError as exc:
        if exc.status in (400, 404, 410, 422):
            return None
        raise


def _join_page(
    request: Request,
    token: str,
    invitation: dict[str, Any] | None,
    form: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {"token": token, "invitation": invitation, "form": form, "errors": errors or {}}
    return render(request, "accounts/join_team.html", context, status_code=status_code if invitation else 404)


@router.get("/join-team")
async def join_team_page(request: Request, token: str = "") -> Response:
    """R-ACC-1: the page an invited employee opens from the e-mail: the company, their e-mail, a password."""
    invitation = await _employee_invitation(request, token)
    return _join_page(request, token, invitation, {"name": str((invitation or {}).get("name") or "")})


@router.post("/join-team")
async def join_team(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """R-ACC-1: the invited employee sets a password; then signed in, with the access the owner chose."""
    form = {"name": name.strip()}
    errors: dict[str, str] = {}
    if len(password) < 8:
        errors["password"] = _("At least 8 characters.")
    elif password != password2:
        errors["password2"] = _("The passwords differ.")
    invitation = await _employee_invitation(request, token)
    if invitation is None:
        return _join_page(request, token, None, form)
    if not errors:
        api = api_for(request, None)
        body: dict[str, Any] = {"password": password}
        if form["name"]:
            body["name"] = form["name"]
        try:
            joined = await api.orders.accept_employee_invitation(token, body)
            tokens = await api.orders.sign_in(str(joined.get("email") or invitation.get("email") or ""), password)
        except ServiceError as exc:
            if exc.status == 409:
                errors["_"] = _("This e-mail is registered already: sign in with it.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            elif exc.status == 404:
                return _join_page(request, token, None, form)
            else:
                errors.update(exc.field_errors())
                errors.setdefault("_", _("The request was refused."))
        else:
            session_of(request).set_tokens = tokens
            return RedirectResponse("/orders", status_code=303)
    return _join_page(request, token, invitation, form, errors, status_code=422)
