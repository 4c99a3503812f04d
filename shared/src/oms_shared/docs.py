"""Every service's ``/docs`` from files it serves itself: Swagger UI vendored in this package, no CDN.

The files (``static/swagger-ui/``, with their SHA256SUMS, licence and README) come from the npm package
``swagger-ui-dist`` at the exact version ``SWAGGER_UI_VERSION``; the page works without internet."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from oms_shared.errors import NotFound

SWAGGER_UI_VERSION = "5.35.0"
ASSETS_PATH = "/docs/assets"
# The files a page needs, and the type each is served with.
ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def assets_dir() -> resources.abc.Traversable:
    return resources.files("oms_shared") / "static" / "swagger-ui"


@cache
def asset(name: str) -> tuple[bytes, str]:
    """A vendored file's bytes and its ETag (its SHA-256), read once per process."""
    content = (assets_dir() / name).read_bytes()
    return content, f'"{hashlib.sha256(content).hexdigest()}"'


def docs_router(title: str, openapi_url: str = "/openapi.json") -> APIRouter:
    """``GET /docs`` (the Swagger UI page) and ``GET /docs/assets/{name}`` (its files); left out of the document."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — docs",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            oauth2_redirect_url=None,
            # No badge from validator.swagger.io: the page asks nothing of another host.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @router.get(f"{ASSETS_PATH}/{{name}}")
    async def docs_asset(name: Annotated[str, Path(max_length=100)]) -> Response:
        if name not in ASSETS:
            raise NotFound(f"no file {name!r} here", code="not_found")
        content, etag = asset(name)
        return Response(
            content,
            media_type=ASSETS[name],
            headers={"ETag": etag, "Cache-Control": "public, max-age=86400"},
        )

    return router
