"""Registering a supplier's company (orders ``POST /api/v1/accounts``): the owner is then signed in, on Settings
(R-UI-11: a supplier's first day starts here)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import i18n
from oms_console.auth import api_for, session_of
from oms_console.clients import ServiceError
from oms_console.i18n import _
from oms_console.rendering import render

router = APIRouter()

FIELDS = ("company_name", "inn", "kpp", "name", "email")


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return render(request, "signup/page.html", {"form": dict.fromkeys(FIELDS, ""), "errors": {}})


@router.post("/signup")
async def signup(
    request: Request,
    company_name: Annotated[str, Form(max_length=300)] = "",
    inn: Annotated[str, Form(max_length=20)] = "",
    kpp: Annotated[str, Form(max_length=20)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A new supplier account and its owner; then signed in, on Settings."""
    form = {"company_name": company_name.strip(), "inn": inn.strip(), "kpp": kpp.strip(), "name": name.strip(),
            "email": email.strip()}  # fmt: skip
    errors: dict[str, str] = {}
    if not form["company_name"]:
        errors["company_name"] = _("Enter the company's name.")
    if form["inn"] and (not form["inn"].isdigit() or len(form["inn"]) not in (10, 12)):
        errors["inn"] = _("An INN has 10 or 12 digits.")
    if form["kpp"] and (not form["kpp"].isdigit() or len(form["kpp"]) != 9):
        errors["kpp"] = _("A KPP has 9 digits.")
    if "@" not in form["email"] or " " in form["email"]:
        errors["email"] = _("Enter your e-mail.")
    if len(password) < 8:
        errors["password"] = _("At least 8 characters.")
    elif password != password2:
        errors["password2"] = _("The passwords differ.")
    if not errors:
        api = api_for(request, None)
        owner = {"email": form["email"], "password": password, "name": form["name"], "locale": i18n.current_locale()}
        body = {"kind": "supplier", "name": form["company_name"], "inn": form["inn"], "kpp": form["kpp"],
                "owner": owner}  # fmt: skip
        try:
            await api.orders.create_account(body)
            tokens = await api.orders.sign_in(form["email"], password)
        except ServiceError as exc:
            if exc.status == 409:
                errors["email"] = _("This e-mail is already registered. Sign in instead.")
            elif exc.status == 429:
                errors["_"] = _("Too many attempts. Wait a minute and try again.")
            else:
                mapped = exc.field_errors()
                for key in mapped:
                    field = {"owner.email": "email", "owner.password": "password", "name": "company_name",
                             "owner.name": "name"}.get(key, key)  # fmt: skip
                    errors[field if field in FIELDS or field == "password" else "_"] = _("Check this value.")
                errors.setdefault("_", _("The registration was refused."))
        else:
            session_of(request).set_tokens = tokens
            return RedirectResponse("/settings", status_code=303)
    return render(request, "signup/page.html", {"form": form, "errors": errors}, status_code=422)
