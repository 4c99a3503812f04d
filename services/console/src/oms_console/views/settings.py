"""Settings (R-UI-11): the landing page with every section, employees and their access (R-ACC-1), warehouses.

Buyers live in ``views/buyers.py``, price lists and their links in ``views/price_lists.py``. Every write goes to
the service that owns the data; the services decide every permission and the pages show what they answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import i18n
from oms_console.auth import User
from oms_console.clients import ServiceError, new_idempotency_key
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, form_errors, known_error, require_staff

router = APIRouter()

LEVELS = ("none", "read", "change", "full")


def level_name(level: str) -> str:
    names = {"none": _("No access"), "read": _("Read"), "change": _("Change"), "full": _("Full")}
    return names.get(level, level)


def done_flash(request: Request) -> dict[str, Any] | None:
    """The message after a settings write (``?done=<key>``), from a fixed list."""
    messages = {
        "employee": _("The invitation is sent by e-mail: the employee sets a password through its link."),
        "access": _("Access changed."),
        "deactivated": _("The employee is deactivated: they are signed out and cannot sign in."),
        "activated": _("The employee can sign in again."),
        "warehouse": _("Warehouse created."),
        "buyer": _("Buyer added."),
        "buyer_saved": _("Buyer saved."),
        "invited": _("The invitation is sent by e-mail."),
        "price_list": _("Price list saved."),
        "link_on": _("The link is on: anyone with it can register as your buyer and order."),
        "link_new": _("A new link is made; the old one no longer works."),
        "link_off": _("The link is switched off."),
    }
    key = request.query_params.get("done")
    return {"kind": "success", "text": messages[key]} if key in messages else None


def refusal(exc: ServiceError) -> str:
    """A service's refusal that belongs to no field, in the user's language."""
    if exc.status == 403:
        return _("You have no access to this.")
    return known_error(exc.code) or _("The request was refused.")


def may_manage_users(user: User) -> bool:
    return bool(user.is_owner or user.manage_users)


# -- the landing page ---------------------------------------------------------------------------------


@router.get("/settings")
async def settings_home(request: Request, user: CurrentUser) -> Response:
    """R-UI-11: every settings section, one link each."""
    require_staff(user)
    sections = [
        ("/settings/employees", _("Employees"), _("Who works in the console, and their access levels.")),
        ("/settings/buyers", _("Buyers"), _("Buyer companies, invitations, managers and segments.")),
        ("/settings/price-lists", _("Price lists"), _("Prices, warehouses, buyers, links, automatic confirmation.")),
        ("/settings/warehouses", _("Warehouses"), _("The warehouses stock is kept and shipped from.")),
        ("/settings/products", _("Products"), _("Your catalogue: SKU, name and unit of every product.")),
        ("/settings/company", _("Company"), _("Your company's name and details.")),
        ("/settings/time-limits", _("Time limits"), _("How long an order may stay in each status.")),
        ("/settings/erp", _("ERP connection"), _("The exchange with 1C and its log.")),
        ("/settings/notifications", _("Notifications"), _("Which notifications you get, and how.")),
    ]
    return render(request, "settings/index.html", {"sections": sections, "flash": done_flash(request)})


# -- employees (R-ACC-1) ------------------------------------------------------------------------------


def _employee_form(**values: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "email": "",
        "name": "",
        "locale": i18n.current_locale(),
        "access_buyers": "read",
        "access_orders": "read",
        "restricted": False,
        "manage_users": False,
        "key": new_idempotency_key(),
    }
    form.update(values)
    return form


async def _employees_page(
    request: Request,
    user: User,
    api: Services,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    answer = await api.orders.users()
    pending: list[dict[str, Any]] = []
    if may_manage_users(user):
        pending = list((await api.orders.employee_invitations()).get("items") or [])
    context = {
        "items": list(answer.get("items") or []),
        "pending": pending,
        "form": form or _employee_form(),
        "errors": errors or {},
        "row_errors": row_errors or {},
        "levels": LEVELS,
        "level_name": level_name,
        "may_manage": may_manage_users(user),
        "flash": done_flash(request),
    }
    return render(request, "settings/employees.html", context, status_code=status_code)


@router.get("/settings/employees")
async def employees(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ACC-1: the account's people with their access levels."""
    require_staff(user)
    return await _employees_page(request, user, api)


@router.post("/settings/employees")
async def invite_employee(
    request: Request,
    user: CurrentUser,
    api: Services,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    locale: Annotated[str, Form(max_length=10)] = "ru",
    access_buyers: Annotated[str, Form(max_length=10)] = "none",
    access_orders: Annotated[str, Form(max_length=10)] = "none",
    restricted: Annotated[str, Form(max_length=10)] = "",
    manage_users: Annotated[str, Form(max_length=10)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-ACC-1: invite an employee by e-mail with access levels per section and, if asked, only their own buyers;
    they set their own password through the e-mailed link (``/join-team``)."""
    require_staff(user)
    form = _employee_form(
        email=email.strip(),
        name=name.strip(),
        locale=locale if locale in ("ru", "en") else "ru",
        access_buyers=access_buyers,
        access_orders=access_orders,
        restricted=bool(restricted),
        manage_users=bool(manage_users),
        key=key or new_idempotency_key(),
    )
    errors: dict[str, str] = {}
    if "@" not in form["email"] or " " in form["email"]:
        errors["email"] = _("Enter an e-mail.")
    for field in ("access_buyers", "access_orders"):
        if form[field] not in LEVELS:
            errors[field] = _("Choose an access level.")
    if not errors:
        body = {
            "email": form["email"],
            "name": form["name"],
            "locale": form["locale"],
            "access_buyers": form["access_buyers"],
            "access_orders": form["access_orders"],
            "restricted_to_own_buyers": form["restricted"],
            "manage_users": form["manage_users"],
        }
        try:
            await api.orders.invite_employee(body, form["key"])
        except ServiceError as exc:
            if exc.status == 409:
                errors["email"] = _("This e-mail is already registered.")
            elif exc.status in (400, 422):
                errors = form_errors(exc, {"restricted_to_own_buyers": "restricted"})
            else:
                errors["_"] = refusal(exc)
        else:
            return RedirectResponse("/settings/employees?done=employee", status_code=303)
    return await _employees_page(request, user, api, form=form, errors=errors, status_code=422)


@router.post("/settings/employees/{user_id:uuid}")
async def change_employee(
    request: Request,
    user_id: uuid.UUID,
    user: CurrentUser,
    api: Services,
    action: Annotated[str, Form(max_length=20)] = "access",
    access_buyers: Annotated[str, Form(max_length=10)] = "",
    access_orders: Annotated[str, Form(max_length=10)] = "",
    restricted: Annotated[str, Form(max_length=10)] = "",
    manage_users: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """R-ACC-1: change an employee's access, deactivate them (the service ends their sessions) or let them back."""
    require_staff(user)
    body: dict[str, Any]
    if action == "deactivate":
        body, done = {"active": False}, "deactivated"
    elif action == "activate":
        body, done = {"active": True}, "activated"
    elif action == "access" and access_buyers in LEVELS and access_orders in LEVELS:
        body = {
            "access_buyers": access_buyers,
            "access_orders": access_orders,
            "restricted_to_own_buyers": bool(restricted),
            "manage_users": bool(manage_users),
        }
        done = "access"
    else:
        return await _employees_page(
            request, user, api, row_errors={str(user_id): _("Choose an access level.")}, status_code=422
        )
    try:
        await api.orders.update_user(str(user_id), body, new_idempotency_key())
    except ServiceError as exc:
        if exc.status == 404:
            raise
        status_code = exc.status if exc.status in (403, 409) else 422
        return await _employees_page(
            request, user, api, row_errors={str(user_id): refusal(exc)}, status_code=status_code
        )
    return RedirectResponse(f"/settings/employees?done={done}", status_code=303)


# -- warehouses ---------------------------------------------------------------------------------------


async def _warehouses_page(
    request: Request, api: Services, form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    answer = await api.inventory.warehouses(limit=500)
    context = {
        "items": list(answer.get("items") or []),
        "form": form or {"code": "", "name": "", "key": new_idempotency_key()},
        "errors": errors or {},
        "flash": done_flash(request),
    }
    return render(request, "settings/warehouses.html", context, status_code=status_code)


@router.get("/settings/warehouses")
async def warehouses(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: the supplier's warehouses."""
    require_staff(user)
    return await _warehouses_page(request, api)


@router.post("/settings/warehouses")
async def add_warehouse(
    request: Request,
    user: CurrentUser,
    api: Services,
    code: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=300)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-11: a new warehouse in inventory (its code is what uploads and the ERP use)."""
    require_staff(user)
    form = {"code": code.strip(), "name": name.strip(), "key": key or new_idempotency_key()}
    errors: dict[str, str] = {}
    if not form["code"]:
        errors["code"] = _("Enter a code.")
    if not form["name"]:
        errors["name"] = _("Enter a name.")
    if not errors:
        try:
            await api.inventory.create_warehouse({"code": form["code"], "name": form["name"]}, form["key"])
        except ServiceError as exc:
            if exc.status == 409:
                errors["code"] = _("A warehouse with this code exists already.")
            elif exc.status in (400, 422):
                errors = form_errors(exc)
            else:
                errors["_"] = refusal(exc)
        else:
            return RedirectResponse("/settings/warehouses?done=warehouse", status_code=303)
    return await _warehouses_page(request, api, form, errors, status_code=422)
