"""The files of the 1C exchange: parsed once and off the event loop, deleted when done, and sent as a zip archive
when the connection says so (zip=yes) — with the limits of plain files, and hostile archives refused whole."""

from __future__ import annotations

import io
import os
import stat
import threading
import time
import uuid
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest

from oms_erp_bridge import cml
from tests.integration.erp_bridge.support import SaleOneC, sale_app, sale_connect, sale_document_xml, sale_file
from tests.integration.erp_bridge.support_catalog import (
    LOGIN,
    PASSWORD,
    OneC,
    add_warehouses,
    catalog_app,
    items_of,
    sample,
    stock_events,
    wait_warehouses,
)
from tests.support import hostile_files as h
from tests.support.services import WAIT_SCALE, bearer, eventually, running_service, token_for

NOVOSIBIRSK = "d2a52d49-19c9-11e7-80c2-0cc47ab29cd1"  # the 1C warehouse of sample 09 matching no OMS warehouse


def unknown_documents(count: int) -> bytes:
    """1C's orders file of ``count`` documents about orders OMS does not have (each is reported, none applied)."""
    return sale_file(
        *(
            sale_document_xml(
                str(uuid.uuid4()), f"9{n}", number_1c=f"Т-{n}", version="v1", lines=[], requisites={}, total="0"
            )
            for n in range(count)
        )
    )


def session_dirs(tmp_path: Path) -> list[Path]:
    root = tmp_path / "erp"
    return [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []


async def test_an_orders_file_is_parsed_once_in_a_worker_thread_and_deleted_once_imported(
    database_url: str,
    service_env: dict[str, object],
    keys: tuple[Path, Path],
    kafka: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-ERP-1: a file imported in three steps of one document is read and parsed once, never on the event loop;
    the mode=query document is built off the loop too; the imported file leaves the disk, its answer stays."""
    parses: list[str] = []
    builds: list[str] = []
    real_load, real_write = cml.load, cml.write_orders

    def counting_load(data: bytes, **kw: Any) -> Any:
        parses.append(threading.current_thread().name)
        return real_load(data, **kw)

    def counting_write(*args: Any, **kw: Any) -> bytes:
        builds.append(threading.current_thread().name)
        return real_write(*args, **kw)

    monkeypatch.setattr(cml, "load", counting_load)
    monkeypatch.setattr(cml, "write_orders", counting_write)
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(sale_app(database_url, tmp_path, service_env, import_batch=1)) as client:
        onec = SaleOneC(client, await sale_connect(client, token))
        await onec.start()
        assert (await onec.request("query")).status_code == 200
        main = threading.main_thread().name
        assert builds and main not in builds, builds

        content = unknown_documents(3)
        await onec.send("orders.xml", content[:100])  # a first piece: not whole yet, nothing parsed
        assert parses == []
        answer = await onec.call("file", content[100:], filename="orders.xml")
        assert answer[0] == "success" and "documents 3-3 of 3" in "\n".join(answer), answer
        assert len(parses) == 1 and parses[0] != main, parses  # three steps, one parse, in a worker thread
        (directory,) = session_dirs(tmp_path)
        assert not (directory / "orders.xml").exists()
        again = await onec.call("import", filename="orders.xml")
        assert again[0] == "success" and "imported already" in again[1], again
        assert len(parses) == 1


async def test_finished_and_abandoned_sessions_leave_no_files(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """A catalog session's directory goes at mode=complete; an abandoned session's once it is idle past its TTL."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    app = sale_app(database_url, tmp_path, service_env, session_ttl_s=2, session_sweep_interval_s=0.2)
    async with running_service(app) as client:
        await client.put("/api/v1/erp/connection", json={"login": LOGIN, "password": PASSWORD}, headers=bearer(token))
        catalog = OneC(client)
        await catalog.start()
        await catalog.send("import0_1.xml", sample("08"))
        assert (await catalog.import_file("import0_1.xml"))[-1][0] == "success"
        assert (await catalog.call("complete"))[0] == "success"
        assert session_dirs(tmp_path) == []

        abandoned = OneC(client)
        await abandoned.start()
        await abandoned.send("offers0_1.xml", sample("09")[:1000])  # a first piece, and 1C never comes back
        assert len(session_dirs(tmp_path)) == 1

        async def swept() -> None:
            assert session_dirs(tmp_path) == []

        await eventually(swept, timeout=20)
        assert (await abandoned.call("import", filename="offers0_1.xml"))[0] == "failure"  # the session is over


def zip_of(entries: dict[str, bytes]) -> bytes:
    return h.zip_of(entries)


async def test_zip_yes_takes_the_sample_catalog_in_one_archive_like_plain_files(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-2: with zip on, init answers zip=yes; 1C's archive of import0_1.xml and offers0_1.xml, sent in
    pieces, is unpacked once whole and imported as the plain files are: 36 products mapped, 3 full snapshots."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    async with running_service(catalog_app(database_url, tmp_path, service_env)) as client:
        body = {"login": LOGIN, "password": PASSWORD, "zip": True}
        r = await client.put("/api/v1/erp/connection", json=body, headers=bearer(token))
        assert r.status_code == 200 and r.json()["zip"] is True, r.text
        _, _, novosibirsk = await add_warehouses(
            kafka, tenant, ("MSK", "Москва"), ("6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1", "ДВ"), ("NSK", "Новосибирск")
        )
        await wait_warehouses(client, token, 3)
        await client.put(f"/api/v1/erp/warehouses/{novosibirsk}", json={"erp_id": NOVOSIBIRSK}, headers=bearer(token))

        onec = OneC(client)
        answer = await onec.call("checkauth")
        onec.cookie = answer[2]
        assert (await onec.call("init"))[0] == "zip=yes"
        archive = zip_of({"import0_1.xml": sample("08"), "offers0_1.xml": sample("09")})
        third = -(-len(archive) // 3)
        answers = [
            await onec.call("file", archive[i : i + third], filename="import.zip") for i in (0, third, 2 * third)
        ]
        assert [a[0] for a in answers] == ["success"] * 3
        assert answers[0][1].startswith("import.zip: received"), answers[0]
        assert answers[2][1] == "import.zip: unpacked 2 files", answers[2]
        assert (await onec.import_file("import0_1.xml"))[-1][0] == "success"
        done = await onec.call("import", filename="offers0_1.xml")
        assert done[0] == "success" and done[1] == "full snapshot: 3 warehouses, 132 items (44 SKUs)", done
        events = await stock_events(kafka, expect=3)
    assert len(events) == 3 and len(items_of(events)) == 132


async def test_zip_yes_takes_1cs_orders_file_in_an_archive(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-3: the orders channel imports the XML of an archive as soon as the archive is whole."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        login = await sale_connect(client, token)
        r = await client.put(
            "/api/v1/erp/connection",
            json={"login": login, "password": "s3cret-orders-exchange", "zip": True},
            headers=bearer(token),
        )
        assert r.status_code == 200, r.text
        onec = SaleOneC(client, login)
        onec.cookie = (await onec.call("checkauth"))[2]
        assert (await onec.call("init"))[0] == "zip=yes"
        answer = await onec.call("file", zip_of({"orders.xml": unknown_documents(2)}), filename="orders.zip")
        text = "\n".join(answer)
        assert answer[0] == "success" and "unpacked 1 files" in text and "documents 1-2 of 2" in text, answer
        assert "no such order" in text


def symlink_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("import.xml")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return out.getvalue()


def raw_name_zip(name: str) -> bytes:
    """An archive whose entry name is written as given (zipfile would clean it when given to ZipInfo)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        info = zipfile.ZipInfo("placeholder.xml")
        info.filename = name
        archive.writestr(info, b"<x/>")
    return out.getvalue()


def twice_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate, and writes it
        archive.writestr("import.xml", b"<a/>")
        archive.writestr("import.xml", b"<b/>")
    return out.getvalue()


HOSTILE_ZIPS: list[tuple[str, Any, str]] = [
    ("a name climbing out of the session", lambda: zip_of({"../../evil.xml": b"<x/>"}), "refused file name"),
    ("an absolute name", lambda: raw_name_zip("/oms-evil.xml"), "refused file name"),
    ("a drive letter", lambda: raw_name_zip("C:/evil.xml"), "refused file name"),
    ("a link", symlink_zip, "is a link"),
    ("a bomb bigger than a file may be", lambda: h.zip_bomb(260), "more than"),
    ("a bomb compressed 1000 times", lambda: h.zip_bomb(16), "zip bomb"),
    ("a bomb lying about its size", lambda: h.understated(h.zip_bomb(64), "orders.xml", 1000), "cannot be unpacked"),
    ("too many files", lambda: zip_of({f"f{n}.xml": b"<x/>" for n in range(1001)}), "more than 1000"),
    ("the same name twice", lambda: twice_zip(), "twice"),
]


async def test_hostile_archives_are_refused_whole_and_leave_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-6: each hostile archive answers failure with its reason, quickly; nothing is unpacked anywhere; an
    archive cut short stays an incomplete piece and imports nothing."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(catalog_app(database_url, tmp_path, service_env)) as client:
        body = {"login": LOGIN, "password": PASSWORD, "zip": True}
        assert (await client.put("/api/v1/erp/connection", json=body, headers=bearer(token))).status_code == 200
        for what, build, reason in HOSTILE_ZIPS:
            onec = OneC(client)
            onec.cookie = (await onec.call("checkauth"))[2]
            started = time.monotonic()
            answer = await onec.call("file", build(), filename="import.zip")
            # Refused from the archive's directory, not by unpacking it (nothing is left behind, checked below);
            # the deadline only catches a hang, generous for a busy runner.
            assert time.monotonic() - started < 30 * WAIT_SCALE, what
            assert answer[0] == "failure" and reason in "\n".join(answer), (what, answer)
            directory = tmp_path / "erp" / onec.cookie
            assert sorted(os.listdir(directory)) == [], (what, os.listdir(directory))
        assert not [name for _, _, names in os.walk(tmp_path) for name in names if "evil" in name]  # none escaped

        onec = OneC(client)
        onec.cookie = (await onec.call("checkauth"))[2]
        whole = zip_of({"import0_1.xml": sample("08")})
        answer = await onec.call("file", whole[: len(whole) // 2], filename="import.zip")
        assert answer[0] == "success" and "received" in answer[1], answer
        refused = await onec.call("import", filename="import0_1.xml")
        assert refused[0] == "failure" and "was not received" in refused[1], refused
        r = await client.get("/api/v1/erp/products", headers=bearer(token))
        assert r.json()["total"] == 0
