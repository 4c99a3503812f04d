"""R-UI-11: the supplier's settings of the account as a whole — time limits per status (R-ST-4) and the ERP
connection with its exchange log (R-ERP-6).

The orders service keeps the time limits, erp-bridge the connection and the log; both decide who may read or
change them (the owner, or a user with full access to orders). The console checks the form's shape first so a
mistyped value is said next to its field, and keeps what was typed when a service refuses it.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from oms_console.clients import ServiceError, new_idempotency_key
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, form_errors, known_error, require_staff

router = APIRouter()

# Statuses an order can wait in (the final ones have no time limit).
LIMITED_STATUSES = ("new", "editing", "awaiting_approval", "agreed", "confirmed")
MAX_HOURS = 24 * 365
ENCODINGS = ("utf-8", "windows-1251")
ORDER_STATUSES = ("new", "editing", "awaiting_approval", "agreed", "confirmed", "shipped", "rejected", "cancelled")
LOG_PAGE = 50
OUTCOMES = ("success", "progress", "failure")


def _flash(request: Request) -> dict[str, Any] | None:
    if request.query_params.get("done") == "saved":
        return {"kind": "success", "text": _("Settings saved.")}
    return None


def _refused(exc: ServiceError) -> dict[str, str]:
    """A refusal the page can say: 403 as "no access", 400/409/422 as form errors; anything else raises."""
    if exc.status == 403:
        return {"_": known_error("forbidden") or ""}
    if exc.status in (400, 409, 422):
        return form_errors(exc)
    raise exc


# ---------------------------------------------------------------- time limits (R-ST-4)


@router.get("/settings/time-limits")
async def time_limits(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ST-4: the hours an order may stay in each status before it is flagged overdue."""
    require_staff(user)
    answer = await api.orders.time_limits()
    limits = answer.get("limits") or {}
    values = {s: str(limits[s]) if s in limits else "" for s in LIMITED_STATUSES}
    return render(
        request,
        "account_settings/time_limits.html",
        {
            "values": values,
            "errors": {},
            "statuses": LIMITED_STATUSES,
            "flash": _flash(request),
            "idempotency_key": new_idempotency_key(),
        },
    )


@router.post("/settings/time-limits")
async def save_time_limits(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ST-4: save the limits; an empty field means no limit for that status."""
    require_staff(user)
    form = await request.form()
    values = {s: str(form.get(s) or "").strip()[:10] for s in LIMITED_STATUSES}
    errors: dict[str, str] = {}
    limits: dict[str, int] = {}
    for status, raw in values.items():
        if not raw:
            continue
        if not raw.isdigit() or int(raw) > MAX_HOURS:
            errors[status] = _("Enter whole hours from 0 to 8760.")
        else:
            limits[status] = int(raw)
    if not errors:
        try:
            await api.orders.set_time_limits({"limits": limits}, str(form.get("idempotency_key") or "") or None)
        except ServiceError as exc:
            errors = _refused(exc)
            if exc.status == 422 and isinstance(exc.details, list):
                for item in exc.details:
                    status = str(item).split(":", 1)[0]
                    if status in values:
                        errors[status] = _("Enter whole hours from 0 to 8760.")
        else:
            return RedirectResponse("/settings/time-limits?done=saved", status_code=303)
    return render(
        request,
        "account_settings/time_limits.html",
        {
            "values": values,
            "errors": errors,
            "statuses": LIMITED_STATUSES,
            "flash": None,
            "idempotency_key": new_idempotency_key(),
        },
        status_code=422,
    )


# ---------------------------------------------------------------- the ERP connection and its log (R-ERP-6)


def _connection_form(connection: dict[str, Any] | None) -> dict[str, Any]:
    c = connection or {}
    status_map = c.get("status_map") or {}
    return {
        "login": c.get("login") or "",
        "password": "",
        "enabled": bool(c.get("enabled", True)),
        "encoding": c.get("encoding") or "utf-8",
        "timezone": c.get("timezone") or "Europe/Moscow",
        "zip": bool(c.get("zip", False)),
        "status_map": "\n".join(f"{k} = {v}" for k, v in status_map.items()),
    }


def _parse_status_map(text: str) -> tuple[dict[str, str], str | None]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name, sep, status = line.rpartition("=")
        name, status = name.strip(), status.strip()
        if not sep or not name or status not in ORDER_STATUSES:
            return found, _("Write one line per 1C status: its text, “=”, and an order status code.")
        found[name] = status
    return found, None


async def _erp_page(
    request: Request, api: Any, form: dict[str, Any], errors: dict[str, str], exists: bool, status_code: int = 200
) -> Response:
    q = request.query_params
    session = (q.get("session_id") or "").strip()[:64]
    outcome = q.get("outcome") or ""
    outcome = outcome if outcome in OUTCOMES else ""
    raw_offset = q.get("offset") or "0"
    offset = int(raw_offset) if raw_offset.isdigit() and int(raw_offset) <= 100_000 else 0
    params: dict[str, Any] = {"limit": LOG_PAGE, "offset": offset}
    if session:
        params["session_id"] = session
    if outcome:
        params["outcome"] = outcome
    log: dict[str, Any] | None
    log_error: str | None = None
    try:
        log = await api.erp_bridge.exchanges(params)
    except ServiceError as exc:
        if exc.status not in (400, 403, 422):
            raise
        log = None
        log_error = known_error("forbidden") if exc.status == 403 else _("The request was refused.")
    items = list((log or {}).get("items") or [])
    total = int((log or {}).get("total") or 0)
    base = {k: v for k, v in (("session_id", session), ("outcome", outcome)) if v}

    def url(off: int) -> str:
        return "/settings/erp?" + urlencode({**base, "offset": off})

    pager = {
        "first": offset + 1 if items else 0,
        "last": offset + len(items),
        "total": total,
        "prev": url(max(offset - LOG_PAGE, 0)) if offset else None,
        "next": url(offset + LOG_PAGE) if offset + len(items) < total else None,
    }
    context = {
        "form": form,
        "errors": errors,
        "exists": exists,
        "encodings": ENCODINGS,
        "order_statuses": ORDER_STATUSES,
        "items": items,
        "pager": pager,
        "session": session,
        "outcome": outcome,
        "outcomes": OUTCOMES,
        "log_error": log_error,
        "flash": _flash(request),
    }
    return render(request, "account_settings/erp.html", context, status_code=status_code)


@router.get("/settings/erp")
async def erp(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ERP-6: the connection 1C uses, and the exchange log, session by session."""
    require_staff(user)
    try:
        connection: dict[str, Any] | None = await api.erp_bridge.connection()
    except ServiceError as exc:
        if exc.status != 404:
            raise
        connection = None
    return await _erp_page(request, api, _connection_form(connection), {}, connection is not None)


@router.post("/settings/erp")
async def save_erp(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ERP-6: save the connection (the password is set anew each time: it is stored only hashed)."""
    require_staff(user)
    raw = await request.form()
    status_text = str(raw.get("status_map") or "")[:5000]
    form: dict[str, Any] = {
        "login": str(raw.get("login") or "").strip()[:200],
        "password": "",
        "enabled": raw.get("enabled") == "on",
        "encoding": str(raw.get("encoding") or "utf-8"),
        "timezone": str(raw.get("timezone") or "").strip()[:64],
        "zip": raw.get("zip") == "on",
        "status_map": status_text,
    }
    password = str(raw.get("password") or "")
    errors: dict[str, str] = {}
    if not form["login"]:
        errors["login"] = _("Enter a login.")
    if len(password) < 8 or len(password) > 200:
        errors["password"] = _("Enter a password of at least 8 characters.")
    if form["encoding"] not in ENCODINGS:
        errors["encoding"] = _("Choose an encoding.")
    if not form["timezone"]:
        errors["timezone"] = _("Enter a time zone such as Europe/Moscow.")
    status_map, map_error = _parse_status_map(status_text)
    if map_error:
        errors["status_map"] = map_error
    if not errors:
        body = {
            "login": form["login"],
            "password": password,
            "enabled": form["enabled"],
            "encoding": form["encoding"],
            "timezone": form["timezone"],
            "zip": form["zip"],
            "status_map": status_map,
        }
        try:
            await api.erp_bridge.set_connection(body)
        except ServiceError as exc:
            errors = _refused(exc)
            if exc.code == "login_taken":
                errors = {"login": _("This login is taken: choose another.")}
            elif exc.status == 422:
                fields = exc.field_errors()
                if any(k.startswith("timezone") for k in fields):
                    errors["timezone"] = _("Enter a time zone such as Europe/Moscow.")
                if any(k.startswith("login") for k in fields):
                    errors["login"] = _("Check this value.")
        else:
            return RedirectResponse("/settings/erp?done=saved", status_code=303)
    return await _erp_page(request, api, form, errors, bool(raw.get("exists")), status_code=422)


# ---------------------------------------------------------------- the company profile


PROFILE_FIELDS = ("name", "inn", "kpp", "address", "bank_name", "bic", "bank_account", "correspondent_account")
DIGITS = {"inn": (10, 12), "kpp": (9,), "bic": (9,), "bank_account": (20,), "correspondent_account": (20,)}


def _profile_context(values: dict[str, str], etag: str | None, errors: dict[str, str], flash: Any) -> dict[str, Any]:
    return {
        "values": values,
        "etag": etag or "",
        "errors": errors,
        "flash": flash,
        "idempotency_key": new_idempotency_key(),
    }


@router.get("/settings/company")
async def company(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: the company's name, INN/KPP, address and bank details, as printed on orders."""
    require_staff(user)
    profile = await api.orders.account()
    values = {name: str(profile.body.get(name) or "") for name in PROFILE_FIELDS}
    return render(request, "account_settings/company.html", _profile_context(values, profile.etag, {}, _flash(request)))


@router.post("/settings/company")
async def save_company(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: save the profile over the version the page showed (If-Match); the service checks the requisites'
    control digits, the console their shape first."""
    require_staff(user)
    form = await request.form()
    values = {name: str(form.get(name) or "").strip()[:500] for name in PROFILE_FIELDS}
    etag = str(form.get("etag") or "") or None
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = _("Enter the company's name.")
    for name, lengths in DIGITS.items():
        value = values[name]
        if not value:
            continue
        shape_ok = len(value) in lengths and (value.isdigit() or (name == "kpp" and value[:4].isdigit()))
        if not shape_ok:
            errors[name] = (
                _("Enter 10 or 12 digits.") if name == "inn" else _("Enter %(n)d digits.") % {"n": lengths[0]}
            )
    status_code = 422
    if not errors:
        try:
            await api.orders.update_account(values, etag, str(form.get("idempotency_key") or "") or None)
        except ServiceError as exc:
            if exc.status == 412:
                errors = {"_": _("Someone changed the profile while you were editing it. Reload the page to see it.")}
                status_code = 412
            else:
                errors = _refused(exc)
                if exc.code == "invalid_requisites":
                    errors = {
                        name: _("The control digits do not match; check the number.") for name in exc.field_errors()
                    }
        else:
            return RedirectResponse("/settings/company?done=saved", status_code=303)
    return render(
        request, "account_settings/company.html", _profile_context(values, etag, errors, None), status_code=status_code
    )


# ---------------------------------------------------------------- warehouses of 1C


async def _warehouses_page(
    request: Request, api: Any, errors: dict[str, str], typed: dict[str, str], status_code: int = 200
) -> Response:
    listing = await api.erp_bridge.warehouses()
    rows = [w for w in listing.get("items") or [] if not w.get("deleted")]
    context = {"rows": rows, "errors": errors, "typed": typed, "flash": _flash(request)}
    return render(request, "account_settings/erp_warehouses.html", context, status_code=status_code)


@router.get("/settings/erp/warehouses")
async def erp_warehouses(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: which 1C warehouse (its Ид) feeds each warehouse's stock."""
    require_staff(user)
    return await _warehouses_page(request, api, {}, {})


@router.post("/settings/erp/warehouses/{warehouse_id:uuid}")
async def map_erp_warehouse(warehouse_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: map a warehouse to a 1C warehouse, or clear the mapping with an empty field."""
    require_staff(user)
    form = await request.form()
    erp_id = str(form.get("erp_id") or "").strip()[:200]
    key = str(warehouse_id)
    try:
        await api.erp_bridge.map_warehouse(key, erp_id or None)
    except ServiceError as exc:
        refused = _refused(exc)
        message = (
            _("This 1C warehouse is already mapped to another warehouse.")
            if exc.code in ("erp_id_taken", "erp_id_in_use")
            else refused.get("_") or _("Check this value.")
        )
        return await _warehouses_page(request, api, {key: message}, {key: erp_id}, status_code=422)
    return RedirectResponse("/settings/erp/warehouses?done=saved", status_code=303)
