"""Order documents in an S3-compatible bucket (OMS_ORDERS_DOCUMENT_STORE=s3), against a real S3 HTTP API.

The S3 server is moto's, run in this process on a free loopback port: the service talks to it over HTTP
exactly as it would to MinIO or AWS S3.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.integration.orders.helpers import a_world, orders_app, place
from tests.support.services import running_service

CREDENTIALS = {"s3_access_key_id": "oms-test", "s3_secret_access_key": "oms-test-secret", "s3_region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def bucket_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="oms-test",
        aws_secret_access_key="oms-test-secret",
    )


def a_bucket(endpoint: str) -> str:
    name = f"oms-documents-{uuid.uuid4().hex[:8]}"
    bucket_client(endpoint).create_bucket(Bucket=name)
    return name


def s3_settings(endpoint: str, bucket: str) -> dict[str, object]:
    return {"document_store": "s3", "s3_endpoint_url": endpoint, "s3_bucket": bucket, **CREDENTIALS}


async def test_documents_live_in_the_bucket_and_a_lost_object_answers_404(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], s3_endpoint: str
) -> None:
    """R-CM-2: a file attached to an order is kept in the shared bucket, listed and downloaded by the parties."""
    bucket = a_bucket(s3_endpoint)
    app = orders_app(database_url, service_env, keys, **s3_settings(s3_endpoint, bucket))
    async with running_service(app) as client:
        w = await a_world(client)
        oid = (await place(client, w)).json()["order_id"]
        url = f"/api/v1/orders/{oid}/documents"
        invoice = b"%PDF-1.4 invoice 1001 " + bytes(range(256)) * 64
        r = await client.post(url, headers=w.sup, files={"file": ("Счёт 1001.pdf", invoice, "application/pdf")})
        assert r.status_code == 201, r.text
        doc = r.json()

        stored = bucket_client(s3_endpoint).list_objects_v2(Bucket=bucket)["Contents"]
        assert [(o["Key"], o["Size"]) for o in stored] == [(f"{oid}/{doc['document_id']}", len(invoice))]
        listed = (await client.get(url, headers=w.buy)).json()["items"]
        assert [d["document_id"] for d in listed] == [doc["document_id"]]
        r = await client.get(f"{url}/{doc['document_id']}", headers=w.buy)
        assert r.status_code == 200 and r.content == invoice
        assert r.headers["content-type"] == "application/pdf"

        # Someone emptied the bucket: the document's object is gone, which is a 404, not a 500.
        bucket_client(s3_endpoint).delete_object(Bucket=bucket, Key=f"{oid}/{doc['document_id']}")
        r = await client.get(f"{url}/{doc['document_id']}", headers=w.buy)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "document_missing"


async def test_a_store_that_does_not_answer_is_a_clear_503_and_nothing_is_half_applied(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], s3_endpoint: str
) -> None:
    """R-CM-2: without its store the upload is refused with 503 and leaves no document row behind."""
    # A bucket that does not exist on the server stands for a store misconfigured or not reachable.
    app = orders_app(database_url, service_env, keys, **s3_settings(s3_endpoint, "no-such-bucket"))
    async with running_service(app) as client:
        w = await a_world(client)
        oid = (await place(client, w)).json()["order_id"]
        url = f"/api/v1/orders/{oid}/documents"
        r = await client.post(url, headers=w.sup, files={"file": ("a.txt", b"hello", "text/plain")})
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "document_store_unavailable"
        assert (await client.get(url, headers=w.sup)).json()["items"] == []


async def test_a_store_that_goes_away_after_the_upload_answers_503_on_download(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path]
) -> None:
    """R-CM-2: the file was stored; while the store is down its download is a 503, not a 500."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = a_bucket(endpoint)
    app = orders_app(database_url, service_env, keys, **s3_settings(endpoint, bucket))
    try:
        async with running_service(app) as client:
            w = await a_world(client)
            oid = (await place(client, w)).json()["order_id"]
            url = f"/api/v1/orders/{oid}/documents"
            r = await client.post(url, headers=w.sup, files={"file": ("a.txt", b"hello", "text/plain")})
            assert r.status_code == 201, r.text
            server.stop()
            r = await client.get(f"{url}/{r.json()['document_id']}", headers=w.sup)
            assert r.status_code == 503, r.text
            assert r.json()["error"]["code"] == "document_store_unavailable"
    finally:
        server.stop()
