"""R-UI-4: the order page (``/orders/{order_id}``, where e-mails link): header, parties and people, dates,
payment, parts and lines, the timeline (status history, line changes, comments, documents), and only the
status changes the orders service says this user may make (``next_statuses``).

Writes carry the ETag the page was rendered with (If-Match) and an Idempotency-Key made when the form was
rendered, so a double submit is one effect; a 412 says someone changed the order and offers a reload (R-ED-4).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from oms_console.auth import User
from oms_console.clients import Api, ServiceError, Versioned, new_idempotency_key
from oms_console.i18n import _, file_size
from oms_console.labels import payment_name
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, conflict_message, flash_from, form_errors, user_and
from oms_console.views.inbox import looked_at
from oms_console.views.orders import list_names, payment_state

router = APIRouter()

# R-LS-2: only finished orders may be hidden from one's list.
HIDEABLE = ("cancelled", "shipped", "rejected")
STATUSES = ("new", "editing", "awaiting_approval", "agreed", "confirmed", "shipped", "rejected", "cancelled")


async def _load(api: Api, order_id: str) -> dict[str, Any]:
    """The order and what its page shows beside it, fetched together."""
    order, changes, comments, documents = await asyncio.gather(
        api.orders.order(order_id),
        api.orders.changes(order_id),
        api.orders.comments(order_id),
        api.orders.documents(order_id),
    )
    body = order.body
    related = [str(p) for p in body.get("part_ids") or []]
    parent = body.get("parent_order_id")
    if parent:
        related.insert(0, str(parent))
    others = await asyncio.gather(*(api.orders.order(r) for r in related), return_exceptions=True)
    found = {r: o.body for r, o in zip(related, others, strict=True) if isinstance(o, Versioned)}
    for failure in others:
        if isinstance(failure, BaseException) and not isinstance(failure, ServiceError):
            raise failure
    return {
        "order": body,
        "etag": order.etag or f'"{body.get("version", "")}"',
        "changes": list(changes.get("items") or []),
        "comments": list(comments.get("items") or []),
        "documents": list(documents.get("items") or []),
        "parent": found.get(str(parent)) if parent else None,
        "parts": [found[str(p)] for p in body.get("part_ids") or [] if str(p) in found],
    }


def timeline(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event of the order, newest first, each with who did it."""
    events: list[dict[str, Any]] = []
    for h in data["order"].get("history") or []:
        events.append(
            {
                "kind": "status",
                "at": h.get("at"),
                "who": h.get("by_user_name") or "",
                "side": h.get("by_side"),
                "from": h.get("from"),
                "to": h.get("to"),
                "text": h.get("comment") or "",
            }
        )
    for c in data["changes"]:
        events.append(
            {
                "kind": "change",
                "at": c.get("at"),
                "who": c.get("by_user_name") or "",
                "side": c.get("by_side"),
                "sku": c.get("sku"),
                "field": c.get("field"),
                "old": c.get("old"),
                "new": c.get("new"),
            }
        )
    for c in data["comments"]:
        events.append(
            {
                "kind": "comment",
                "at": c.get("at"),
                "who": c.get("author_name") or "",
                "side": c.get("author_side"),
                "text": c.get("text") or "",
            }
        )
    for d in data["documents"]:
        events.append(
            {
                "kind": "document",
                "at": d.get("at"),
                "who": d.get("uploaded_by_name") or "",
                "side": d.get("uploaded_by_side"),
                "document": d,
            }
        )
    # Newest first; events of the same instant keep the order the service gave them, reversed with the rest.
    ordered = sorted(enumerate(events), key=lambda pair: (str(pair[1].get("at") or ""), pair[0]), reverse=True)
    return [event for _index, event in ordered]


async def _page(
    request: Request,
    user: User,
    api: Api,
    order_id: str,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
    loaded: dict[str, Any] | None = None,
) -> Response:
    if loaded is None:
        data, names = await asyncio.gather(_load(api, order_id), list_names(request, api, user))
    else:
        data, names = loaded, await list_names(request, api, user)
    order = data["order"]
    allowed = [s for s in order.get("next_statuses") or [] if s in STATUSES]
    context = {
        **data,
        "names": names,
        "timeline": timeline(data),
        "allowed": allowed,
        "payment": payment_name(payment_state(order)),
        "payment_state": payment_state(order),
        "errors": errors or {},
        "typed": typed or {},
        # One key per rendered form: a double submit of the same form is one effect at the service.
        "keys": {name: new_idempotency_key() for name in ("transition", "comment", "document", "profile", "hide")},
        "hideable": order.get("status") in HIDEABLE,
        "flash": flash_from(request) or (getattr(request.state, "flash", None)),
    }
    return render(request, "orders/page.html", context, status_code=status_code)


@router.get("/orders/{order_id:uuid}")
async def order_page(order_id: uuid.UUID, request: Request, api: Services) -> Response:
    """R-UI-4: the order page; opening it reads the order's notifications (R-UI-8)."""
    oid = str(order_id)
    # The order is asked for with the user and the markers; what the user had not seen is marked read after.
    user, (loaded,) = await user_and(request, _load(api, oid))
    if isinstance(loaded, BaseException):
        raise loaded
    await looked_at(request, api, oid)
    return await _page(request, user, api, oid, loaded=loaded)


def _conflict(request: Request, order_id: str, typed: dict[str, str]) -> Response:
    """R-ED-4: someone changed the order since the page was rendered; nothing was done. What the user typed is
    shown again so it is not lost."""
    context = {"order_id": order_id, "message": conflict_message(), "typed": typed}
    return render(request, "orders/conflict.html", context, status_code=412)


def _refusal(exc: ServiceError) -> dict[str, str]:
    errors = form_errors(exc, {"comment": "comment", "text": "text"})
    if exc.status == 409 and exc.code not in ("not_editable",):
        errors["_"] = _("This status change is not possible now. Reload the page to see the order as it is.")
    elif exc.status == 403:
        errors["_"] = _("You have no access to this.")
    return errors


@router.post("/orders/{order_id:uuid}/transitions")
async def change_status(
    order_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    to: Annotated[str, Form(max_length=40)] = "",
    comment: Annotated[str, Form(max_length=5000)] = "",
    etag: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-4: a status change the page offered (the service checks the matrix again)."""
    oid = str(order_id)
    typed = {"to": to, "comment": comment}
    if to not in STATUSES:
        return await _page(request, user, api, oid, errors={"_": _("Choose a status.")}, typed=typed, status_code=422)
    if to in ("rejected", "cancelled") and not comment.strip():
        errors = {"comment": _("Say why."), "_": _("Say why.")}
        return await _page(request, user, api, oid, errors=errors, typed=typed, status_code=422)
    try:
        await api.orders.transition(oid, {"to": to, "comment": comment}, etag or None, idempotency_key or None)
    except ServiceError as exc:
        if exc.status == 412:
            return _conflict(request, oid, typed)
        if exc.status in (400, 403, 409, 422):
            return await _page(request, user, api, oid, errors=_refusal(exc), typed=typed, status_code=422)
        raise
    return RedirectResponse(f"/orders/{oid}?done=status", status_code=303)


@router.post("/orders/{order_id:uuid}/comments")
async def add_comment(
    order_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    text: Annotated[str, Form(max_length=5000)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-4: add a comment to the order."""
    oid = str(order_id)
    typed = {"text": text}
    if not text.strip():
        return await _page(
            request, user, api, oid, errors={"text": _("Write a comment.")}, typed=typed, status_code=422
        )
    try:
        await api.orders.add_comment(oid, text.strip(), idempotency_key or None)
    except ServiceError as exc:
        if exc.status in (400, 403, 409, 422):
            return await _page(request, user, api, oid, errors=_refusal(exc), typed=typed, status_code=422)
        raise
    return RedirectResponse(f"/orders/{oid}?done=comment#timeline", status_code=303)


@router.post("/orders/{order_id:uuid}/documents")
async def add_document(
    order_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    file: Annotated[UploadFile | None, File()] = None,
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-4: attach a file to the order."""
    oid = str(order_id)
    limit = request.app.state.settings.max_upload_bytes
    content = await file.read(limit + 1) if file is not None else b""
    if file is None or not file.filename or not content:
        return await _page(request, user, api, oid, errors={"file": _("Choose a file.")}, status_code=422)
    if len(content) > limit:
        message = _("The file is larger than %(size)s.") % {"size": file_size(limit)}
        return await _page(request, user, api, oid, errors={"file": message}, status_code=422)
    try:
        await api.orders.add_document(oid, file.filename, content, file.content_type, idempotency_key or None)
    except ServiceError as exc:
        if exc.status == 413:
            message = _("The file is too large.")
            return await _page(request, user, api, oid, errors={"file": message}, status_code=422)
        if exc.status in (400, 403, 409, 422):
            errors = _refusal(exc)
            errors.setdefault("file", _("This file cannot be attached."))
            return await _page(request, user, api, oid, errors=errors, status_code=422)
        raise
    return RedirectResponse(f"/orders/{oid}?done=document#documents", status_code=303)


@router.get("/orders/{order_id:uuid}/documents/{document_id:uuid}")
async def download_document(order_id: uuid.UUID, document_id: uuid.UUID, user: CurrentUser, api: Services) -> Response:
    """R-UI-4: a document of the order, as the orders service gives it."""
    answer = await api.orders.document(str(order_id), str(document_id))
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
    disposition = answer.headers.get("content-disposition")
    headers["Content-Disposition"] = disposition or "attachment"
    return Response(
        answer.content, media_type=answer.headers.get("content-type", "application/octet-stream"), headers=headers
    )


def _profile_changes(
    shipment_date: str, clear_shipment: bool, paid_amount: str, responsible: str, original: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the profile form changes (only fields that differ from the page), and what is wrong in it."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if clear_shipment:
        if original["shipment_date"]:
            body["shipment_date"] = None
    elif shipment_date.strip() != original["shipment_date"]:
        try:
            body["shipment_date"] = date.fromisoformat(shipment_date.strip()).isoformat()
        except ValueError:
            errors["shipment_date"] = _("Enter a date.")
    paid = paid_amount.strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if paid != original["paid_amount"]:
        try:
            amount = Decimal(paid or "0")
        except InvalidOperation:
            amount = Decimal(-1)
        if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
            errors["paid_amount"] = _("Enter an amount.")
        elif amount != Decimal(original["paid_amount"] or "0"):
            body["paid_amount"] = str(amount.quantize(Decimal("0.01")))
    if responsible != original["responsible_user_id"] and responsible:
        body["responsible_user_id"] = responsible
    return body, errors


@router.post("/orders/{order_id:uuid}/profile")
async def change_profile(
    order_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    shipment_date: Annotated[str, Form(max_length=20)] = "",
    clear_shipment: Annotated[bool, Form()] = False,
    paid_amount: Annotated[str, Form(max_length=40)] = "",
    responsible_user_id: Annotated[str, Form(max_length=40)] = "",
    orig_shipment_date: Annotated[str, Form(max_length=20)] = "",
    orig_paid_amount: Annotated[str, Form(max_length=40)] = "",
    orig_responsible_user_id: Annotated[str, Form(max_length=40)] = "",
    etag: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-PF-2/3: the supplier sets or clears the shipment date, enters the payment received, changes the
    responsible employee."""
    oid = str(order_id)
    typed = {"shipment_date": shipment_date, "paid_amount": paid_amount, "responsible_user_id": responsible_user_id}
    original = {
        "shipment_date": orig_shipment_date,
        "paid_amount": orig_paid_amount,
        "responsible_user_id": orig_responsible_user_id,
    }
    body, errors = _profile_changes(shipment_date, clear_shipment, paid_amount, responsible_user_id, original)
    if errors:
        return await _page(request, user, api, oid, errors=errors, typed=typed, status_code=422)
    if not body:
        return RedirectResponse(f"/orders/{oid}?done=unchanged", status_code=303)
    try:
        await api.orders.update_profile(oid, body, etag or None, idempotency_key or None)
    except ServiceError as exc:
        if exc.status == 412:
            return _conflict(request, oid, {})
        if exc.status in (400, 403, 409, 422, 428):
            errors = form_errors(exc, {"responsible_user_id": "responsible_user_id"})
            return await _page(request, user, api, oid, errors=errors, typed=typed, status_code=422)
        raise
    return RedirectResponse(f"/orders/{oid}?done=profile", status_code=303)


@router.post("/orders/{order_id:uuid}/hide")
async def hide_order(
    order_id: uuid.UUID,
    request: Request,
    user: CurrentUser,
    api: Services,
    etag: Annotated[str, Form(max_length=100)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-LS-2: a cancelled, shipped or rejected order leaves this side's list (the partner keeps it)."""
    oid = str(order_id)
    try:
        await api.orders.hide(oid, etag or None, idempotency_key or None)
    except ServiceError as exc:
        if exc.status == 412:
            return _conflict(request, oid, {})
        if exc.status in (400, 403, 409, 422):
            return await _page(request, user, api, oid, errors=form_errors(exc), status_code=422)
        raise
    return RedirectResponse("/orders?done=hidden", status_code=303)
