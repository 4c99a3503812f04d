"""R-UI-12: the printable order (and its parts) with the supplier's and the buyer's details, lines, VAT and
totals, as a print page and as a PDF made from the same HTML."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from oms_console import i18n
from oms_console.auth import User
from oms_console.clients import Api, ServiceError
from oms_console.i18n import _
from oms_console.pdf import PdfRenderer, PdfUnavailable
from oms_console.rendering import page_context, render
from oms_console.views.common import CurrentUser, Services

log = logging.getLogger(__name__)
router = APIRouter()
MAX_PARTS = 50


async def print_context(api: Api, user: User, order_id: str) -> dict[str, Any]:
    """The order, its parts, and whatever the orders service tells of both sides (name, INN, KPP)."""
    order = (await api.orders.order(order_id)).body
    part_ids = [str(x) for x in order.get("part_ids") or []][:MAX_PARTS]
    me_task = api.orders.me()
    parts_task = asyncio.gather(*(api.orders.order(x) for x in part_ids))
    me, parts = await asyncio.gather(me_task, parts_task)
    account = dict(me.get("account") or {})
    supplier: dict[str, Any] = {"name": order.get("supplier_name") or ""}
    buyer: dict[str, Any] = {"name": order.get("buyer_name") or ""}
    if user.is_staff:
        # The supplier's own people print with the company profile: address and bank details (R-UI-11).
        profile = ("inn", "kpp", "address", "bank_name", "bic", "bank_account", "correspondent_account")
        supplier = {**supplier, **{k: account.get(k) or "" for k in profile}}
        try:
            found = await api.orders.buyer(str(order["buyer_id"]))
        except ServiceError:
            found = {}
        buyer = {
            "name": found.get("name") or buyer["name"],
            "inn": found.get("inn") or "",
            "kpp": found.get("kpp") or "",
            "contacts": found.get("contacts") or "",
        }
    else:
        buyer = {**buyer, "inn": account.get("inn") or "", "kpp": account.get("kpp") or ""}
    return {"order": order, "parts": [p.body for p in parts], "supplier": supplier, "buyer": buyer}


@router.get("/orders/{order_id:uuid}/print")
async def print_page(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    context = await print_context(api, user, oid)
    return render(request, "print/order.html", {**context, "pdf": False, "pdf_error": ""})


def _renderer(request: Request) -> PdfRenderer:
    renderer = getattr(request.app.state, "pdf", None)
    if not isinstance(renderer, PdfRenderer):
        renderer = request.app.state.pdf = PdfRenderer()
    return renderer


@router.get("/orders/{order_id:uuid}/print.pdf")
async def print_pdf(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    renderer = _renderer(request)
    context = await print_context(api, user, oid)
    try:
        renderer.check()
    except PdfUnavailable as exc:
        log.warning("PDF unavailable: %s", exc)
        message = _("PDF files cannot be made on this server right now. Print this page instead.")
        return render(request, "print/order.html", {**context, "pdf": False, "pdf_error": message}, status_code=503)
    env = request.app.state.templates
    html = env.get_template("print/order.html").render(
        {**page_context(request), **context, "pdf": True, "pdf_error": ""}
    )
    content = await renderer.render(html)
    number = str(context["order"].get("number") or oid)
    filename = f"{_('order')}-{number}.pdf"
    disposition = f"inline; filename=\"order-{quote(number)}.pdf\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": disposition, "Content-Language": i18n.current_locale()},
    )
