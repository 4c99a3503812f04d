"""What every screen uses: the signed-in user (with the locale and the badge), form errors, flashes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import Depends, Request

from oms_console import i18n
from oms_console.auth import User, signed_in_api
from oms_console.clients import Api, ServiceError, ServiceUnavailable, SessionExpired
from oms_console.rendering import is_htmx


async def current_user(request: Request) -> User:
    """The signed-in user (orders ``/me``), the page's locale, and for full pages the unread badge."""
    user = getattr(request.state, "user", None)
    if user is not None:
        return user  # type: ignore[no-any-return]
    api = await signed_in_api(request)
    if is_htmx(request):
        me = await api.orders.me()
    else:
        me, unread = await asyncio.gather(api.orders.me(), _unread(api), return_exceptions=False)
        # One answer for the badge and the "changed since you looked" markers (R-UI-8).
        request.state.unread = None if unread is None else int(unread.get("unread") or 0)
        request.state.unseen = {str(o.get("order_id")): o for o in (unread or {}).get("orders") or []}
    user = User.from_me(me)
    request.state.user = user
    _speak_to(request, user)
    return user


def _speak_to(request: Request, user: User) -> None:
    """The page's language: the switch's cookie, then the user's locale, then the browser's."""
    i18n.activate(
        i18n.choose_locale(
            request.cookies.get(i18n.LOCALE_COOKIE), user.locale, request.headers.get("accept-language")
        ),
        request.app.state.catalogs,
    )


async def user_and(request: Request, *loads: Awaitable[Any]) -> tuple[User, list[Any]]:
    """The signed-in user (``current_user``) and a page's own data, fetched together: one round of service calls
    instead of two. The data's results come back as they are, an exception included; a failure of the user's
    calls (an ended session, the orders service down) is raised first, whatever the data did."""
    found = await asyncio.gather(current_user(request), *loads, return_exceptions=True)
    user = found[0]
    if isinstance(user, BaseException):
        raise user
    _speak_to(request, user)  # gather ran current_user in a task of its own: its locale stayed there
    return user, list(found[1:])


async def _unread(api: Api) -> dict[str, Any] | None:
    """The badge and the markers: notifications down or refusing must not take the page with it."""
    try:
        return await api.notifications.unread_by_order()
    except (ServiceError, ServiceUnavailable):
        return None
    except SessionExpired:
        return None


async def services(request: Request) -> Api:
    """The services with the user's token (use after ``current_user``)."""
    return await signed_in_api(request)


CurrentUser = Annotated[User, Depends(current_user)]
Services = Annotated[Api, Depends(services)]


def require_staff(user: User) -> None:
    """Screens only the supplier's people see; the services still decide every permission."""
    if not user.is_staff:
        raise ServiceError("console", 404, "not_found", "")


def form_errors(exc: ServiceError, fields: dict[str, str] | None = None) -> dict[str, str]:
    """The service's refusal as messages per form field; ``fields`` maps API names to the form's names.

    The services speak English; next to a field the console says, in the user's language, that this value was
    refused (what it checks itself it says precisely before calling). What belongs to no field goes under
    ``_`` (shown above the form), translated when the error code is known."""
    mapped: dict[str, str] = {}
    for key, _message in exc.field_errors().items():
        name = (fields or {}).get(key, key)
        mapped[name] = i18n.gettext_("Check this value.")
    known = known_error(exc.code)
    if known or not mapped:
        mapped["_"] = known or i18n.gettext_("The request was refused.")
    return mapped


def known_error(code: str) -> str | None:
    """The services' error codes people meet in the console, in their language."""
    messages = {
        "email_taken": i18n.gettext_("This e-mail is already registered. Sign in instead."),
        "invitation_not_found": i18n.gettext_("This invitation is unknown, used or expired."),
        "buyer_exists": i18n.gettext_("Your company already buys from this supplier."),
        "stale_version": conflict_message(),
        "illegal_transition": i18n.gettext_(
            "This status change is not possible now. Reload the page to see the order as it is."
        ),
        "not_editable": i18n.gettext_("The order cannot be changed in its status."),
        "forbidden": i18n.gettext_("You have no access to this."),
        "access_denied": i18n.gettext_("You have no access to this."),
        "body_too_large": i18n.gettext_("The file is too large."),
        "file_too_large": i18n.gettext_("The file is too large."),
        "bad_file_name": i18n.gettext_("This file cannot be attached."),
        "invalid_filter": i18n.gettext_("Check the highlighted filters."),
        "invalid_sort": i18n.gettext_("This column cannot be sorted."),
        "offset_too_deep": i18n.gettext_("This page is too far; narrow the filters."),
        "idempotency_key_reused": i18n.gettext_("This form was already sent. Reload the page and try again."),
    }
    return messages.get(code)


def conflict_message() -> str:
    """R-ED-4: what a 412 says to the user."""
    return i18n.gettext_("Someone changed this order while you were looking at it. Reload the page to see the changes.")


def flash_from(request: Request) -> dict[str, Any] | None:
    """A message carried over a redirect in the query string (``?done=<key>``), from a fixed list."""
    key = request.query_params.get("done")
    messages = {
        "comment": i18n.gettext_("Comment added."),
        "document": i18n.gettext_("Document attached."),
        "status": i18n.gettext_("Status changed."),
        "password": i18n.gettext_("Your password has been set. Sign in with it."),
        "invitation": i18n.gettext_("Invitation accepted."),
        "profile": i18n.gettext_("Order details saved."),
        "unchanged": i18n.gettext_("Nothing was changed."),
        "hidden": i18n.gettext_("The order is hidden from your list; your partner still sees it."),
    }
    if key in messages:
        return {"kind": "success", "text": messages[key]}
    return None
