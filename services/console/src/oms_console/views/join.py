"""R-IN-2: the page behind a price list's link (``/join/{token}``): the supplier and its price list, a short
registration for a new buyer (then signed in, on that price list's catalogue), or joining for a signed-in one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console.auth import api_for, session_of, signed_in_api
from oms_console.clients import ServiceError
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser

router = APIRouter()

PREVIEW_LINES = 20
FIELDS = ("company_name", "inn", "kpp", "name", "email")


async def _link(request: Request, token: str) -> dict[str, Any] | None:
    if not token or len(token) > 100:
        return None
    try:
        return await api_for(request, None).orders.link(token)
    except ServiceError as exc:
        if exc.status in (404, 422):
            return None
        raise


def _page(
    request: Request,
    token: str,
    link: dict[str, Any] | None,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    signed_in = bool(session_of(request).access or session_of(request).refresh)
    context = {
        "token": token,
        "link": link,
        "preview": list((link or {}).get("items") or [])[:PREVIEW_LINES],
        "signed_in": signed_in,
        "form": form or dict.fromkeys(FIELDS, ""),
        "errors": errors or {},
    }
    return render(request, "join/page.html", context, status_code=status_code if link else 404)


@router.get("/join/{token}")
async def join_page(request: Request, token: str) -> Response:
    return _page(request, token, await _link(request, token))


@router.post("/join/{token}/register")
async def register(
    request: Request,
    token: str,
    company_name: Annotated[str, Form(max_length=300)] = "",
    inn: Annotated[str, Form(max_length=20)] = "",
    kpp: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The short form: the company, who signs in, a password; then signed in, on the price list's catalogue."""
    form = {"company_name": company_name.strip(), "inn": inn.strip(), "kpp": kpp.strip(), "name": name.strip(),
            "email": email.strip()}  # fmt: skip
    errors: dict[str, str] = {}
    if not form["company_name"]:
        errors["company_name"] = _("Enter the company's name.")
    if "@" not in form["email"]:
        errors["email"] = _("Enter your e-mail.")
    if len(password) < 8:
        errors["password"] = _("At least 8 characters.")
    elif password != password2:
        errors["password2"] = _("The passwords differ.")
    link = await _link(request, token)
    if link is None:
        return _page(request, token, None)
    if not errors:
        api = api_for(request, None)
        try:
            registered = await api.orders.register_by_link(token, {**form, "password": password})
            tokens = await api.orders.sign_in(form["email"], password)
        except ServiceError as exc:
            if exc.status == 409:
                errors["email"] = _("This e-mail is registered already: sign in and open the link again.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            elif exc.status == 404:
                return _page(request, token, None)
            else:
                errors.update(exc.field_errors())
                errors.setdefault("_", exc.message or _("The registration was refused."))
        else:
            session_of(request).set_tokens = tokens
            target = f"/catalogue?price_list={registered.get('price_list_id') or link.get('price_list_id')}"
            return RedirectResponse(target, status_code=303)
    return _page(request, token, link, form=form, errors=errors, status_code=422)


@router.post("/join/{token}")
async def join(request: Request, token: str, user: CurrentUser) -> Response:
    """A signed-in buyer becomes a buyer of the link's supplier with access to its price list."""
    link = await _link(request, token)
    if link is None:
        return _page(request, token, None)
    if not user.is_buyer:
        return _page(request, token, link, errors={"_": _("Only a buyer's account can join a price list.")},
                     status_code=422)  # fmt: skip
    try:
        joined = await (await signed_in_api(request)).orders.join_by_link(token)
    except ServiceError as exc:
        if exc.status == 404:
            return _page(request, token, None)
        return _page(request, token, link, errors={"_": exc.message or _("Not done")}, status_code=422)
    return RedirectResponse(f"/catalogue?price_list={joined.get('price_list_id')}", status_code=303)
