"""R-UI-11: the supplier's catalogue of products (SKU, name, unit), kept by inventory (``/api/v1/products``).

Stock uploads, incoming deliveries and price lists refer to products by SKU and refuse an SKU that is not here,
so a supplier without an ERP creates products on this screen first. The SKU is the product's key (stock, price
lists and orders name it): it is chosen once; the name and the unit change. VAT belongs to a price list's line."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console.clients import Api, ServiceError
from oms_console.i18n import _
from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services, form_errors, require_staff
from oms_console.views.settings import refusal
from oms_console.views.stock import MAX_OFFSET, PER_PAGE, _page_number, _pager, _url

router = APIRouter()

MAX_SKU = 100
MAX_NAME = 300
MAX_UNIT = 30


def _flash(request: Request) -> dict[str, Any] | None:
    messages = {"created": _("Product created."), "saved": _("Product saved.")}
    key = request.query_params.get("done")
    return {"kind": "success", "text": messages[key]} if key in messages else None


def _check(form: dict[str, str], *, new: bool) -> dict[str, str]:
    """What the console checks itself, precisely, before calling inventory."""
    errors: dict[str, str] = {}
    if new:
        if not form["sku"]:
            errors["sku"] = _("Enter an SKU.")
        elif len(form["sku"]) > MAX_SKU:
            errors["sku"] = _("At most %(num)d characters.") % {"num": MAX_SKU}
    if not form["name"]:
        errors["name"] = _("Enter a name.")
    elif len(form["name"]) > MAX_NAME:
        errors["name"] = _("At most %(num)d characters.") % {"num": MAX_NAME}
    if len(form["unit"]) > MAX_UNIT:
        errors["unit"] = _("At most %(num)d characters.") % {"num": MAX_UNIT}
    return errors


async def _product(api: Api, sku: str) -> dict[str, Any] | None:
    """The product with exactly this SKU, or None (inventory searches SKU and name by substring)."""
    answer = await api.inventory.products(q=sku, limit=1000)
    return next((p for p in answer.get("items") or [] if p.get("sku") == sku), None)


async def _list_page(
    request: Request,
    api: Api,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = request.query_params
    q = (params.get("q") or "").strip()[:200]
    page = _page_number(params.get("page"))
    list_errors: dict[str, str] = {}
    if (page - 1) * PER_PAGE > MAX_OFFSET:
        list_errors["_"] = _("This page is too far; narrow the filters.")
        page = 1
    answer = await api.inventory.products(q=q, sort="sku", limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    items = list(answer.get("items") or [])
    context = {
        "q": q,
        "items": items,
        "pager": _pager("/settings/products", {"q": q}, page, len(items), answer.get("total")),
        "list_errors": list_errors,
        "form": form or {"sku": "", "name": "", "unit": ""},
        "errors": errors or {},
        "flash": _flash(request),
    }
    partial = is_htmx(request) and request.headers.get("HX-Target") == "results"
    return render(
        request, "settings/products.html", context, block="results" if partial else None, status_code=status_code
    )


@router.get("/settings/products")
async def products(request: Request, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: the products, searched by SKU or name, a page at a time; a form to create one."""
    require_staff(user)
    return await _list_page(request, api)


@router.post("/settings/products")
async def create_product(
    request: Request,
    user: CurrentUser,
    api: Services,
    sku: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=600)] = "",
    unit: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """R-UI-11: a new product; an SKU that exists already is refused (it would overwrite that product)."""
    require_staff(user)
    form = {"sku": sku.strip(), "name": name.strip(), "unit": unit.strip()}
    errors = _check(form, new=True)
    if not errors:
        try:
            if await _product(api, form["sku"]) is not None:
                errors["sku"] = _("A product with this SKU exists already.")
            else:
                await api.inventory.upsert_products([form])
        except ServiceError as exc:
            errors = form_errors(exc) if exc.status in (400, 422) else {"_": refusal(exc)}
        else:
            if not errors:
                return RedirectResponse(_url("/settings/products", q=form["sku"], done="created"), status_code=303)
    return await _list_page(request, api, form=form, errors=errors, status_code=422)


async def _edit_page(
    request: Request, product: dict[str, Any], errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    context = {"product": product, "errors": errors or {}}
    return render(request, "settings/product.html", context, status_code=status_code)


@router.get("/settings/products/edit")
async def edit_product_page(request: Request, user: CurrentUser, api: Services, sku: str = "") -> Response:
    """R-UI-11: one product's name and unit (its SKU is shown, not changed)."""
    require_staff(user)
    product = await _product(api, sku.strip()[:MAX_SKU]) if sku.strip() else None
    if product is None:
        raise ServiceError("console", 404, "not_found", "")
    return await _edit_page(request, product)


@router.post("/settings/products/edit")
async def edit_product(
    request: Request,
    user: CurrentUser,
    api: Services,
    sku: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=600)] = "",
    unit: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """R-UI-11: save a product's name and unit; bad input keeps what was typed and says what is wrong."""
    require_staff(user)
    form = {"sku": sku.strip(), "name": name.strip(), "unit": unit.strip()}
    product = await _product(api, form["sku"]) if form["sku"] and len(form["sku"]) <= MAX_SKU else None
    if product is None:
        raise ServiceError("console", 404, "not_found", "")
    errors = _check(form, new=False)
    if not errors:
        try:
            await api.inventory.upsert_products([form])
        except ServiceError as exc:
            errors = form_errors(exc) if exc.status in (400, 422) else {"_": refusal(exc)}
        else:
            return RedirectResponse(_url("/settings/products", q=form["sku"], done="saved"), status_code=303)
    return await _edit_page(request, form, errors, status_code=422)
