"""Comments (R-CM-1) and documents (R-CM-2) between the two parties of an order, and nobody else."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from oms_shared.contracts import OrderChangedV1
from oms_shared.topics import ORDER_CHANGED
from tests.integration.orders.helpers import a_world, orders_app, place, read_events, register, sign_in
from tests.support.services import running_service


async def test_both_parties_comment_and_exchange_files_others_cannot(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str
) -> None:
    """R-CM-1, R-CM-2, R-ACC-2, R-ACC-4: comments in the author's name, files with limits, download by the parties."""
    app = orders_app(database_url, service_env, keys, max_file_bytes=1024)
    async with running_service(app) as client:
        w = await a_world(client)
        oid = (await place(client, w)).json()["order_id"]
        url = f"/api/v1/orders/{oid}"
        r = await client.post(f"{url}/comments", headers=w.sup, json={"text": "Will ship on Friday"})
        assert r.status_code == 201, r.text
        assert r.json()["author_name"] == "Supplier Co owner" and r.json()["author_side"] == "supplier"
        r = await client.post(f"{url}/comments", headers=w.buy, json={"text": "Thanks!"})
        assert r.status_code == 201
        listed = (await client.get(f"{url}/comments", headers=w.buy)).json()
        assert [(c["author_side"], c["text"]) for c in listed["items"]] == [
            ("supplier", "Will ship on Friday"),
            ("buyer", "Thanks!"),
        ]
        # R-ACC-2: commenting needs "change" on both buyers and orders.
        reader_email = f"r.{uuid.uuid4().hex[:6]}@example.com"
        await client.post(
            "/api/v1/users",
            headers=w.sup,
            json={
                "email": reader_email,
                "password": "reader-pass-1",
                "access_buyers": "read",
                "access_orders": "change",
            },
        )
        reader = await sign_in(client, reader_email, "reader-pass-1")
        r = await client.post(f"{url}/comments", headers=reader, json={"text": "hi"})
        assert r.status_code == 403
        assert (await client.post(f"{url}/comments", headers=w.buy, json={"text": ""})).status_code == 422

        invoice = b"%PDF-1.4 invoice 1001"
        r = await client.post(
            f"{url}/documents", headers=w.sup, files={"file": ("Счёт 1001.pdf", invoice, "application/pdf")}
        )
        assert r.status_code == 201, r.text
        doc = r.json()
        assert (doc["file_name"], doc["content_type"], doc["size"]) == (
            "Счёт 1001.pdf",
            "application/pdf",
            len(invoice),
        )
        r = await client.get(f"{url}/documents/{doc['document_id']}", headers=w.buy)
        assert r.status_code == 200 and r.content == invoice
        assert r.headers["content-type"] == "application/pdf"
        stored = await asyncio.to_thread(lambda: list(Path(app.state.runtime.settings.files_dir).rglob("*")))
        assert stored
        assert all("Счёт" not in p.name for p in stored)  # stored under a generated name

        for name, content, code in (
            ("../../etc/passwd", b"root", 422),
            ("dir\\evil.txt", b"x", 422),
            ("big.bin", b"x" * 1025, 413),
        ):
            r = await client.post(f"{url}/documents", headers=w.buy, files={"file": (name, content, "text/plain")})
            assert r.status_code == code, (name, r.text)
        assert len((await client.get(f"{url}/documents", headers=w.sup)).json()["items"]) == 1

        rival = await sign_in(client, (await register(client, "supplier", "Rival"))["email"])
        stranger = await sign_in(client, (await register(client, "buyer", "Stranger"))["email"])
        for headers in (rival, stranger):  # another account's order: answered as an unknown one
            assert (await client.get(f"{url}/documents/{doc['document_id']}", headers=headers)).status_code == 404
            assert (await client.get(f"{url}/comments", headers=headers)).status_code == 404
            r = await client.post(f"{url}/comments", headers=headers, json={"text": "spam"})
            assert r.status_code == 404
        assert (await client.get(f"{url}/documents/{uuid.uuid4()}", headers=w.buy)).status_code == 404

        events = await read_events(kafka, ORDER_CHANGED, 3, where=lambda e: e.aggregate_id == oid)
        assert [e.data.kind for e in events if isinstance(e, OrderChangedV1)] == ["comment", "comment", "document"]
