"""R-UI-8: the inbox (``/inbox``), its read marks, and the e-mail preferences (``/settings/notifications``).

The badge in the header and the inbox read the same numbers from the notifications service: the inbox page
shows the ``unread`` count of its own list answer in the badge, so both agree on one page."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console.clients import Api, ServiceError, ServiceUnavailable
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, form_errors

log = logging.getLogger(__name__)
router = APIRouter()

PAGE_SIZE = 20
KINDS = (
    "new_order",
    "status_changed",
    "rejected",
    "comment",
    "document",
    "shipment_date",
    "lines_moved",
    "lines_edited",
    "overdue",
    "erp_conflict",
)


def kind_name(kind: str) -> str:
    """A notification kind (R-NT-3) in the user's language."""
    names = {
        "new_order": _("New order"),
        "status_changed": _("Status change"),
        "rejected": _("Rejection"),
        "comment": _("Comment"),
        "document": _("Document"),
        "shipment_date": _("Shipment date"),
        "lines_moved": _("Lines moved to another part"),
        "lines_edited": _("Line edits"),
        "overdue": _("Overdue order"),
        "erp_conflict": _("ERP conflict"),
    }
    return names.get(kind, kind)


def order_link(item: dict[str, Any]) -> str:
    """The order the notification is about, at its first changed line when the change touched lines."""
    link = f"/orders/{item.get('order_id')}"
    lines = item.get("changed_line_ids") or []
    return f"{link}#line-{lines[0]}" if lines else link


def _inbox_url(unread_only: bool, page: int) -> str:
    params: dict[str, Any] = {}
    if unread_only:
        params["unread"] = "1"
    if page > 1:
        params["page"] = page
    return "/inbox" + (f"?{urlencode(params)}" if params else "")


@router.get("/inbox")
async def inbox(request: Request, user: CurrentUser, api: Services, unread: str = "", page: int = 1) -> Response:
    unread_only = unread in ("1", "true")
    page = max(1, min(page, 100_000))
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": (page - 1) * PAGE_SIZE}
    if unread_only:
        params["unread"] = "true"
    listing = await api.notifications.notifications(**params)
    # One source for the badge and the list: the counts of this very answer.
    request.state.unread = int(listing.get("unread") or 0)
    total = int(listing.get("total") or 0)
    items = list(listing.get("items") or [])
    first = (page - 1) * PAGE_SIZE + 1 if items else 0
    pager = {
        "first": first,
        "last": first + len(items) - 1 if items else 0,
        "total": total,
        "prev": _inbox_url(unread_only, page - 1) if page > 1 else None,
        "next": _inbox_url(unread_only, page + 1) if page * PAGE_SIZE < total else None,
    }
    done = request.query_params.get("done")
    flash = {"kind": "success", "text": _("All notifications are marked read.")} if done == "all-read" else None
    if done == "read":
        flash = {"kind": "success", "text": _("Marked read.")}
    context = {
        "items": items,
        "pager": pager,
        "unread_only": unread_only,
        "unread_total": request.state.unread,
        "unread_orders": int(listing.get("unread_orders") or 0),
        "kind_name": kind_name,
        "order_link": order_link,
        "back": _inbox_url(unread_only, page),
        "flash": flash,
    }
    return render(request, "inbox/list.html", context)


@router.post("/inbox/read")
async def mark_read(
    request: Request,
    user: CurrentUser,
    api: Services,
    notification_id: Annotated[str, Form(max_length=64)] = "",
    all_read: Annotated[str, Form(max_length=5)] = "",
    back: Annotated[str, Form(max_length=200)] = "/inbox",
) -> Response:
    target = back if back.startswith("/inbox") and "//" not in back else "/inbox"
    if all_read:
        body: dict[str, Any] = {"all": True}
        done = "all-read"
    elif notification_id:
        body = {"notification_ids": [notification_id]}
        done = "read"
    else:
        return RedirectResponse(target, status_code=303)
    await api.notifications.mark_read(body)
    return RedirectResponse(target + ("&" if "?" in target else "?") + f"done={done}", status_code=303)


# -- e-mail preferences ------------------------------------------------------------------------------


@router.get("/settings/notifications")
async def preferences(request: Request, user: CurrentUser, api: Services, unsubscribe: str = "") -> Response:
    """The e-mail switches per kind. ``?unsubscribe=<kind>`` (an e-mail's link) asks to confirm turning that
    kind off; nothing changes on this GET."""
    current = await api.notifications.preferences()
    asked = unsubscribe if unsubscribe in current else ""
    done = request.query_params.get("done")
    flash = None
    if done == "saved":
        flash = {"kind": "success", "text": _("Your e-mail preferences are saved.")}
    elif done == "unsubscribed":
        flash = {"kind": "success", "text": _("You will no longer get e-mails of this kind.")}
    context = {
        "current": current,
        "kinds": [k for k in KINDS if k in current] + [k for k in current if k not in KINDS],
        "asked": asked,
        "unknown": bool(unsubscribe) and not asked,
        "kind_name": kind_name,
        "errors": {},
        "flash": flash,
    }
    return render(request, "inbox/preferences.html", context)


@router.post("/settings/notifications")
async def save_preferences(request: Request, user: CurrentUser, api: Services) -> Response:
    form = await request.form()
    current = await api.notifications.preferences()
    unsubscribe = str(form.get("unsubscribe") or "")
    if unsubscribe:
        wanted = {unsubscribe: False}
        done = "unsubscribed"
    else:
        wanted = {kind: form.get(f"email_{kind}") == "on" for kind in current}
        done = "saved"
    errors: dict[str, str] = {}
    if unsubscribe and unsubscribe not in current:
        errors["_"] = _("This link names no kind of e-mail we send. Choose below.")
    else:
        try:
            await api.notifications.set_preferences(wanted)
        except ServiceError as exc:
            if exc.status not in (400, 422):
                raise
            errors = form_errors(exc)
    if errors:
        context = {
            "current": {**current, **{k: v for k, v in wanted.items() if k in current}},
            "kinds": [k for k in KINDS if k in current] + [k for k in current if k not in KINDS],
            "asked": "",
            "unknown": False,
            "kind_name": kind_name,
            "errors": errors,
            "flash": None,
        }
        return render(request, "inbox/preferences.html", context, status_code=422)
    return RedirectResponse(f"/settings/notifications?done={done}", status_code=303)


async def looked_at(request: Request, api: Api, order_id: str) -> None:
    """The user has seen this order (its page is open): its notifications are read from now on, so the markers
    and the badge say "changed since you looked" only for what came after. The page being rendered still shows
    the markers it was opened with. A notifications service that refuses or is down does not take the page."""
    entry = (getattr(request.state, "unseen", None) or {}).get(str(order_id))
    if not entry:
        return
    try:
        marked = await api.notifications.mark_read({"order_id": str(order_id)})
    except (ServiceError, ServiceUnavailable):
        log.warning("could not mark the notifications of order %s read", order_id)
        return
    if isinstance(getattr(request.state, "unread", None), int):
        request.state.unread = max(0, request.state.unread - marked)
