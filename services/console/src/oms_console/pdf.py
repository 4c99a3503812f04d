"""R-UI-12: the printed order as a PDF, rendered server-side from the same HTML as the print page with
WeasyPrint, in a worker thread with bounded concurrency, reading nothing but the console's own static files."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path
from typing import Any

STATIC = Path(__file__).parent / "static"
# The page's root-relative links ("/static/...") resolve against this made-up origin; the fetcher serves only
# the console's static files under it and refuses every other URL (no network, no other file).
BASE_URL = "http://console.invalid/"
MAX_CONCURRENT = 2


class PdfUnavailable(Exception):
    """WeasyPrint (or the system's Pango it needs) cannot be loaded on this machine."""


def _weasyprint() -> Any:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango/HarfBuzz libraries are missing
        raise PdfUnavailable(str(exc)) from exc
    return weasyprint


def static_file(url: str) -> Path | None:
    """The static file a URL of the page names, or ``None`` for anything else."""
    prefix = BASE_URL + "static/"
    if not url.startswith(prefix):
        return None
    path = (STATIC / url[len(prefix) :].split("?")[0]).resolve()
    if not path.is_file() or not path.is_relative_to(STATIC.resolve()):
        return None
    return path


def _render(html: str) -> bytes:
    weasyprint = _weasyprint()
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            path = static_file(url)
            if path is None:
                raise ValueError(f"not fetched: {url}")
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return URLFetcherResponse(url, body=path.read_bytes(), headers={"Content-Type": mime})

    document = weasyprint.HTML(string=html, base_url=BASE_URL, url_fetcher=StaticOnly())
    return bytes(document.write_pdf())


class PdfRenderer:
    """At most ``MAX_CONCURRENT`` PDFs at a time, each in a worker thread (rendering takes CPU seconds)."""

    def __init__(self, limit: int = MAX_CONCURRENT) -> None:
        self.limit = limit
        self._slots: asyncio.Semaphore | None = None

    def check(self) -> None:
        """Raise ``PdfUnavailable`` when PDFs cannot be made here (before rendering anything)."""
        _weasyprint()

    async def render(self, html: str) -> bytes:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.limit)
        async with self._slots:
            return await asyncio.to_thread(_render, html)
