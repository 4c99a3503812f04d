"""R-UI-5: editing an order as a change set (the supplier), sending it for approval, and the buyer's review
with agree / cancel (R-ED-1, R-ED-3, R-ED-4)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import drafts, i18n
from oms_console.clients import Api, ServiceError
from oms_console.clients.base import new_idempotency_key
from oms_console.clients.orders import Versioned
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, conflict_message, require_staff

router = APIRouter()

SEND_FOR_APPROVAL = "awaiting_approval"
EDITABLE = ("new", "editing", "awaiting_approval", "agreed", "confirmed")  # the orders service's rule (R-ED-1)
BUYER_ANSWERS = ("agreed", "cancelled")


def refusal_text(exc: ServiceError) -> str:
    """A service's refusal in the user's language (the services speak English)."""
    known = {
        "not_editable": _("This order can no longer be changed in its current status."),
        "no_changes": _("There is nothing to change: the draft is the same as the order."),
        "invalid_lines": _("Some changes were not accepted; see the marked fields."),
        "illegal_transition": _("This status change is not allowed now."),
        "comment_required": _("Give a reason in the comment."),
        "empty_part": _("A part must keep at least one line; move fewer lines."),
        "same_order": _("Choose another part as the target."),
        "not_a_sibling": _("The target is not a part of the same order."),
    }
    text = known.get(exc.code, _("The change was not accepted."))
    if i18n.current_locale() == "en" and exc.message and exc.code not in known:
        text = f"{text} {exc.message}"
    return text


def done_flash(request: Request) -> None:
    messages = {
        "edited": _("Changes saved. Send them to the buyer for approval when the draft is complete."),
        "sent": _("Sent to the buyer for approval."),
        "agreed": _("You agreed to the changes."),
        "cancelled": _("The order is cancelled."),
    }
    key = request.query_params.get("done", "")
    if key in messages:
        request.state.flash = {"kind": "success", "text": messages[key]}


MAX_LOOKUPS = 20


async def _price_items(
    api: Api, order: dict[str, Any], skus: list[str] | None = None
) -> tuple[dict[str, dict[str, Any]] | None, list[dict[str, Any]]]:
    """The order's price list: its warehouses, and the items of the SKUs typed for new lines (looked up one by
    one, not the whole list). ``None`` for the items when the price list cannot be read (nothing is refused)."""
    price_list_id = str(order.get("price_list_id") or "")
    if not price_list_id:
        return None, []
    wanted = sorted({s for s in skus or [] if s})[:MAX_LOOKUPS]
    try:
        pages = await asyncio.gather(
            api.orders.price_list_items(price_list_id, limit=1),
            *(api.orders.price_list_items(price_list_id, q=sku, limit=50) for sku in wanted),
        )
    except ServiceError:
        return None, []
    items = {str(i["sku"]): i for page in pages[1:] for i in page.get("items") or [] if i.get("sku") in wanted}
    return items, list(pages[0].get("warehouses") or [])


def _edit_page(
    request: Request,
    order: Versioned,
    draft: drafts.Draft,
    items: dict[str, dict[str, Any]] | None,
    warehouses: list[dict[str, Any]],
    *,
    etag: str | None = None,
    key: str | None = None,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> Response:
    """The edit page. ``key``: the Idempotency-Key to keep (a preview's apply may be sent twice as one); a page
    shown after the service refused a write gets a new one, since the next write is a different request."""
    result = drafts.review(order.body, draft, items)
    shown_errors = {**(result.errors if draft is not None else {}), **(errors or {})}
    sendable = any(t.get("to") == SEND_FOR_APPROVAL for t in order.body.get("allowed_transitions") or [])
    return render(
        request,
        "editing/edit.html",
        {
            "order": order.body,
            "etag": etag if etag is not None else order.etag,
            "key": key or new_idempotency_key(),
            "draft": draft,
            "review": result,
            "errors": shown_errors,
            "items": items or {},
            "warehouses": warehouses,
            "conflict": conflict,
            "conflict_text": conflict_message() if conflict else "",
            "sendable": sendable and not result.has_changes,
            "editable": order.body.get("status") in EDITABLE,
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id:uuid}/edit")
async def edit_page(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    if user.is_buyer:
        return RedirectResponse(f"/orders/{oid}/approval", status_code=303)
    require_staff(user)
    order = await api.orders.order(oid)
    items, warehouses = await _price_items(api, order.body)
    done_flash(request)
    return _edit_page(request, order, drafts.Draft.from_order(order.body), items, warehouses)


@router.post("/orders/{order_id:uuid}/edit")
async def edit_submit(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    require_staff(user)
    form = await request.form()
    action = str(form.get("action") or "preview")
    seen_etag = str(form.get("etag") or "") or None
    key = str(form.get("idempotency_key") or "") or new_idempotency_key()
    order = await api.orders.order(oid)
    draft = drafts.Draft.from_form(form, form.getlist, order.body)
    items, warehouses = await _price_items(api, order.body, [a.sku for a in draft.add])
    if action == "reload":
        # R-ED-4: the order as it is now, with the draft laid over it; the next apply uses the fresh version.
        return _edit_page(request, order, draft, items, warehouses)
    if action == "discard":
        return RedirectResponse(f"/orders/{oid}/edit", status_code=303)
    conflict = seen_etag is not None and order.etag is not None and seen_etag != order.etag
    result = drafts.review(order.body, draft, items)
    if action != "apply" or not result.valid:
        status = 422 if action == "apply" and not result.valid else 200
        return _edit_page(
            request, order, draft, items, warehouses, etag=seen_etag, key=key, conflict=conflict, status_code=status
        )
    if not result.has_changes:
        errors = {"_": _("There is nothing to change: the draft is the same as the order.")}
        return _edit_page(request, order, draft, items, warehouses, etag=seen_etag, errors=errors, status_code=422)
    etag = seen_etag
    try:
        lines = drafts.lines_request(result, draft)
        if lines is not None:
            etag = (await api.orders.edit_lines(oid, lines, etag, f"{key}:lines")).etag
        profile = drafts.profile_request(result)
        if profile is not None:
            etag = (await api.orders.update_profile(oid, profile, etag, f"{key}:profile")).etag
    except ServiceError as exc:
        if exc.status == 412:
            return _edit_page(request, order, draft, items, warehouses, etag=seen_etag, conflict=True, status_code=412)
        if exc.status in (403, 404):
            raise
        fresh = await api.orders.order(oid)  # a part may have been applied (the lines before the date)
        errors = {"_": refusal_text(exc), **drafts.service_errors(exc.details, draft)}
        if "shipment_date" in exc.field_errors():
            errors["shipment_date"] = _("This date is not accepted (it may be in the past).")
        return _edit_page(request, fresh, draft, items, warehouses, errors=errors, status_code=422)
    return RedirectResponse(f"/orders/{oid}/edit?done=edited", status_code=303)


@router.post("/orders/{order_id:uuid}/edit/send")
async def send_for_approval(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    """R-ED-1: the applied changes go to the buyer (status Awaiting approval)."""
    oid = str(order_id)
    require_staff(user)
    form = await request.form()
    body = {"to": SEND_FOR_APPROVAL, "comment": str(form.get("comment") or "").strip()}
    etag = str(form.get("etag") or "") or None
    try:
        await api.orders.transition(oid, body, etag, str(form.get("idempotency_key") or "") or None)
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise
        order = await api.orders.order(oid)
        items, warehouses = await _price_items(api, order.body)
        draft = drafts.Draft.from_order(order.body)
        if exc.status == 412:
            return _edit_page(request, order, draft, items, warehouses, conflict=True, status_code=412)
        return _edit_page(request, order, draft, items, warehouses, errors={"_": refusal_text(exc)}, status_code=422)
    return RedirectResponse(f"/orders/{oid}/approval?done=sent", status_code=303)


# ------------------------------------------------------------------ the buyer's review (R-ED-3)


def proposal(order: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The lines as they are now with what changed since the order last went into editing: per line the
    marker and the old values, and the lines deleted (from the change log)."""
    history = order.get("history") or []
    since = max((str(h.get("at") or "") for h in history if h.get("to") == "editing"), default="")
    recent = [c for c in changes if str(c.get("at") or "") >= since]
    per_line: dict[str, dict[str, Any]] = {}
    for c in recent:
        entry = per_line.setdefault(str(c.get("line_id")), {"old": {}, "added": False, "deleted": None})
        field = c.get("field")
        if field in drafts.FIELDS:
            entry["old"].setdefault(field, c.get("old"))
        elif field == "added":
            entry["added"] = True
        elif field == "deleted":
            entry["deleted"] = c
    rows = []
    for line in order.get("lines") or []:
        entry = per_line.get(str(line["line_id"]), {"old": {}, "added": False})
        old = {f: v for f, v in entry["old"].items() if v is not None and str(v) != str(line.get(f))}
        marker = "new" if entry["added"] else ("changed" if old else "unchanged")
        rows.append({"line": line, "marker": marker, "old": old})
    removed = [e["deleted"] for e in per_line.values() if e.get("deleted")]
    return {"rows": rows, "removed": removed, "since": since, "changed": bool(recent)}


def _approval_page(
    request: Request, order: Versioned, changes: dict[str, Any], *, errors: dict[str, str] | None = None,
    conflict: bool = False, comment: str = "", status_code: int = 200,
) -> Response:  # fmt: skip
    moves = {t["to"]: t for t in order.body.get("allowed_transitions") or [] if t.get("to") in BUYER_ANSWERS}
    return render(
        request,
        "editing/approval.html",
        {
            "order": order.body,
            "etag": order.etag,
            "key": new_idempotency_key(),
            "proposal": proposal(order.body, list(changes.get("items") or [])),
            "moves": moves,
            "errors": errors or {},
            "conflict": conflict,
            "conflict_text": conflict_message() if conflict else "",
            "comment": comment,
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id}/approval")
async def approval_page(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    order = await api.orders.order(oid)
    changes = await api.orders.changes(oid)
    done_flash(request)
    return _approval_page(request, order, changes)


@router.post("/orders/{order_id}/approval")
async def approval_answer(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    """R-ED-1: the buyer agrees to the changes or cancels the order."""
    oid = str(order_id)
    form = await request.form()
    to = str(form.get("to") or "")
    comment = str(form.get("comment") or "").strip()
    if to not in BUYER_ANSWERS:
        order = await api.orders.order(oid)
        changes = await api.orders.changes(oid)
        return _approval_page(
            request, order, changes, errors={"_": _("Choose to agree or to cancel.")}, status_code=422
        )
    etag = str(form.get("etag") or "") or None
    try:
        await api.orders.transition(
            oid, {"to": to, "comment": comment}, etag, str(form.get("idempotency_key") or "") or None
        )
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise
        order = await api.orders.order(oid)
        changes = await api.orders.changes(oid)
        if exc.status == 412:
            return _approval_page(request, order, changes, conflict=True, comment=comment, status_code=412)
        errors = {"_": refusal_text(exc)}
        if exc.code == "comment_required" or "comment" in exc.field_errors():
            errors["comment"] = _("Give a reason in the comment.")
        return _approval_page(request, order, changes, errors=errors, comment=comment, status_code=422)
    return RedirectResponse(f"/orders/{oid}/approval?done={to}", status_code=303)
