"""R-UI-2: the buyer's catalogue (price lists, lines, availability, search, pages) and the cart that sends an
order (R-IN-1). The cart lives in a signed cookie (``oms_console.cart``): it is not business data."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import cart as carts
from oms_console.auth import User
from oms_console.clients import Api, ServiceError, ServiceUnavailable, new_idempotency_key
from oms_console.i18n import _
from oms_console.reasons import line_reason
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, flash_from

router = APIRouter()

PAGE_SIZE = 50
MAX_SEARCH = 200
QTY_PREFIX = "qty|"
CENT = Decimal("0.01")


def qty_field(warehouse_id: str, sku: str) -> str:
    """The form name of a quantity input: a warehouse id has no "|", the SKU (after it) may have anything."""
    return f"{QTY_PREFIX}{warehouse_id}|{sku}"


def error_id(field: str) -> str:
    """An element id for a quantity's error message (the SKU may hold anything an id may not)."""
    return f"qty-{hashlib.sha1(field.encode(), usedforsecurity=False).hexdigest()[:12]}-error"


def _quantities(form: Any) -> dict[str, tuple[str, str, str]]:
    """The quantity inputs of a posted form: field name -> (warehouse_id, sku, text)."""
    found: dict[str, tuple[str, str, str]] = {}
    for name, value in form.multi_items():
        if isinstance(name, str) and name.startswith(QTY_PREFIX) and isinstance(value, str):
            parts = name[len(QTY_PREFIX) :].split("|", 1)
            if len(parts) == 2 and parts[0] and parts[1]:
                found[name] = (parts[0], parts[1], value[:50])
    return found


def _updated_flash(request: Request) -> dict[str, Any] | None:
    if request.query_params.get("done") == "cart":
        return {"kind": "success", "text": _("The cart is updated.")}
    return flash_from(request)


def _page_number(text: str) -> int:
    try:
        return min(max(int(text), 1), 100_000)
    except ValueError:
        return 1


def _catalogue_url(price_list_id: str, q: str, page: int, **extra: str) -> str:
    params = {"price_list": price_list_id, **({"q": q} if q else {}), **({"page": str(page)} if page > 1 else {})}
    return "/catalogue?" + urlencode({**params, **extra})


async def open_price_list(api: Api, price_list_id: str) -> dict[str, Any]:
    """One price list (the service answers 404 for one not open to the caller); a malformed id is not found too."""
    try:
        return await api.orders.price_list(price_list_id)
    except ServiceError as exc:
        if exc.status in (400, 422):
            raise ServiceError("console", 404, "not_found", "") from exc
        raise


async def _price_lists(api: Api) -> list[dict[str, Any]]:
    return list((await api.orders.price_lists(limit=200)).get("items") or [])


async def _availability(api: Api, price_list_id: str, limit: int | None, offset: int) -> dict[str, Any] | None:
    """Availability per SKU (R-STK-2); ``None`` when inventory cannot say right now (the page still opens)."""
    try:
        body = await api.inventory.availability(price_list_id, limit=limit, offset=offset)
    except (ServiceError, ServiceUnavailable):
        return None
    return {str(item.get("sku")): item for item in body.get("items") or []}


def _matches(item: dict[str, Any], folded: str) -> bool:
    return folded in str(item.get("sku") or "").casefold() or folded in str(item.get("name") or "").casefold()


async def _catalogue_page(
    request: Request,
    user: User,
    api: Api,
    price_list_id: str,
    q: str,
    page: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    lists = await _price_lists(api)
    if not price_list_id and lists:
        price_list_id = str(lists[0]["price_list_id"])
    context: dict[str, Any] = {
        "lists": lists, "price_list_id": price_list_id, "q": q, "errors": errors or {}, "typed": typed or {},
        "flash": flash, "price_list": None, "rows": [], "pager": None, "availability_known": True,
    }  # fmt: skip
    cart = carts.load(request, user.user_id)
    context["cart"] = cart
    if not price_list_id:
        return render(request, "catalogue/list.html", context, status_code=status_code)
    price_list = next((pl for pl in lists if str(pl.get("price_list_id")) == price_list_id), None)
    if price_list is None:
        price_list = await open_price_list(api, price_list_id)
    items = list(price_list.get("items") or [])
    folded = q.strip().casefold()
    if folded:
        items = [item for item in items if _matches(item, folded)]
    total = len(items)
    last_page = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, last_page)
    start = (page - 1) * PAGE_SIZE
    shown = items[start : start + PAGE_SIZE]
    # Without a search the list's page is inventory's page (both in list order); a search needs the whole list.
    availability = (
        await _availability(api, price_list_id, None if folded else PAGE_SIZE, 0 if folded else start) if shown else {}
    )
    context["availability_known"] = availability is not None
    warehouses = [
        {"warehouse_id": str(w.get("warehouse_id")), "name": w.get("name") or ""}
        for w in price_list.get("warehouses") or [{"warehouse_id": w} for w in price_list.get("warehouse_ids") or []]
    ]
    in_cart = cart.price_list_id == price_list_id
    rows = []
    for item in shown:
        sku = str(item.get("sku"))
        found = (availability or {}).get(sku) or {}
        per_warehouse = {str(w.get("warehouse_id")): w.get("available") for w in found.get("warehouses") or []}
        rows.append(
            {
                "sku": sku,
                "name": item.get("name") or found.get("name") or "",
                "unit": item.get("unit") or "",
                "price": item.get("price"),
                "vat_rate": item.get("vat_rate"),
                "total_available": found.get("total_available") if found else None,
                "cells": [
                    {
                        "warehouse": w,
                        "available": per_warehouse.get(w["warehouse_id"]) if found else None,
                        "field": qty_field(w["warehouse_id"], sku),
                        "error_id": error_id(qty_field(w["warehouse_id"], sku)),
                        "quantity": cart.quantity(sku, w["warehouse_id"]) if in_cart else "",
                    }
                    for w in warehouses
                ],
            }
        )
    context.update(
        price_list=price_list,
        price_list_id=price_list_id,
        warehouses=warehouses,
        rows=rows,
        page=page,
        pager={
            "first": start + 1 if total else 0,
            "last": start + len(shown),
            "total": total,
            "prev": _catalogue_url(price_list_id, q, page - 1) if page > 1 else None,
            "next": _catalogue_url(price_list_id, q, page + 1) if page < last_page else None,
        },
    )
    return render(request, "catalogue/list.html", context, status_code=status_code)


@router.get("/catalogue")
async def catalogue(
    request: Request, user: CurrentUser, api: Services, price_list: str = "", q: str = "", page: str = "1"
) -> Response:
    flash = _updated_flash(request)
    return await _catalogue_page(request, user, api, price_list[:100], q[:MAX_SEARCH], _page_number(page), flash=flash)


@router.post("/catalogue/cart")
async def add_to_cart(request: Request, user: CurrentUser, api: Services) -> Response:
    """Put the quantities typed on a catalogue page into the cart (an empty or zero quantity takes a line out)."""
    form = await request.form()
    price_list_id = str(form.get("price_list_id") or "")[:100]
    q = str(form.get("q") or "")[:MAX_SEARCH]
    page = _page_number(str(form.get("page") or "1"))
    quantities = _quantities(form)
    typed = {name: text for name, (_w, _s, text) in quantities.items()}
    errors: dict[str, str] = {}
    if not user.is_buyer:
        errors["_"] = _("Only a buyer can order from a price list.")
    price_list = await open_price_list(api, price_list_id) if price_list_id else None
    if price_list is None:
        errors["_"] = _("Choose a price list.")
    known_skus = {str(i.get("sku")) for i in (price_list or {}).get("items") or []}
    known_warehouses = {str(w) for w in (price_list or {}).get("warehouse_ids") or []}
    cart = carts.load(request, user.user_id)
    parsed: list[tuple[str, str, str]] = []
    for name, (warehouse_id, sku, text) in quantities.items():
        quantity = carts.parse_quantity(text)
        if quantity is None:
            errors[name] = _("Enter a quantity: a number, at most 3 decimals.")
        elif sku not in known_skus or warehouse_id not in known_warehouses:
            errors[name] = _("This line is no longer in the price list.")
        else:
            parsed.append((sku, warehouse_id, quantity))
    adding = any(quantity not in ("", "0") for _s, _w, quantity in parsed)
    if not errors and adding and not cart.empty and cart.price_list_id != price_list_id:
        errors["_"] = _("The cart holds lines of another price list. Send that order or empty the cart first.")
    if not errors:
        for sku, warehouse_id, quantity in parsed:
            cart.put(sku, warehouse_id, quantity)
        if not cart.empty:
            cart.price_list_id = price_list_id
        response = RedirectResponse(_catalogue_url(price_list_id, q, page, done="cart"), status_code=303)
        try:
            carts.save(request, response, cart)
        except carts.CartFull:
            errors["_"] = _("The cart is full: send the order or take some lines out first.")
        else:
            return response
    return await _catalogue_page(
        request, user, api, price_list_id, q, page, typed=typed, errors=errors, status_code=422
    )


# -- the cart ----------------------------------------------------------------------------------------


def _amounts(price: Any, quantity: str, vat_rate: Any, vat_included: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(sum of the line as priced, its VAT, its total with VAT)."""
    amount = (Decimal(str(price or 0)) * Decimal(quantity)).quantize(CENT, ROUND_HALF_UP)
    rate = Decimal(str(vat_rate or 0))
    if vat_included:
        vat = (amount * rate / (100 + rate)).quantize(CENT, ROUND_HALF_UP)
        return amount, vat, amount
    vat = (amount * rate / 100).quantize(CENT, ROUND_HALF_UP)
    return amount, vat, amount + vat


async def _cart_page(
    request: Request,
    user: User,
    api: Api,
    cart: carts.Cart,
    *,
    form: dict[str, Any] | None = None,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    flash: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "cart": cart, "lines": [], "errors": errors or {}, "typed": typed or {}, "flash": flash,
        "form": form or {"desired_date": "", "comment": "", "one_shipment": False},
        "idempotency_key": new_idempotency_key(), "price_list": None, "gone": False,
    }  # fmt: skip
    if cart.empty:
        return render(request, "catalogue/cart.html", context, status_code=status_code)
    try:
        price_list = await api.orders.price_list(cart.price_list_id)
    except ServiceError as exc:
        if exc.status not in (403, 404):
            raise
        context["gone"] = True
        context["errors"].setdefault("_", _("This price list is no longer open to you. Empty the cart."))
        return render(request, "catalogue/cart.html", context, status_code=status_code)
    items = {str(i.get("sku")): i for i in price_list.get("items") or []}
    names = {str(w.get("warehouse_id")): w.get("name") or "" for w in price_list.get("warehouses") or []}
    vat_included = price_list.get("vat_mode") == "included"
    lines = []
    totals = [Decimal(0), Decimal(0), Decimal(0)]
    for (sku, warehouse_id), quantity in cart.lines.items():
        item = items.get(sku)
        line = {
            "sku": sku, "warehouse_id": warehouse_id, "warehouse": names.get(warehouse_id, ""),
            "field": qty_field(warehouse_id, sku), "quantity": quantity, "item": item,
            "error_id": error_id(qty_field(warehouse_id, sku)),
        }  # fmt: skip
        if item is not None:
            amount, vat, total = _amounts(item.get("price"), quantity, item.get("vat_rate"), vat_included)
            line.update(amount=amount, vat=vat, total=total)
            totals = [totals[0] + amount, totals[1] + vat, totals[2] + total]
        lines.append(line)
    context.update(price_list=price_list, lines=lines, totals=totals, vat_included=vat_included)
    return render(request, "catalogue/cart.html", context, status_code=status_code)


@router.get("/cart")
async def cart_page(request: Request, user: CurrentUser, api: Services) -> Response:
    flash = _updated_flash(request)
    return await _cart_page(request, user, api, carts.load(request, user.user_id), flash=flash)


def _line_errors(exc: ServiceError, keys: list[str]) -> dict[str, str]:
    """The orders service's refusal per cart line (``details``: ``{line, sku, reasons}``) and per field."""
    errors: dict[str, str] = {}
    if isinstance(exc.details, list):
        for detail in exc.details:
            if isinstance(detail, dict) and isinstance(detail.get("line"), int) and 0 <= detail["line"] < len(keys):
                reasons = detail.get("reasons") or [detail.get("reason") or ""]
                errors[keys[detail["line"]]] = "; ".join(line_reason(str(r)) for r in reasons if r)
    for key, message in exc.field_errors().items():
        if key == "desired_shipment_date":
            errors["desired_date"] = message
        elif key in ("comment", "one_shipment"):
            errors[key] = message
    if not errors or not any(k in errors for k in [*keys, "desired_date", "comment", "one_shipment"]):
        errors["_"] = exc.message or _("The order was refused.")
    return errors


@router.post("/cart")
async def update_cart(request: Request, user: CurrentUser, api: Services) -> Response:
    """Change quantities, take a line out, or send the cart as an order (R-IN-1) with an Idempotency-Key."""
    form = await request.form()
    action = str(form.get("action") or "update")
    remove = str(form.get("remove") or "")
    cart = carts.load(request, user.user_id)
    quantities = _quantities(form)
    typed = {name: text for name, (_w, _s, text) in quantities.items()}
    typed_form = {
        "desired_date": str(form.get("desired_date") or "")[:20],
        "comment": str(form.get("comment") or "")[:5000],
        "one_shipment": form.get("one_shipment") == "on",
    }
    errors: dict[str, str] = {}
    for name, (warehouse_id, sku, text) in quantities.items():
        if (sku, warehouse_id) not in cart.lines:
            continue  # changed in another tab: the cart as it is now wins
        quantity = carts.parse_quantity(text)
        if quantity is None:
            errors[name] = _("Enter a quantity: a number, at most 3 decimals.")
        else:
            cart.put(sku, warehouse_id, quantity)
    if remove.startswith(QTY_PREFIX):
        warehouse_id, _sep, sku = remove[len(QTY_PREFIX) :].partition("|")
        cart.put(sku, warehouse_id, "")
        typed.pop(remove, None)
        errors.pop(remove, None)
    if action == "send" and not errors:
        desired = typed_form["desired_date"]
        if desired:
            try:
                date.fromisoformat(str(desired))
            except ValueError:
                errors["desired_date"] = _("Enter a date.")
        if cart.empty:
            errors["_"] = _("The cart is empty.")
    if action == "send" and not errors:
        keys = [qty_field(w, s) for (s, w) in cart.lines]
        body = {
            "price_list_id": cart.price_list_id,
            "lines": [{"sku": s, "warehouse_id": w, "quantity": q} for (s, w), q in cart.lines.items()],
            "desired_shipment_date": typed_form["desired_date"] or None,
            "comment": typed_form["comment"],
            "one_shipment": typed_form["one_shipment"],
        }
        key = str(form.get("idempotency_key") or "")[:100] or None
        try:
            order = await api.orders.place_order(body, key)
        except ServiceError as exc:
            if exc.status in (403, 404) and exc.code in ("price_list_not_found", "not_found", "forbidden"):
                errors["_"] = _("This price list is no longer open to you. Empty the cart.")
            else:
                errors = _line_errors(exc, keys)
        else:
            response = RedirectResponse(f"/orders/{order['order_id']}", status_code=303)
            carts.save(request, response, carts.Cart(user_id=user.user_id))
            return response
    if errors:
        # What was saved stays saved: the quantities that were valid, the lines taken out.
        answer = await _cart_page(
            request, user, api, cart, form=typed_form, typed=typed, errors=errors, status_code=422
        )
        try:
            carts.save(request, answer, cart)
        except carts.CartFull:
            pass
        return answer
    response = RedirectResponse("/cart?done=cart", status_code=303)
    try:
        carts.save(request, response, cart)
    except carts.CartFull:
        return await _cart_page(
            request, user, api, carts.load(request, user.user_id), form=typed_form, status_code=422,
            errors={"_": _("The cart is full: send the order or take some lines out first.")},
        )  # fmt: skip
    return response


@router.post("/cart/clear")
async def clear_cart(request: Request, user: CurrentUser) -> Response:
    response = RedirectResponse("/catalogue", status_code=303)
    carts.save(request, response, carts.Cart(user_id=user.user_id))
    return response
