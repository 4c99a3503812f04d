"""Oversized request bodies are refused with 413 before anything buffers them; the service stays responsive."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.orders.helpers import a_world, place
from tests.support.processes import ServiceProcess
from tests.support.services import WAIT_SCALE

MB = 1024 * 1024


@pytest.fixture
def orders(kafka: str, keys: tuple[Path, Path], tmp_path: Path) -> Iterator[ServiceProcess]:
    service = ServiceProcess(
        "orders",
        tmp_path / "var",
        {
            "OMS_KAFKA_BOOTSTRAP": kafka,
            "OMS_JWT_PUBLIC_KEY_FILE": str(keys[1]),
            "OMS_ORDERS_JWT_PRIVATE_KEY_FILE": str(keys[0]),
            "OMS_LOG_LEVEL": "WARNING",
        },
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


async def raw_request(port: int, head: str, body_bytes: int = 0, chunked: bool = False) -> tuple[int, bytes, int]:
    """Send ``head`` and then up to ``body_bytes`` of body (in chunks, as long as the server takes them);
    return the status, the answer and how many body bytes were written before the answer came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    answered = asyncio.Event()

    async def send_body() -> None:
        nonlocal sent
        piece = b"x" * (64 * 1024)
        while sent < body_bytes:
            n = min(len(piece), body_bytes - sent)
            data = piece[:n]
            writer.write(f"{n:x}\r\n".encode() + data + b"\r\n" if chunked else data)
            await writer.drain()
            sent += n
            # As a careful client does: look for an early answer before sending more (what the server has not
            # read when it closes would turn its close into a reset, and the answer could be lost).
            try:
                await asyncio.wait_for(answered.wait(), timeout=0.05)
                return
            except TimeoutError:
                pass
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    writer.write(head.replace("\n", "\r\n").encode() + b"\r\n")
    await writer.drain()
    sender = asyncio.create_task(send_body())
    try:
        answer = b""
        while True:  # the refusal closes the connection: read to its end
            try:
                more = await asyncio.wait_for(reader.read(65536), timeout=30 * WAIT_SCALE)
            except ConnectionResetError:
                break
            if not more:
                break
            answered.set()
            answer += more
    finally:
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        writer.close()
    status = int(answer.split(b" ", 2)[1])
    return status, answer, sent


async def test_oversized_bodies_are_refused_before_they_are_read_and_the_service_stays_responsive(
    orders: ServiceProcess,
) -> None:
    """A 16 MB body with an Idempotency-Key to a path that does not exist, and a huge JSON order, are refused
    with 413 in the error shape at once — by Content-Length without reading a byte of the body, and by a
    running count for a chunked body — while /health keeps answering and memory does not grow."""
    rss_before = orders.rss_bytes()
    latencies: list[float] = []
    stop = asyncio.Event()

    async def watch_health() -> None:
        async with httpx.AsyncClient(base_url=orders.url, timeout=10, trust_env=False) as client:
            while not stop.is_set():
                t0 = time.monotonic()
                assert (await client.get("/health")).status_code == 200
                latencies.append(time.monotonic() - t0)
                await asyncio.sleep(0.02)

    watcher = asyncio.create_task(watch_health())
    try:
        # Declared too large: refused from the head alone (the client has sent no body at all).
        t0 = time.monotonic()
        status, answer, sent = await raw_request(
            orders.port,
            f"POST /no/such/path HTTP/1.1\nHost: x\nIdempotency-Key: k-1\nContent-Type: application/json\n"
            f"Content-Length: {16 * MB}\n",
        )
        assert status == 413 and sent == 0
        assert b'"code": "body_too_large"' in answer
        assert time.monotonic() - t0 < 2 * WAIT_SCALE
        # Same for a real JSON route, anonymous.
        status, answer, _ = await raw_request(
            orders.port,
            f"POST /api/v1/orders HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: {200 * MB}\n",
        )
        assert status == 413 and b"body_too_large" in answer
        # No Content-Length (chunked): counted as it streams, refused soon after the 1 MiB default.
        for path in ("/no/such/path", "/api/v1/orders", "/api/v1/auth/token"):
            t0 = time.monotonic()
            status, answer, sent = await raw_request(
                orders.port,
                f"POST {path} HTTP/1.1\nHost: x\nIdempotency-Key: k-{path}\nContent-Type: application/json\n"
                "Transfer-Encoding: chunked\n",
                body_bytes=16 * MB,
                chunked=True,
            )
            assert status == 413, answer
            assert b"body_too_large" in answer
            assert sent < 16 * MB, "the server read the whole body before refusing it"
            assert time.monotonic() - t0 < 5 * WAIT_SCALE
    finally:
        stop.set()
        await watcher
    assert latencies and max(latencies) < 1.0 * WAIT_SCALE, max(latencies)
    async with httpx.AsyncClient(base_url=orders.url, timeout=10, trust_env=False) as client:
        assert (await client.get("/health")).status_code == 200
        # A normal small request still works on the same service.
        r = await client.post("/api/v1/auth/token", json={"email": "nobody@example.com", "password": "x" * 10})
        assert r.status_code in (401, 422), r.text
    assert orders.rss_bytes() - rss_before < 64 * MB


async def test_upload_routes_take_their_own_larger_limit_and_json_routes_stay_small(
    orders: ServiceProcess, kafka: str
) -> None:
    """R-IN-3: a 2 MB file attached to an order passes (files have their own limit, 10 MB by default) while a
    2 MB JSON order is refused with 413 — from a signed-in buyer too, before validation."""
    async with httpx.AsyncClient(base_url=orders.url, timeout=30, trust_env=False) as client:
        world = await a_world(client, kafka=kafka)
        placed = await place(client, world)
        assert placed.status_code == 201, placed.text
        url = f"/api/v1/orders/{placed.json()['order_id']}/documents"
        file = ("spec.pdf", b"%PDF" + b"x" * (2 * MB), "application/pdf")
        attached = await client.post(url, headers=world.buy, files={"file": file})
        assert attached.status_code == 201, attached.text
    # A 2 MB JSON order, and an 11 MB file, are refused from the request's head (then the connection closes;
    # a client still writing its body would see a reset, so the head alone is sent here).
    auth = world.buy["Authorization"]
    for path, kind, size in (
        ("/api/v1/orders", "application/json", 2 * MB),
        (url, "multipart/form-data; boundary=b", 11 * MB),
    ):
        status, answer, sent = await raw_request(
            orders.port,
            f"POST {path} HTTP/1.1\nHost: x\nAuthorization: {auth}\nContent-Type: {kind}\nContent-Length: {size}\n",
        )
        assert status == 413 and sent == 0 and b"body_too_large" in answer, answer
    # The same 2 MB JSON order sent in chunks: refused once past the limit.
    status, answer, sent = await raw_request(
        orders.port,
        f"POST /api/v1/orders HTTP/1.1\nHost: x\nAuthorization: {auth}\nContent-Type: application/json\n"
        "Transfer-Encoding: chunked\n",
        body_bytes=2 * MB,
        chunked=True,
    )
    assert status == 413 and sent < 2 * MB, answer
