"""Templates: one Jinja environment (i18n, formats), ``render()`` for pages and their htmx fragments."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2_fragments import render_block

from oms_console import i18n, labels

TEMPLATES = Path(__file__).parent / "templates"
# The page's CSRF token for macros imported without the template's context (``components/forms.html``).
_CSRF_TOKEN: ContextVar[str] = ContextVar("oms_console_csrf_token", default="")


def current_csrf_token() -> str:
    return _CSRF_TOKEN.get()


def build_environment(templates: Path = TEMPLATES) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        enable_async=False,
    )
    i18n.install(env)
    env.globals.update(
        status_name=labels.status_name,
        payment_name=labels.payment_name,
        transition_name=labels.transition_name,
        change_name=labels.change_name,
        side_name=labels.side_name,
        reserve_name=labels.reserve_name,
        vat_mode_name=labels.vat_mode_name,
        needs_reason=labels.needs_reason,
    )
    env.globals["current_csrf_token"] = current_csrf_token
    return env


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page_context(request: Request) -> dict[str, Any]:
    """What every template sees: the request, the user (when signed in), the CSRF token, the locale."""
    state = request.state
    return {
        "request": request,
        "user": getattr(state, "user", None),
        "unread": getattr(state, "unread", None),
        "unseen": getattr(state, "unseen", {}),
        "csrf_token": getattr(state, "csrf_token", ""),
        "locale": i18n.current_locale(),
        "flash": getattr(state, "flash", None),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    block: str | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``template`` as a page, or only its ``{% block %}`` ``block`` (an htmx partial).

    ``block`` is used when given explicitly; a view usually passes ``block="content"`` (or a smaller one) only
    for htmx requests, e.g. ``block="rows" if is_htmx(request) else None``.
    """
    env: jinja2.Environment = request.app.state.templates
    ctx = {**page_context(request), **(context or {})}
    _CSRF_TOKEN.set(str(ctx.get("csrf_token") or ""))
    if block is None:
        html = env.get_template(template).render(ctx)
    else:
        html = render_block(env, template, block, ctx)
    return HTMLResponse(html, status_code=status_code, headers=headers)
