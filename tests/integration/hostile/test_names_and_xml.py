"""Hostile names and XML: path traversal in the names of uploaded files (order documents in orders, 1C's
``mode=file&filename=``) and 1C files declaring entities, external entities or an external DTD. Each is refused
with its reason and leaves nothing behind: no file outside its place, no document, no event."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from tests.integration.erp_bridge.support import SaleOneC, sale_app, sale_changes, sale_connect
from tests.integration.erp_bridge.support_catalog import OneC, catalog_app, connect, stock_events
from tests.integration.orders.helpers import a_world, orders_app, place
from tests.support.services import running_service, token_for

TRAVERSALS = [
    "../../evil.xml",
    "..\\..\\evil.xml",
    "a/../../evil.xml",
    "/evil.xml",
    "C:\\evil.xml",
    "C:evil.xml",
    "./../evil.xml",
    "evil\x00.xml",
    "",
    "evil" + "x" * 300 + ".xml",
]

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
ROOT = '<КоммерческаяИнформация ВерсияСхемы="2.08" ДатаФормирования="2024-05-01T12:00:00">{}</КоммерческаяИнформация>'
LAUGHS = '<!DOCTYPE КоммерческаяИнформация [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
EXTERNAL_ENTITY = '<!DOCTYPE КоммерческаяИнформация [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
EXTERNAL_DTD = '<!DOCTYPE КоммерческаяИнформация SYSTEM "http://127.0.0.1:9/commerceml.dtd">'
HOSTILE_XML = {
    "entities": (HEAD + LAUGHS + ROOT.format("<Документ><Ид>&b;</Ид></Документ>")).encode(),
    "an external entity": (HEAD + EXTERNAL_ENTITY + ROOT.format("<Документ><Ид>&e;</Ид></Документ>")).encode(),
    "an external DTD": (HEAD + EXTERNAL_DTD + ROOT.format("<Документ><Ид>1</Ид></Документ>")).encode(),
}


def files_named_evil(root: Path) -> list[str]:
    return [os.path.join(d, n) for d, _, names in os.walk(root) for n in names if "evil" in n]


async def test_1c_file_names_climbing_out_of_the_session_are_refused(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-6: ``mode=file&filename=`` with '..', a backslash path, an absolute path or a drive answers failure."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(catalog_app(database_url, tmp_path, service_env)) as client:
        await connect(client, token)
        onec = OneC(client)
        await onec.start()
        for name in TRAVERSALS:
            answer = await onec.call("file", b"<x/>", filename=name)
            assert answer[0] == "failure", (name, answer)
            assert "file name" in answer[1] or "filename" in answer[1], (name, answer)
            answer = await onec.call("import", filename=name)
            assert answer[0] == "failure", (name, answer)
        answer = await onec.call("m" * 300 + "\x00")  # an unknown mode of any length is logged, not a 500
        assert answer[0] == "failure" and "unknown mode" in answer[1], answer
    assert files_named_evil(tmp_path) == []


async def test_1c_files_with_entities_or_external_references_are_refused_and_publish_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-6: entity expansion, external entities and external DTDs are refused in both channels."""
    token = token_for(keys[0], account_id=uuid.uuid4())
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        await connect(client, token)
        catalog = OneC(client)
        await catalog.start()
        login = await sale_connect(client, token_for(keys[0], account_id=uuid.uuid4()))
        sale = SaleOneC(client, login)
        await sale.start()
        for what, content in HOSTILE_XML.items():
            await catalog.send(f"{what}.xml".replace(" ", "_"), content)
            answer = await catalog.call("import", filename=f"{what}.xml".replace(" ", "_"))
            assert answer[0] == "failure" and "DTD, entities or external references" in answer[1], (what, answer)
            answer = await sale.call("file", content, filename=f"orders_{what}.xml".replace(" ", "_"))
            assert answer[0] == "failure" and "DTD, entities or external references" in answer[1], (what, answer)
        assert await stock_events(kafka, expect=0, settle=0.5) == []
        assert await sale_changes(kafka, expect=1, timeout=2) == []


async def test_order_document_names_with_a_path_are_refused_and_store_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-CM-2: a document named with '..', a backslash, an absolute path or a drive gets 422 bad_file_name."""
    files_dir = tmp_path / "order-files"
    app = orders_app(database_url, service_env, keys, files_dir=str(files_dir))
    async with running_service(app) as client:
        w = await a_world(client)
        r = await place(client, w)
        assert r.status_code == 201, r.text
        url = f"/api/v1/orders/{r.json()['order_id']}/documents"
        # A drive name is no path here: the multipart parser keeps the base name of "C:\\x" (as browsers send
        # it) and "C:x" is only displayed (files are stored under generated keys), so those are accepted.
        for name in ["../../evil.xml", "..\\..\\evil.xml", "a/../../evil.xml", "/evil.xml", "./../evil.xml", ".."]:
            r = await client.post(url, headers=w.sup, files={"file": (name, b"evil", "text/plain")})
            assert r.status_code == 422, (name, r.text)
            body: dict[str, Any] = r.json()
            assert body["error"]["code"] in ("bad_file_name", "invalid"), (name, body)
        assert (await client.get(url, headers=w.sup)).json()["items"] == []
    assert files_named_evil(tmp_path) == []
