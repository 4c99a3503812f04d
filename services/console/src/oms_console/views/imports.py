"""R-UI-7: an order imported from Excel for a buyer (R-IN-3): the templates, the upload (bounded here before it
is forwarded), the row-by-row report, and the new order's link."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from oms_console import i18n
from oms_console.auth import User
from oms_console.clients import Api, ServiceError, new_idempotency_key
from oms_console.clients.orders import XLSX_TYPE
from oms_console.i18n import _
from oms_console.reasons import file_problem, line_reason
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, require_staff

router = APIRouter()

CHUNK = 64 * 1024


def _may_import(user: User) -> None:
    """Managers with at least "change" access to orders create orders for their buyers (the orders service
    still decides who may, per buyer); others find no such page."""
    require_staff(user)
    if not may_import(user):
        raise ServiceError("console", 404, "not_found", "")


def may_import(user: User) -> bool:
    return user.is_staff and (user.is_owner or user.access.get("orders") in ("change", "full"))


async def _choices(api: Api) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    buyers, price_lists = await asyncio.gather(api.orders.buyers(limit=200), api.orders.price_lists(limit=200))
    return list(buyers.get("items") or []), list(price_lists.get("items") or [])


async def _page(
    request: Request,
    api: Api,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    rows: list[dict[str, Any]] | None = None,
    order: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    buyers, price_lists = await _choices(api)
    context = {
        "buyers": buyers,
        "price_lists": price_lists,
        "form": form or {"buyer_id": "", "price_list_id": request.query_params.get("price_list", "")[:100]},
        "errors": errors or {},
        "rows": rows or [],
        "order": order,
        "idempotency_key": new_idempotency_key(),
        "max_mib": max(request.app.state.settings.max_upload_bytes // (1024 * 1024), 1),
    }
    return render(request, "imports/page.html", context, status_code=status_code)


@router.get("/orders/import")
async def import_page(request: Request, user: CurrentUser, api: Services) -> Response:
    _may_import(user)
    return await _page(request, api)


@router.get("/orders/import/template.xlsx")
async def template(request: Request, user: CurrentUser, api: Services, price_list: str = "") -> Response:
    """The generic template, or a price list's (its products, a quantity column per warehouse)."""
    _may_import(user)
    lang = i18n.current_locale()
    if price_list:
        try:
            content = await api.orders.price_list_import_template(price_list[:100], lang)
        except ServiceError as exc:
            if exc.status in (400, 422):
                raise ServiceError("console", 404, "not_found", "") from exc
            raise
        name = "order-template-price-list.xlsx"
    else:
        content = await api.orders.import_template(lang)
        name = "order-template.xlsx"
    return Response(
        content, media_type=XLSX_TYPE, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"}
    )


async def _read_bounded(upload: UploadFile, max_bytes: int) -> bytes | None:
    """The file's bytes, or ``None`` as soon as it passes ``max_bytes`` (never more is held)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _report(exc: ServiceError) -> list[dict[str, Any]]:
    """The orders service's refusal row by row: ``details`` is ``[{row, sku, reasons}]``."""
    rows = []
    if isinstance(exc.details, list):
        for detail in exc.details:
            if isinstance(detail, dict) and ("row" in detail or "reasons" in detail):
                reasons = detail.get("reasons") or [detail.get("reason") or ""]
                translated = [line_reason(str(r)) for r in reasons if r]
                rows.append({"row": detail.get("row"), "sku": detail.get("sku") or "", "reasons": translated})
    return rows


@router.post("/orders/import")
async def import_order(request: Request, user: CurrentUser, api: Services) -> Response:
    _may_import(user)
    posted = await request.form()
    form = {
        "buyer_id": str(posted.get("buyer_id") or "")[:100],
        "price_list_id": str(posted.get("price_list_id") or "")[:100],
    }
    errors: dict[str, str] = {}
    if not form["buyer_id"]:
        errors["buyer_id"] = _("Choose the buyer.")
    if not form["price_list_id"]:
        errors["price_list_id"] = _("Choose the price list.")
    upload = posted.get("file")
    content: bytes | None = None
    max_bytes = request.app.state.settings.max_upload_bytes
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors["file"] = _("Choose the Excel file (.xlsx).")
    else:
        content = await _read_bounded(upload, max_bytes)
        if content is None:
            errors["file"] = _("The file is larger than %(mib)s MiB.") % {"mib": max(max_bytes // (1024 * 1024), 1)}
            return await _page(request, api, form=form, errors=errors, status_code=413)
        if not content:
            errors["file"] = _("The file is empty.")
    if errors or content is None or not isinstance(upload, UploadFile):
        return await _page(request, api, form=form, errors=errors, status_code=422)
    key = str(posted.get("idempotency_key") or "")[:100] or None
    try:
        order = await api.orders.import_order(
            form["buyer_id"], form["price_list_id"], upload.filename or "order.xlsx", content, key
        )
    except ServiceError as exc:
        rows = _report(exc)
        if exc.status == 413:
            errors["file"] = file_problem(exc.code, exc.message)
        elif exc.code == "buyer_not_found":
            errors["buyer_id"] = _("There is no such buyer.")
        elif exc.code == "not_your_buyer":
            errors["buyer_id"] = _("You are not responsible for this buyer.")
        elif exc.code == "price_list_not_found":
            errors["price_list_id"] = _("There is no such price list.")
        elif rows:
            errors["_"] = _("Nothing was imported: fix the rows below and upload the file again.")
        else:
            found = exc.field_errors()
            errors.update({k: v for k, v in found.items() if k in ("buyer_id", "price_list_id", "file")})
            errors.setdefault("file", file_problem(exc.code, exc.message))
        return await _page(request, api, form=form, errors=errors, rows=rows, status_code=422)
    return await _page(request, api, form=form, order=order, status_code=201)
