"""BodyLimitMiddleware: every body is limited before anything reads it; uploads have their own limit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request

from oms_shared.http import BodyLimit, BodyLimitMiddleware, install_error_handlers


def an_app(calls: list[str]) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def things(body: dict[str, Any]) -> dict[str, int]:
        calls.append("things")
        return {"keys": len(body)}

    @app.post("/orders/{order_id}/files")
    async def upload(order_id: str, request: Request) -> dict[str, int]:
        size = len(await request.body())
        calls.append("upload")
        return {"size": size}

    limits = [BodyLimit("/orders/{order_id}/files", 5000)]
    app.add_middleware(BodyLimitMiddleware, default_max_bytes=1000, limits=limits)
    return app


async def chunks(total: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(total // size):
        yield b"x" * size


async def test_bodies_over_the_route_limit_are_refused_with_413_and_the_route_never_runs() -> None:
    """JSON routes take the small default, an upload route its own limit; 413 in the error shape, counted
    as the body streams when there is no Content-Length."""
    calls: list[str] = []
    transport = httpx.ASGITransport(app=an_app(calls))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        small = await client.post("/things", json={"a": 1})
        assert small.status_code == 200
        big_json = await client.post("/things", json={"a": "x" * 2000})
        assert big_json.status_code == 413
        assert big_json.json()["error"]["code"] == "body_too_large"
        assert big_json.json()["error"]["details"] == {"max_bytes": 1000}
        streamed = await client.post("/things", content=chunks(5000), headers={"content-type": "application/json"})
        assert streamed.status_code == 413  # no Content-Length: counted as it came
        nowhere = await client.post("/no/such/path", content=b"x" * 5000)
        assert nowhere.status_code == 413
        upload = await client.post("/orders/42/files", content=b"x" * 3000)
        assert upload.status_code == 200 and upload.json() == {"size": 3000}
        too_big = await client.post("/orders/42/files", content=chunks(6000))
        assert too_big.status_code == 413 and too_big.json()["error"]["details"] == {"max_bytes": 5000}
        bad = await client.post("/things", content=b"{}", headers={"content-length": "lots"})
        assert bad.status_code == 400
    assert calls == ["things", "upload"]


async def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body() -> None:
    """An anonymous 16 MB Content-Length is refused from the head: receive() is never called."""
    received: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    app = an_app([])

    async def receive() -> dict[str, Any]:
        received.append({})
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/things",
        "raw_path": b"/things",
        "query_string": b"",
        "headers": [(b"content-length", str(16 * 1024 * 1024).encode()), (b"idempotency-key", b"k")],
        "client": ("1.2.3.4", 1),
        "server": ("t", 80),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    middleware = app.user_middleware[0]
    limited = BodyLimitMiddleware(app.router, **middleware.kwargs)
    await limited(scope, receive, send)  # type: ignore[arg-type]
    assert received == []
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
