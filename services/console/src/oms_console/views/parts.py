"""R-UI-6: split an order into parts, move or copy lines between parts, with a preview before applying
(R-ED-2), and how the order would split on confirmation (R-SPL-1)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import drafts
from oms_console.clients import Api, ServiceError
from oms_console.clients.base import new_idempotency_key
from oms_console.clients.orders import Versioned
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, conflict_message, require_staff
from oms_console.views.editing import refusal_text
from oms_shared import money

router = APIRouter()

NEW_PART = "new"
MODES = ("move", "copy")


async def siblings(api: Api, order: dict[str, Any]) -> list[dict[str, Any]]:
    """The other parts of the same order (the root and its parts), as targets."""
    root_id = order.get("parent_order_id") or order["order_id"]
    root = order if root_id == order["order_id"] else (await api.orders.order(str(root_id))).body
    ids = [str(root["order_id"]), *(str(x) for x in root.get("part_ids") or [])]
    others = [x for x in ids if x != str(order["order_id"])]
    bodies = {str(root["order_id"]): root}
    missing = [x for x in others if x not in bodies]
    for body in await asyncio.gather(*(api.orders.order(x) for x in missing[:50])):
        bodies[str(body.body["order_id"])] = body.body
    return [bodies[x] for x in others if x in bodies]


def plan(
    order: dict[str, Any],
    chosen: list[str],
    mode: str,
    target: dict[str, Any] | None,
    partial: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """The parts as they would be after the move or copy: the source's lines and the target's lines.
    ``partial``: lines of which only this quantity moves (the rest stays)."""
    partial = partial or {}
    lines = order.get("lines") or []
    picked = [x for x in lines if str(x["line_id"]) in chosen]
    if mode == "copy":
        stays = list(lines)
        arriving = [{**x, "quantity": "0", "marker": "new"} for x in picked]
    else:
        stays = []
        for x in lines:
            line_id = str(x["line_id"])
            if line_id in partial:
                left = (drafts.parse_decimal(str(x.get("quantity"))) or Decimal(0)) - partial[line_id]
                stays.append({**x, "quantity": str(left), "marker": "changed"})
            elif line_id not in chosen:
                stays.append(x)
        arriving = [
            {**x, "quantity": str(partial[str(x["line_id"])]), "marker": "moved"}
            if str(x["line_id"]) in partial
            else {**x, "marker": "moved"}
            for x in picked
        ]
    target_lines = [*((target or {}).get("lines") or []), *arriving]
    return {
        "source": {"order": order, "lines": stays, "total": _total(order, stays)},
        "target": {"order": target, "lines": target_lines, "total": _total(order, target_lines)},
    }


def partial_quantities(
    form: Any, order: dict[str, Any], chosen: list[str], mode: str
) -> tuple[dict[str, Decimal], dict[str, str], dict[str, str]]:
    """The quantities typed for chosen lines (blank: the whole line), what was typed, and errors per field."""
    typed = {str(x["line_id"]): str(form.get(f"quantity-{x['line_id']}") or "").strip() for x in order["lines"]}
    partial: dict[str, Decimal] = {}
    errors: dict[str, str] = {}
    if mode != "move":
        return partial, typed, errors
    for line in order.get("lines") or []:
        line_id = str(line["line_id"])
        raw = typed.get(line_id, "")
        if line_id not in chosen or not raw:
            continue
        quantity = drafts.parse_decimal(raw)
        whole = drafts.parse_decimal(str(line.get("quantity"))) or Decimal(0)
        if quantity is None or quantity <= 0:
            errors[f"quantity-{line_id}"] = _("Enter a quantity above zero.")
        elif quantity < whole:
            partial[line_id] = quantity
    return partial, typed, errors


def _total(order: dict[str, Any], lines: list[dict[str, Any]]) -> Decimal:
    vat_included = order.get("vat_mode", "included") != "on_top"
    return money.document(
        money.line(
            drafts.parse_decimal(str(x.get("quantity"))) or Decimal(0),
            drafts.parse_decimal(str(x.get("price"))) or Decimal(0),
            drafts.parse_decimal(str(x.get("vat_rate"))) or Decimal(0),
            vat_included=vat_included,
        )
        for x in lines
    ).total


def line_errors(exc: ServiceError) -> dict[str, str]:
    """The service's refusal of a line's quantity, next to that line's field."""
    found: dict[str, str] = {}
    for item in exc.details if isinstance(exc.details, list) else []:
        if isinstance(item, dict) and item.get("line_id"):
            found[f"quantity-{item['line_id']}"] = _("This quantity cannot be moved (only the unreserved part can).")
    return found


async def _split_preview(api: Api, order_id: str) -> dict[str, Any] | None:
    try:
        return await api.orders.split_preview(order_id)
    except ServiceError:
        return None


def _page(
    request: Request,
    order: Versioned,
    parts: list[dict[str, Any]],
    preview: dict[str, Any] | None,
    *,
    chosen: list[str] | None = None,
    typed: dict[str, str] | None = None,
    mode: str = "move",
    target: str = NEW_PART,
    result: dict[str, Any] | None = None,
    etag: str | None = None,
    key: str | None = None,
    errors: dict[str, str] | None = None,
    conflict: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "parts/split.html",
        {
            "order": order.body,
            "etag": etag if etag is not None else order.etag,
            "key": key or new_idempotency_key(),
            "parts": parts,
            "split_preview": preview,
            "chosen": chosen or [],
            "typed": typed or {},
            "mode": mode,
            "target": target,
            "result": result,
            "errors": errors or {},
            "conflict": conflict,
            "conflict_text": conflict_message() if conflict else "",
            "line_names": {str(x["line_id"]): x for x in order.body.get("lines") or []},
        },
        status_code=status_code,
    )


@router.get("/orders/{order_id:uuid}/split")
async def split_page(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    require_staff(user)
    order = await api.orders.order(oid)
    parts, preview = await asyncio.gather(siblings(api, order.body), _split_preview(api, oid))
    return _page(request, order, parts, preview)


@router.post("/orders/{order_id:uuid}/split")
async def split_submit(order_id: uuid.UUID, request: Request, user: CurrentUser, api: Services) -> Response:
    oid = str(order_id)
    require_staff(user)
    form = await request.form()
    action = str(form.get("action") or "preview")
    seen_etag = str(form.get("etag") or "") or None
    key = str(form.get("idempotency_key") or "") or new_idempotency_key()
    order = await api.orders.order(oid)
    parts, preview = await asyncio.gather(siblings(api, order.body), _split_preview(api, oid))
    own = {str(x["line_id"]) for x in order.body.get("lines") or []}
    chosen = [str(x) for x in form.getlist("line_id") if str(x) in own]
    mode = str(form.get("mode") or "move")
    target = str(form.get("target") or NEW_PART)
    errors: dict[str, str] = {}
    if mode not in MODES:
        errors["mode"] = _("Choose to move or to copy.")
        mode = "move"
    by_id = {str(p["order_id"]): p for p in parts}
    if target != NEW_PART and target not in by_id:
        errors["target"] = _("Choose a part of this order, or a new part.")
    if not chosen:
        errors["line_id"] = _("Choose at least one line.")
    elif mode == "move" and len(chosen) >= len(own):
        errors["line_id"] = _("A part must keep at least one line; move fewer lines.")
    partial, typed, quantity_errors = partial_quantities(form, order.body, chosen, mode)
    errors.update(quantity_errors)
    if "line_id" in errors and partial and len([x for x in chosen if x not in partial]) < len(own):
        del errors["line_id"]  # a line that moves only in part stays: the order keeps a line
    kwargs: dict[str, Any] = {"chosen": chosen, "mode": mode, "target": target, "typed": typed}
    if action == "reload":
        return _page(request, order, parts, preview, **kwargs)
    if errors:
        return _page(request, order, parts, preview, errors=errors, etag=seen_etag, status_code=422, **kwargs)
    result = plan(order.body, chosen, mode, by_id.get(target), partial)
    if action != "apply":
        return _page(request, order, parts, preview, result=result, etag=seen_etag, **kwargs)
    body: dict[str, Any] = {"line_ids": chosen, "copy": mode == "copy"}
    if partial:
        body["quantities"] = {line_id: str(quantity) for line_id, quantity in partial.items()}
    if target != NEW_PART:
        body["target_order_id"] = target
    try:
        moved = await api.orders.move_lines(oid, body, seen_etag, key)
    except ServiceError as exc:
        if exc.status in (403, 404):
            raise
        if exc.status == 412:
            return _page(
                request, order, parts, preview, result=result, etag=seen_etag, conflict=True, status_code=412, **kwargs
            )
        return _page(
            request, order, parts, preview, result=result, etag=seen_etag,
            errors={"_": refusal_text(exc), **line_errors(exc)}, status_code=422, **kwargs,
        )  # fmt: skip
    return RedirectResponse(f"/orders/{moved.body.get('order_id', oid)}", status_code=303)
