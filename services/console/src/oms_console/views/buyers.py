"""Settings → buyers (R-UI-11): the supplier's buyer companies with search, adding one (by INN: the company
that registers with it becomes this buyer), inviting it by e-mail, its managers and segment."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from oms_console import i18n
from oms_console.clients import Api, ServiceError, new_idempotency_key
from oms_console.i18n import _
from oms_console.rendering import is_htmx, render
from oms_console.views.common import CurrentUser, Services, form_errors, require_staff
from oms_console.views.settings import done_flash, refusal

router = APIRouter()

PAGE = 50


def _buyer_form(**values: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "", "inn": "", "kpp": "", "contacts": "", "segment": "", "managers": [], "email": "",
        "key": new_idempotency_key(),
    }  # fmt: skip
    form.update(values)
    return form


async def _people(api: Api) -> list[dict[str, Any]]:
    """The account's active employees (managers to assign); an answer refusing it leaves the list empty."""
    try:
        answer = await api.orders.users()
    except ServiceError:
        return []
    return [u for u in answer.get("items") or [] if u.get("active", True)]


async def _list_page(
    request: Request,
    api: Api,
    q: str,
    offset: int,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    answer = await api.orders.buyers(search=q, limit=PAGE, offset=offset)
    people = await _people(api)
    items = list(answer.get("items") or [])
    total = int(answer.get("total") or 0)
    base = f"/settings/buyers?q={q}&offset=" if q else "/settings/buyers?offset="
    pager = {
        "first": offset + 1 if items else 0,
        "last": offset + len(items),
        "total": total,
        "prev": base + str(max(offset - PAGE, 0)) if offset else None,
        "next": base + str(offset + PAGE) if offset + len(items) < total else None,
    }
    context = {
        "items": items,
        "q": q,
        "pager": pager,
        "names": {p["user_id"]: p.get("name") or p.get("email") for p in people},
        "people": people,
        "form": form or _buyer_form(),
        "errors": errors or {},
        "flash": done_flash(request),
    }
    block = "results" if is_htmx(request) and request.headers.get("HX-Target") == "results" else None
    return render(request, "settings/buyers.html", context, block=block, status_code=status_code)


@router.get("/settings/buyers")
async def buyers(request: Request, user: CurrentUser, api: Services, q: str = "", offset: int = 0) -> Response:
    """R-UI-11: buyers, searched by name or INN; a restricted manager sees only theirs (the service decides)."""
    require_staff(user)
    return await _list_page(request, api, q.strip()[:200], max(offset, 0))


def _valid(form: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not form["name"]:
        errors["name"] = _("Enter the company's name.")
    if form["inn"] and (not form["inn"].isdigit() or len(form["inn"]) not in (10, 12)):
        errors["inn"] = _("An INN has 10 or 12 digits.")
    if form["kpp"] and (not form["kpp"].isdigit() or len(form["kpp"]) != 9):
        errors["kpp"] = _("A KPP has 9 digits.")
    if form["email"] and ("@" not in form["email"] or " " in form["email"]):
        errors["email"] = _("Enter an e-mail.")
    for manager in form["managers"]:
        try:
            uuid.UUID(manager)
        except ValueError:
            errors["managers"] = _("Check this value.")
    return errors


@router.post("/settings/buyers")
async def add_buyer(
    request: Request,
    user: CurrentUser,
    api: Services,
    name: Annotated[str, Form(max_length=300)] = "",
    inn: Annotated[str, Form(max_length=20)] = "",
    kpp: Annotated[str, Form(max_length=20)] = "",
    contacts: Annotated[str, Form(max_length=2000)] = "",
    segment: Annotated[str, Form(max_length=100)] = "",
    managers: Annotated[list[str] | None, Form(max_length=50)] = None,
    email: Annotated[str, Form(max_length=320)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-11: a buyer company (by name and INN), its managers and segment; with an e-mail it is invited."""
    require_staff(user)
    form = _buyer_form(
        name=name.strip(), inn=inn.strip(), kpp=kpp.strip(), contacts=contacts.strip(), segment=segment.strip(),
        managers=[m for m in managers or [] if m], email=email.strip(), key=key or new_idempotency_key(),
    )  # fmt: skip
    errors = _valid(form)
    if not errors:
        body = {
            "name": form["name"], "inn": form["inn"], "kpp": form["kpp"], "contacts": form["contacts"],
            "segment": form["segment"], "manager_user_ids": form["managers"],
        }  # fmt: skip
        try:
            created = await api.orders.create_buyer(body, form["key"])
        except ServiceError as exc:
            if exc.status in (400, 422):
                errors = form_errors(exc, {"manager_user_ids": "managers"})
            else:
                errors["_"] = refusal(exc)
        else:
            buyer_id = str(created.get("buyer_id"))
            if form["email"]:
                try:
                    await api.orders.invite_buyer(
                        buyer_id, {"email": form["email"], "locale": i18n.current_locale()}, None
                    )
                except ServiceError:
                    return RedirectResponse(f"/settings/buyers/{buyer_id}?done=buyer", status_code=303)
                return RedirectResponse(f"/settings/buyers/{buyer_id}?done=invited", status_code=303)
            return RedirectResponse(f"/settings/buyers/{buyer_id}?done=buyer", status_code=303)
    return await _list_page(request, api, "", 0, form, errors, status_code=422)


# -- one buyer ----------------------------------------------------------------------------------------


async def _buyer_page(
    request: Request,
    api: Api,
    buyer_id: str,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    invite: dict[str, str] | None = None,
    invite_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    buyer = await api.orders.buyer(buyer_id)
    try:
        invitations = list((await api.orders.buyer_invitations(buyer_id)).get("items") or [])
    except ServiceError:
        invitations = []
    people = await _people(api)
    if form is None:
        form = _buyer_form(
            name=buyer.get("name") or "", inn=buyer.get("inn") or "", kpp=buyer.get("kpp") or "",
            contacts=buyer.get("contacts") or "", segment=buyer.get("segment") or "",
            managers=list(buyer.get("manager_user_ids") or []),
        )  # fmt: skip
    context = {
        "buyer": buyer,
        "invitations": invitations,
        "people": people,
        "form": form,
        "errors": errors or {},
        "invite": invite or {"email": "", "key": new_idempotency_key()},
        "invite_errors": invite_errors or {},
        "flash": done_flash(request),
    }
    return render(request, "settings/buyer.html", context, status_code=status_code)


@router.get("/settings/buyers/{buyer_id:uuid}")
async def buyer_page(request: Request, buyer_id: uuid.UUID, user: CurrentUser, api: Services) -> Response:
    """R-UI-11: one buyer: details, managers, segment, invitations."""
    require_staff(user)
    return await _buyer_page(request, api, str(buyer_id))


@router.post("/settings/buyers/{buyer_id:uuid}")
async def save_buyer(
    request: Request,
    buyer_id: uuid.UUID,
    user: CurrentUser,
    api: Services,
    name: Annotated[str, Form(max_length=300)] = "",
    inn: Annotated[str, Form(max_length=20)] = "",
    kpp: Annotated[str, Form(max_length=20)] = "",
    contacts: Annotated[str, Form(max_length=2000)] = "",
    segment: Annotated[str, Form(max_length=100)] = "",
    managers: Annotated[list[str] | None, Form(max_length=50)] = None,
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-11: change a buyer's details, managers and segment."""
    require_staff(user)
    form = _buyer_form(
        name=name.strip(), inn=inn.strip(), kpp=kpp.strip(), contacts=contacts.strip(), segment=segment.strip(),
        managers=[m for m in managers or [] if m], key=key or new_idempotency_key(),
    )  # fmt: skip
    errors = _valid(form)
    if not errors:
        body = {
            "name": form["name"], "inn": form["inn"], "kpp": form["kpp"], "contacts": form["contacts"],
            "segment": form["segment"], "manager_user_ids": form["managers"],
        }  # fmt: skip
        try:
            await api.orders.update_buyer(str(buyer_id), body, form["key"])
        except ServiceError as exc:
            if exc.status == 404:
                raise
            if exc.status in (400, 422):
                errors = form_errors(exc, {"manager_user_ids": "managers"})
            else:
                errors["_"] = refusal(exc)
        else:
            return RedirectResponse(f"/settings/buyers/{buyer_id}?done=buyer_saved", status_code=303)
    return await _buyer_page(request, api, str(buyer_id), form=form, errors=errors, status_code=422)


@router.post("/settings/buyers/{buyer_id:uuid}/invitations")
async def invite(
    request: Request,
    buyer_id: uuid.UUID,
    user: CurrentUser,
    api: Services,
    email: Annotated[str, Form(max_length=320)] = "",
    key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """R-UI-11: invite the buyer company by e-mail (the link registers it or links its existing account)."""
    require_staff(user)
    sent = {"email": email.strip(), "key": key or new_idempotency_key()}
    errors: dict[str, str] = {}
    if "@" not in sent["email"] or " " in sent["email"]:
        errors["email"] = _("Enter an e-mail.")
    else:
        body = {"email": sent["email"], "locale": i18n.current_locale()}
        try:
            await api.orders.invite_buyer(str(buyer_id), body, sent["key"])
        except ServiceError as exc:
            if exc.status == 404:
                raise
            if exc.status == 409:
                errors["_"] = _("This buyer has an account already.")
            elif exc.status in (400, 422):
                errors["email"] = _("Enter an e-mail.")
            else:
                errors["_"] = refusal(exc)
        else:
            return RedirectResponse(f"/settings/buyers/{buyer_id}?done=invited", status_code=303)
    return await _buyer_page(request, api, str(buyer_id), invite=sent, invite_errors=errors, status_code=422)
