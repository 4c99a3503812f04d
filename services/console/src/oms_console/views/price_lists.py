"""Settings → price lists (R-UI-11, R-ST-3, R-IN-2): the list, creating and changing one (catalogue items with
prices and VAT, warehouses, buyers and segments, automatic confirmation), and its share link: on, copy, off,
a new one."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console.clients import Api, ServiceError, new_idempotency_key
from oms_console.i18n import _
from oms_console.rendering import render
from oms_console.views.common import CurrentUser, Services, form_errors, require_staff
from oms_console.views.settings import done_flash, refusal

router = APIRouter()

# How many catalogue products the form offers (the price list's own lines are always shown).
CATALOGUE_ROWS = 500


def share_url(request: Request, token: str | None) -> str | None:
    """The link a buyer opens: the console's page for it (``/join/<token>``), at the console's public address."""
    if not token:
        return None
    return f"{request.app.state.settings.resolved_public_url()}/join/{token}"


@router.get("/settings/price-lists")
async def price_lists(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: the supplier's price lists with their warehouses, buyers, link and automatic confirmation."""
    require_staff(user)
    answer = await api.orders.price_lists(limit=200)
    items = list(answer.get("items") or [])
    context = {"items": items, "flash": done_flash(request), "share_url": lambda t: share_url(request, t)}
    return render(request, "settings/price_lists.html", context)


def _form_from(body: dict[str, Any] | None) -> dict[str, Any]:
    body = body or {}
    return {
        "name": body.get("name") or "",
        "currency": body.get("currency") or "RUB",
        "vat_mode": body.get("vat_mode") or "included",
        "auto_confirm": bool(body.get("auto_confirm")),
        "warehouse_ids": list(body.get("warehouse_ids") or []),
        "buyer_ids": list(body.get("buyer_ids") or []),
        "segments": ", ".join(body.get("segments") or []),
        "prices": {i["sku"]: {"price": str(i.get("price", "")), "vat": str(i.get("vat_rate", ""))}
                   for i in body.get("items") or []},
        "key": new_idempotency_key(),
    }  # fmt: skip


async def _editor(
    request: Request,
    api: Api,
    *,
    price_list: dict[str, Any] | None,
    etag: str | None,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    warehouses = list((await api.inventory.warehouses(limit=500)).get("items") or [])
    products = list((await api.inventory.products(limit=CATALOGUE_ROWS)).get("items") or [])
    buyers = list((await api.orders.buyers(limit=200)).get("items") or [])
    shown = {b["buyer_id"] for b in buyers}
    # Buyers the list is open to that the form does not show stay open to it (the save replaces the whole list).
    kept_buyers = [b for b in form["buyer_ids"] if b not in shown]
    known = {p["sku"] for p in products}
    own = [{"sku": sku, "name": sku, "unit": ""} for sku in form["prices"] if sku not in known]
    context = {
        "price_list": price_list,
        "etag": etag,
        "form": form,
        "errors": errors or {},
        "warehouses": warehouses,
        "products": own + products,
        "buyers": buyers,
        "kept_buyers": kept_buyers,
        "share": share_url(request, (price_list or {}).get("link_token")),
        "flash": done_flash(request),
    }
    return render(request, "settings/price_list.html", context, status_code=status_code)


@router.get("/settings/price-lists/new")
async def new_price_list(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: the form of a new price list."""
    require_staff(user)
    return await _editor(request, api, price_list=None, etag=None, form=_form_from(None))


@router.get("/settings/price-lists/{price_list_id:uuid}")
async def price_list_page(request: Request, price_list_id: uuid.UUID, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: one price list to change, with its link."""
    require_staff(user)
    loaded = await api.orders.price_list_versioned(str(price_list_id))
    return await _editor(request, api, price_list=loaded.body, etag=loaded.etag, form=_form_from(loaded.body))


def _read_form(form_data: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The submitted form as the page shows it again, the API body, and what is wrong with it."""
    errors: dict[str, str] = {}
    get = form_data.get
    form: dict[str, Any] = {
        "name": str(get("name") or "").strip()[:300],
        "currency": str(get("currency") or "RUB").strip().upper()[:3],
        "vat_mode": str(get("vat_mode") or "included"),
        "auto_confirm": bool(get("auto_confirm")),
        "warehouse_ids": [str(v) for v in form_data.getlist("warehouse_ids")][:100],
        "buyer_ids": [str(v) for v in form_data.getlist("buyer_ids")][:10000],
        "segments": str(get("segments") or "")[:2000],
        "prices": {},
        "key": str(get("key") or "")[:100] or new_idempotency_key(),
    }
    skus = [str(v) for v in form_data.getlist("sku")]
    prices = [str(v) for v in form_data.getlist("price")]
    vats = [str(v) for v in form_data.getlist("vat")]
    items: list[dict[str, Any]] = []
    for index, sku in enumerate(skus[:20000]):
        price = (prices[index] if index < len(prices) else "").strip().replace(",", ".").replace(" ", "")
        vat = (vats[index] if index < len(vats) else "").strip().replace(",", ".").replace(" ", "")
        if not price:
            continue
        form["prices"][sku] = {"price": price, "vat": vat}
        try:
            price_value = Decimal(price)
            vat_value = Decimal(vat or "0")
            if not price_value.is_finite() or price_value < 0 or not vat_value.is_finite() or not 0 <= vat_value <= 100:
                raise InvalidOperation
        except InvalidOperation:
            errors[f"price-{sku}"] = _("Check this value.")
            continue
        items.append({"sku": sku, "price": str(price_value), "vat_rate": str(vat_value)})
    if not form["name"]:
        errors["name"] = _("Enter a name.")
    if form["vat_mode"] not in ("included", "on_top"):
        errors["vat_mode"] = _("Check this value.")
    if len(form["currency"]) != 3 or not form["currency"].isalpha():
        errors["currency"] = _("Check this value.")
    for value in form["warehouse_ids"] + form["buyer_ids"]:
        try:
            uuid.UUID(value)
        except ValueError:
            errors["_"] = _("Check the highlighted fields.")
    if any(key.startswith("price-") for key in errors):
        errors.setdefault("_", _("Check the highlighted fields."))
    segments = [s.strip() for s in form["segments"].split(",") if s.strip()]
    body = {
        "name": form["name"], "currency": form["currency"], "vat_mode": form["vat_mode"],
        "auto_confirm": form["auto_confirm"], "warehouse_ids": form["warehouse_ids"], "buyer_ids": form["buyer_ids"],
        "segments": segments, "items": items,
    }  # fmt: skip
    return form, body, errors


def _service_errors(exc: ServiceError) -> dict[str, str]:
    if exc.status in (400, 422):
        errors = form_errors(exc)
        for key in list(errors):
            if key.startswith("items."):
                errors.setdefault("_", _("Check the highlighted fields."))
        return errors
    return {"_": refusal(exc)}


@router.post("/settings/price-lists/new")
async def create_price_list(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ST-3: a new price list."""
    require_staff(user)
    form, body, errors = _read_form(await request.form())
    if not errors:
        try:
            created = await api.orders.create_price_list(body, form["key"])
        except ServiceError as exc:
            errors = _service_errors(exc)
        else:
            return RedirectResponse(
                f"/settings/price-lists/{created['price_list_id']}?done=price_list", status_code=303
            )
    return await _editor(request, api, price_list=None, etag=None, form=form, errors=errors, status_code=422)


@router.post("/settings/price-lists/{price_list_id:uuid}")
async def save_price_list(request: Request, price_list_id: uuid.UUID, user: CurrentUser, api: Services) -> Response:
    """R-UI-11, R-ST-3: replace the price list (with the version the page was rendered at: a list changed
    meanwhile is not overwritten)."""
    require_staff(user)
    data = await request.form()
    form, body, errors = _read_form(data)
    etag = str(data.get("etag") or "")[:200] or None
    status_code = 422
    if not errors:
        try:
            await api.orders.replace_price_list(str(price_list_id), body, etag, form["key"])
        except ServiceError as exc:
            if exc.status == 404:
                raise
            if exc.status in (409, 412, 428) or exc.code == "stale_version":
                errors, status_code = {"_": _price_list_conflict()}, 412
            else:
                errors = _service_errors(exc)
        else:
            return RedirectResponse(f"/settings/price-lists/{price_list_id}?done=price_list", status_code=303)
    loaded = await api.orders.price_list_versioned(str(price_list_id))
    return await _editor(
        request, api, price_list=loaded.body, etag=etag if status_code != 412 else loaded.etag, form=form,
        errors=errors, status_code=status_code,
    )  # fmt: skip


def _price_list_conflict() -> str:
    return _(
        "Someone changed this price list while you were editing it. Your changes are kept below: save again to "
        "overwrite the other changes, or reload the page to see them."
    )


@router.post("/settings/price-lists/{price_list_id:uuid}/link")
async def link(
    request: Request,
    price_list_id: uuid.UUID,
    user: CurrentUser,
    api: Services,
    action: Annotated[str, Form(max_length=20)] = "on",
) -> Response:
    """R-IN-2: switch the share link on, make a new one (the old stops working), or switch it off."""
    require_staff(user)
    try:
        if action == "off":
            await api.orders.delete_link(str(price_list_id))
            done = "link_off"
        elif action == "regenerate":
            await api.orders.create_link(str(price_list_id), regenerate=True)
            done = "link_new"
        else:
            await api.orders.create_link(str(price_list_id))
            done = "link_on"
    except ServiceError as exc:
        if exc.status == 404:
            raise
        loaded = await api.orders.price_list_versioned(str(price_list_id))
        return await _editor(
            request, api, price_list=loaded.body, etag=loaded.etag, form=_form_from(loaded.body),
            errors={"_": refusal(exc)}, status_code=exc.status if exc.status == 403 else 422,
        )  # fmt: skip
    return RedirectResponse(f"/settings/price-lists/{price_list_id}?done={done}#link", status_code=303)
