"""R-UI-9: stock — warehouses and stock per warehouse item, expected deliveries and their receipt, manual reserves,
the drill-down from an item to the orders holding it (R-RSV-5) and from an order line back to its reserve, and
stock on hand from an Excel file with its row report.

Everything is inventory's (``/api/v1/stock``, ``/stock/reserves``, ``/manual-reserves``, ``/incoming``,
``/orders/{id}/lines/{id}/reserves``, ``/stock/upload``): order numbers and buyer names come in its answers."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from oms_console.clients import Api, ServiceError, new_idempotency_key
from oms_console.i18n import _
from oms_console.reasons import file_problem
from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services, known_error, require_staff
from oms_console.views.imports import _read_bounded

router = APIRouter()

PER_PAGE = 50
MAX_OFFSET = 10_000
INCOMING_STATUSES = ("expected", "received")


def _page_number(raw: str | None) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        return 1
    return value if value >= 1 else 1


def _uuid_or_empty(raw: str | None) -> str:
    """A warehouse id from the URL, or "" when it is absent or not an id (the filter then shows everything)."""
    try:
        return str(uuid.UUID((raw or "").strip()))
    except ValueError:
        return ""


def _url(path: str, **params: Any) -> str:
    pairs = [(k, str(v)) for k, v in params.items() if v not in ("", None) and not (k == "page" and v == 1)]
    return path + ("?" + urlencode(pairs) if pairs else "")


def _pager(path: str, params: dict[str, Any], page: int, shown: int, total: Any) -> dict[str, Any]:
    offset = (page - 1) * PER_PAGE
    has_next = isinstance(total, int) and offset + shown < total and offset + PER_PAGE <= MAX_OFFSET
    return {
        "first": offset + 1 if shown else 0,
        "last": offset + shown,
        "total": total,
        "prev": _url(path, **params, page=page - 1) if page > 1 else None,
        "next": _url(path, **params, page=page + 1) if has_next else None,
    }


async def _warehouses(api: Api) -> list[dict[str, Any]]:
    body = await api.inventory.warehouses()
    return list(body.get("items") or [])


def _flash(request: Request) -> dict[str, Any] | None:
    """A message carried over a redirect (``?done=<key>``), from a fixed list."""
    messages = {
        "reserve": _("Manual reserve saved."),
        "cleared": _("Manual reserve cleared."),
        "received": _("The delivery is received: it is in stock now."),
    }
    key = request.query_params.get("done")
    return {"kind": "success", "text": messages[key]} if key in messages else None


# -- the stock list ---------------------------------------------------------------------------------


@router.get("/stock")
async def stock_list(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-9: stock per warehouse item; the warehouse, the search and the page live in the URL."""
    require_staff(user)
    params = request.query_params
    warehouse = _uuid_or_empty(params.get("warehouse"))
    q = (params.get("q") or "").strip()[:200]
    page = _page_number(params.get("page"))
    errors: dict[str, str] = {}
    if (page - 1) * PER_PAGE > MAX_OFFSET:
        errors["_"] = _("This page is too far; narrow the filters.")
        page = 1
    query = {"warehouse_id": warehouse, "q": q, "limit": PER_PAGE, "offset": (page - 1) * PER_PAGE}
    warehouses, answer = await asyncio.gather(_warehouses(api), api.inventory.stock(**query))
    items = list(answer.get("items") or [])
    link = {"warehouse": warehouse, "q": q}
    context = {
        "warehouses": warehouses,
        "warehouse_names": {str(w.get("warehouse_id")): w.get("name") or w.get("code") or "" for w in warehouses},
        "warehouse": warehouse,
        "q": q,
        "items": items,
        "pager": _pager("/stock", link, page, len(items), answer.get("total")),
        "errors": errors,
    }
    partial = is_htmx(request) and request.headers.get("HX-Target") == "results"
    return render(request, "stock/list.html", context, block="results" if partial else None)


# -- one warehouse item: who holds it, and its manual reserve ---------------------------------------


async def _item_page(
    request: Request,
    api: Api,
    warehouse_id: str,
    sku: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    item, warehouses = await asyncio.gather(api.inventory.item_reserves(warehouse_id, sku), _warehouses(api))
    holders = list(item.get("holders") or [])
    manual = next((h for h in holders if h.get("kind") == "manual"), None)
    names = {str(w.get("warehouse_id")): w.get("name") or w.get("code") or "" for w in warehouses}
    context = {
        "stock_item": item,  # not "item": base.html has a macro of that name
        "sku": sku,
        "warehouse_id": warehouse_id,
        "warehouse_name": names.get(warehouse_id, ""),
        "orders": [h for h in holders if h.get("kind") == "order"],
        "holds": [h for h in holders if h.get("kind") != "order"],
        "manual": manual,
        "form": form or {"quantity": str((manual or {}).get("reserved") or ""), "reason": ""},
        "errors": errors or {},
        "idempotency_key": new_idempotency_key(),
        "flash": _flash(request),
    }
    return render(request, "stock/item.html", context, status_code=status_code)


def _item_key(warehouse: str | None, sku: str | None) -> tuple[str, str]:
    warehouse_id = _uuid_or_empty(warehouse)
    sku_text = (sku or "").strip()
    if not warehouse_id or not sku_text or len(sku_text) > 100:
        raise ServiceError("console", 404, "not_found", "")
    return warehouse_id, sku_text


@router.get("/stock/item")
async def item_page(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-9, R-RSV-5: an item's figures, the orders (number, buyer) and the manual and Integration reserves
    holding it."""
    require_staff(user)
    warehouse_id, sku = _item_key(request.query_params.get("warehouse"), request.query_params.get("sku"))
    return await _item_page(request, api, warehouse_id, sku)


def _quantity_error(raw: str) -> str | None:
    try:
        value = Decimal(raw.replace(" ", "").replace(",", "."))
    except InvalidOperation:
        return _("Enter a quantity: 0 or more.")
    if not value.is_finite() or value < 0:
        return _("Enter a quantity: 0 or more.")
    return None


def _reserve_refusal(exc: ServiceError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "exceeds_available":
        try:
            most = Decimal(str(details.get("available") or 0)) + Decimal(str(details.get("manual_reserved") or 0))
        except InvalidOperation:
            most = Decimal(0)
        return {"quantity": _("Only %(qty)s can be reserved manually now.") % {"qty": _plain(most)}}
    if exc.code in ("not_a_number", "missing_quantity", "negative_quantity", "too_large", "too_precise", "not_whole"):
        return {"quantity": _("Check this value.")}
    if exc.code in ("unknown_sku", "unknown_warehouse"):
        return {"_": _("There is no such item in this warehouse.")}
    return {"_": known_error(exc.code) or _("The request was refused.")}


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


@router.post("/stock/item/manual-reserve")
async def set_manual_reserve(
    request: Request,
    user: CurrentUser,
    api: Services,
    warehouse: Annotated[str, Form(max_length=100)] = "",
    sku: Annotated[str, Form(max_length=200)] = "",
    quantity: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    clear: Annotated[str, Form(max_length=10)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-RSV-3: the manual reserve of an item set, or cleared (quantity 0)."""
    require_staff(user)
    warehouse_id, sku_text = _item_key(warehouse, sku)
    cleared = clear == "true"
    quantity = "0" if cleared else quantity.strip()
    form = {"quantity": quantity, "reason": reason}
    problem = _quantity_error(quantity) if quantity else _("Enter a quantity: 0 or more.")
    if problem:
        return await _item_page(
            request, api, warehouse_id, sku_text, form=form, errors={"quantity": problem}, status_code=422
        )
    normalized = quantity.replace(" ", "").replace(",", ".")
    try:
        await api.inventory.set_manual_reserve(
            warehouse_id, sku_text, normalized, reason.strip(), idempotency_key or None
        )
    except ServiceError as exc:
        if exc.status in (400, 404, 409, 422):
            errors = _reserve_refusal(exc)
            return await _item_page(request, api, warehouse_id, sku_text, form=form, errors=errors, status_code=422)
        raise
    done = "cleared" if Decimal(normalized) == 0 else "reserve"
    return RedirectResponse(_url("/stock/item", warehouse=warehouse_id, sku=sku_text, done=done), status_code=303)


# -- from an order line back to its reserve ---------------------------------------------------------


@router.get("/stock/orders/{order_id:uuid}/lines/{line_id:uuid}")
async def line_page(
    order_id: uuid.UUID, line_id: uuid.UUID, request: Request, user: CurrentUser, api: Services
) -> Response:
    """R-RSV-5: an order line's reserve (requested, reserved, short) and the entries behind it, with the way to
    the warehouse item. An order that holds nothing yet (not confirmed) says so."""
    require_staff(user)
    try:
        line, warehouses = await asyncio.gather(
            api.inventory.line_reserves(str(order_id), str(line_id)), _warehouses(api)
        )
    except ServiceError as exc:
        if exc.status != 404 or exc.code not in ("order_not_found", "line_not_found"):
            raise
        context = {"line": None, "order_id": str(order_id), "warehouse_name": ""}
        return render(request, "stock/line.html", context)
    names = {str(w.get("warehouse_id")): w.get("name") or w.get("code") or "" for w in warehouses}
    context = {
        "line": line,
        "order_id": str(order_id),
        "warehouse_name": names.get(str(line.get("warehouse_id")), ""),
    }
    return render(request, "stock/line.html", context)


# -- expected deliveries ----------------------------------------------------------------------------


async def _incoming_page(
    request: Request,
    api: Api,
    *,
    errors: dict[str, str] | None = None,
    failed: str = "",
    typed: str = "",
    status_code: int = 200,
) -> Response:
    params = request.query_params
    warehouse = _uuid_or_empty(params.get("warehouse"))
    status = params.get("status") if params.get("status") in INCOMING_STATUSES else "expected"
    page = _page_number(params.get("page"))
    if (page - 1) * PER_PAGE > MAX_OFFSET:
        page = 1
    query = {"warehouse_id": warehouse, "status": status, "limit": PER_PAGE, "offset": (page - 1) * PER_PAGE}
    warehouses, answer = await asyncio.gather(_warehouses(api), api.inventory.incoming(**query))
    items = list(answer.get("items") or [])
    link = {"warehouse": warehouse, "status": status}
    context = {
        "warehouses": warehouses,
        "warehouse_names": {str(w.get("warehouse_id")): w.get("name") or w.get("code") or "" for w in warehouses},
        "warehouse": warehouse,
        "status": status,
        "items": items,
        "pager": _pager("/stock/incoming", link, page, len(items), answer.get("total")),
        "errors": errors or {},
        "failed": failed,
        "typed": typed,
        "idempotency_key": new_idempotency_key(),
        "flash": _flash(request),
    }
    return render(request, "stock/incoming.html", context, status_code=status_code)


@router.get("/stock/incoming")
async def incoming_list(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-9: expected deliveries per warehouse, each with its receipt."""
    require_staff(user)
    return await _incoming_page(request, api)


@router.post("/stock/incoming/{incoming_id:uuid}/receive")
async def receive(
    incoming_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    quantity: Annotated[str, Form(max_length=50)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-9: an expected delivery arrived, all of it or the quantity typed (the rest stays expected): it goes
    into stock on hand and waiting orders are filled."""
    require_staff(user)
    iid = str(incoming_id)
    typed = quantity.strip()
    normalized = typed.replace(" ", "").replace(",", ".")
    if typed and (_quantity_error(typed) or Decimal(normalized) == 0):
        errors = {"quantity": _("Enter the quantity that arrived.")}
        return await _incoming_page(request, api, errors=errors, failed=iid, typed=typed, status_code=422)
    try:
        await api.inventory.receive(iid, normalized or None, idempotency_key or None)
    except ServiceError as exc:
        if exc.code == "already_received":
            errors = {"_": _("This delivery is already received.")}
        elif exc.code == "incoming_not_found":
            errors = {"_": _("There is no such delivery.")}
        elif exc.code == "exceeds_expected":
            errors = {"quantity": _("More than is expected.")}
        elif exc.status in (400, 422):
            errors = {"quantity": _("Check this value.")}
        elif exc.status in (403, 409):
            errors = {"_": known_error(exc.code) or _("The request was refused.")}
        else:
            raise
        code = 409 if exc.status == 409 else 422
        return await _incoming_page(request, api, errors=errors, failed=iid, typed=typed, status_code=code)
    return RedirectResponse("/stock/incoming?done=received", status_code=303)


# -- stock from a file ------------------------------------------------------------------------------

_ROW_CODES = {
    "unknown_sku": lambda: _("There is no product with this SKU."),
    "missing_sku": lambda: _("The SKU is missing."),
    "duplicate_row": lambda: _("This item is listed twice."),
    "unknown_warehouse": lambda: _("There is no warehouse with this code."),
    "missing_warehouse": lambda: _("The warehouse code is missing."),
    "invalid_id": lambda: _("There is no warehouse with this code."),
    "below_reserved": lambda: _("Less than is reserved: release reserves first."),
    "missing_quantity": lambda: _("The quantity is missing."),
    "not_a_number": lambda: _("The quantity is not a number"),
    "negative_quantity": lambda: _("The quantity must not be negative"),
    "too_large": lambda: _("The quantity is too large"),
    "too_precise": lambda: _("The quantity has more than 3 decimal places."),
    "not_an_object": lambda: _("The row cannot be read."),
}


def _row_report(exc: ServiceError) -> list[dict[str, Any]]:
    """Inventory's refusal row by row: ``details`` is ``[{row, field, code, message}]``."""
    rows = []
    if isinstance(exc.details, list):
        for detail in exc.details:
            if isinstance(detail, dict) and "row" in detail:
                code = str(detail.get("code") or "")
                text = _ROW_CODES[code]() if code in _ROW_CODES else str(detail.get("message") or "")
                rows.append({"row": detail.get("row"), "field": str(detail.get("field") or ""), "reason": text})
    return rows


def _upload_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    applied: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "errors": errors or {},
        "rows": rows or [],
        "applied": applied,
        "idempotency_key": new_idempotency_key(),
        "max_mib": max(request.app.state.settings.max_upload_bytes // (1024 * 1024), 1),
    }
    return render(request, "stock/upload.html", context, status_code=status_code)


@router.get("/stock/upload")
async def upload_page(request: Request, user: CurrentUser) -> Response:
    require_staff(user)
    return _upload_page(request)


@router.post("/stock/upload")
async def upload_stock(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-9: stock on hand from an Excel file (warehouse_code, sku, on_hand); a bad row applies nothing and the
    report says which and why."""
    require_staff(user)
    posted = await request.form()
    upload = posted.get("file")
    max_bytes = request.app.state.settings.max_upload_bytes
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_page(request, errors={"file": _("Choose the Excel file (.xlsx).")}, status_code=422)
    content = await _read_bounded(upload, max_bytes)
    if content is None:
        message = _("The file is larger than %(mib)s MiB.") % {"mib": max(max_bytes // (1024 * 1024), 1)}
        return _upload_page(request, errors={"file": message}, status_code=413)
    if not content:
        return _upload_page(request, errors={"file": _("The file is empty.")}, status_code=422)
    key = str(posted.get("idempotency_key") or "")[:100] or None
    try:
        answer = await api.inventory.upload_stock(upload.filename[:200], content, key)
    except ServiceError as exc:
        if exc.status not in (400, 403, 404, 409, 413, 422):
            raise
        rows = _row_report(exc)
        if rows:
            errors = {"_": _("Nothing was changed: fix the rows below and upload the file again.")}
        elif exc.status == 403:
            errors = {"_": known_error("forbidden") or ""}
        elif exc.status == 413 or exc.code in ("file_too_large", "upload_too_large"):
            errors = {"file": _("The file is too large.")}
        else:
            errors = {"file": file_problem(exc.code, exc.message)}
        return _upload_page(request, errors=errors, rows=rows, status_code=413 if exc.status == 413 else 422)
    return _upload_page(request, applied=list(answer.get("items") or []))
