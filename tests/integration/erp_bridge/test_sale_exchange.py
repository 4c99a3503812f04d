"""The 1C orders exchange (``type=sale``) over HTTP against the real broker and database (R-ERP-1, 3, 5, 6)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from oms_erp_bridge.cml import load, parse_orders
from oms_shared.contracts import OrderStatus
from tests.integration.erp_bridge.support import (
    SaleOneC,
    sale_app,
    sale_buyer_updated,
    sale_changed,
    sale_changes,
    sale_connect,
    sale_document_xml,
    sale_file,
    sale_log,
    sale_order,
    sale_placed,
    sale_publish,
    sale_status_changed,
    sale_wait_pending,
    sale_wait_version,
)
from tests.support.services import bearer, running_service, token_for

BOM = b"\xef\xbb\xbf"


async def test_a_full_1c_session_takes_the_confirmed_order_and_sends_back_shipment_and_cancelled_lines(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-1, R-ERP-5, R-ERP-6: 1C takes the confirmed order (not the new one) until it says success, then
    sends back its document: shipped, one line cancelled, one quantity smaller — once, however often it repeats."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer = uuid.uuid4()
    confirmed = sale_order(
        tenant, "1001", buyer, ("BOLT-M8", "10", "12.50"), ("NUT-M8", "4", "100"), ("WASH", "2", "5")
    )
    still_new = sale_order(tenant, "1002", buyer, ("BOLT-M8", "1", "12.50"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        login = await sale_connect(client, token)
        await sale_publish(
            kafka,
            sale_buyer_updated(tenant, buyer, "ООО «Ромашка»", "7701234567", "770101001"),
            sale_placed(confirmed),
            sale_placed(still_new),
            sale_status_changed(confirmed, OrderStatus.CONFIRMED),
        )
        await sale_wait_pending(client, token, {"1001"})

        onec = SaleOneC(client, login)
        await onec.start()
        first = await onec.request("query")
        assert first.headers["content-type"] == "application/xml; charset=utf-8"
        assert first.content.startswith(BOM + b'<?xml version="1.0" encoding="UTF-8"?>')
        (document,) = parse_orders(load(first.content))
        assert (document.erp_id, document.number) == (str(confirmed.order_id), "1001")
        assert document.buyer is not None
        assert (document.buyer.erp_id, document.buyer.name) == (str(buyer), "ООО «Ромашка»")
        assert (document.buyer.inn, document.buyer.kpp) == ("7701234567", "770101001")
        assert [(x.erp_id, x.sku, x.quantity, x.price) for x in document.lines] == [
            ("BOLT-M8", "BOLT-M8", Decimal(10), Decimal("12.50")),
            ("NUT-M8", "NUT-M8", Decimal(4), Decimal(100)),
            ("WASH", "WASH", Decimal(2), Decimal(5)),
        ]
        assert document.total == Decimal(535) and document.vat_included is True
        assert document.status_text == "Подтвержден"
        # No success yet: the next query sends it again (pitfall 4).
        again = parse_orders(load((await onec.request("query")).content))
        assert [d.number for d in again] == ["1001"]
        # The supplier sets a shipment date after that query: success takes version 2 only, 3 is sent again.
        await sale_publish(kafka, sale_changed(confirmed, 3, "shipment_date", old=None, new="2024-06-03"))
        await sale_wait_version(client, token, confirmed, 3)
        taken = await onec.call("success")
        assert taken[0] == "success" and "sent again: 1001" in taken[1], taken
        (resent,) = parse_orders(load((await onec.request("query")).content))
        assert resent.requisites["Дата отгрузки"] == "2024-06-03"
        assert (await onec.call("success"))[0] == "success"
        assert parse_orders(load((await onec.request("query")).content)) == []
        # And a change 1C has not seen yet when it sends its own document: both sides changed it, 1C wins (R-ERP-3).
        await sale_publish(kafka, sale_changed(confirmed, 4, "comment", comment="Позвонить заранее"))
        await sale_wait_version(client, token, confirmed, 4)

        # 1C shipped the order, removed WASH and cut NUT-M8 from 4 to 1; its file comes in two pieces.
        xml = sale_file(
            sale_document_xml(
                str(confirmed.order_id),
                "1001",
                number_1c="ТДЦУ-000042   ",
                version="AAAAAQAAAAE=",
                lines=[("BOLT-M8", "10", "12.50"), ("NUT-M8", "1", "100")],
                requisites={"Проведен": "true", "Отгружен": "true", "Статус заказа": "Закрыт"},
                total="225.00",
            )
        )
        answers = await onec.send("orders-1.xml", xml, pieces=2)
        assert [a[0] for a in answers] == ["success", "success"], answers
        assert "1 applied" in answers[1][1] and "1C's document wins" in "\n".join(answers[1]), answers
        imported = await onec.call("import", filename="orders-1.xml")
        assert imported[0] == "success" and "imported already" in imported[1], imported

        (event,) = await sale_changes(kafka, expect=1)
        data = event["data"]
        assert event["aggregate_id"] == str(confirmed.order_id) and event["tenant_id"] == str(tenant)
        assert (data["status"], data["erp_document_id"]) == ("shipped", "ТДЦУ-000042")
        # R-ERP-3: both sides changed it; orders records the conflict and the responsible people are told.
        assert "1C document ТДЦУ-000042 wins over the changes made in OMS" in data["conflict"]
        cancelled = {
            x["sku"]: (x["line_id"], x["cancelled_quantity"]) for x in data["lines"] if x["cancelled_quantity"]
        }
        assert cancelled == {
            "NUT-M8": (str(confirmed.line("NUT-M8").line_id), "3"),
            "WASH": (str(confirmed.line("WASH").line_id), "2"),
        }
        # `Отгружен`: what is left of every line left the warehouse.
        shipped = {x["sku"]: x["shipped_quantity"] for x in data["lines"] if x["shipped_quantity"] is not None}
        assert shipped == {"BOLT-M8": "10", "NUT-M8": "1"}

        # The same document again, in a new exchange session: recognised by its НомерВерсии, nothing published.
        repeat = SaleOneC(client, login)
        await repeat.start()
        await repeat.send("orders-1.xml", xml)
        answer = await repeat.call("import", filename="orders-1.xml")
        assert answer[0] == "success" and "1 unchanged" in "\n".join(answer), answer
        assert len(await sale_changes(kafka, expect=2, timeout=3)) == 1

        log = await sale_log(client, token)
        kinds = [(kind, outcome) for kind, outcome, _ in log if kind.startswith("sale.")]
        for step in ("checkauth", "init", "query", "success", "file", "import"):
            assert (f"sale.{step}", "success") in kinds, kinds
        assert ("sale.query", "success", "1 orders: 1001") in log and ("sale.query", "success", "0 orders") in log
        assert any(k == "sale.import" and "1 applied" in d and "ТДЦУ-000042" in d for k, _, d in log), log


async def test_bad_calls_and_files_are_refused_with_a_reason_and_change_nothing(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-1, R-ERP-6: a wrong password, a call without a session, a path outside the session, a malformed or
    foreign file each answer ``failure`` and a reason; an unknown order, a payment document or an unmapped status
    text is reported, not fatal; a windows-1251 connection gets its orders in windows-1251, declared as such."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer = uuid.uuid4()
    order = sale_order(tenant, "77", buyer, ("ГВОЗДЬ-100", "3", "9.90"))
    async with running_service(sale_app(database_url, tmp_path, service_env, import_batch=1)) as client:
        bad_zone = {"login": "x-zone", "password": "long-enough", "timezone": "Mars/Olympus"}
        r = await client.put("/api/v1/erp/connection", json=bad_zone, headers=bearer(token))
        assert r.status_code == 422 and "unknown time zone" in r.text, r.text
        login = await sale_connect(
            client, token, encoding="windows-1251", status_map={"В резерве": "confirmed"}, timezone="Asia/Yekaterinburg"
        )
        await sale_publish(
            kafka,
            sale_buyer_updated(tenant, buyer, "АО «Лютик»", "7809876543"),
            sale_placed(order, OrderStatus.CONFIRMED),
        )

        wrong = await SaleOneC(client, login, password="not-the-password").request("checkauth")
        assert wrong.text.split("\n")[:2] == ["failure", "wrong exchange login or password"]
        assert "set-cookie" not in wrong.headers
        assert (await SaleOneC(client, login).call("query"))[0] == "failure"  # no session

        onec = SaleOneC(client, login)
        await onec.start()
        assert (await onec.call("file", b"<x/>", filename="../x.xml"))[0] == "failure"

        malformed = sale_file("<Документ><Ид>1</Ид>")  # Документ never closed
        refused = await onec.call("file", malformed, filename="bad.xml")
        assert refused[0] == "failure" and "not well-formed" in refused[1], refused
        again = await onec.call("import", filename="bad.xml")
        assert again[0] == "failure" and "not well-formed" in again[1], again

        catalog = sale_file("<Каталог><Ид>c</Ид><Наименование>Каталог</Наименование></Каталог>")
        answer = await onec.call("file", catalog, filename="import.xml")
        assert answer[0] == "failure" and "not an orders document" in answer[1], answer

        # One document per import step: an unknown order, a payment, our order with a status text not in the map.
        await sale_wait_pending(client, token, {"77"})
        mixed = sale_file(
            sale_document_xml(
                str(uuid.uuid4()), "999", number_1c="ТДЦУ-9", version="v1", lines=[], requisites={}, total="0"
            ),
            sale_document_xml(
                "p-1", "П-1", number_1c="П-1", version="v1", lines=[], requisites={}, total="5", operation="Выплата"
            ),
            sale_document_xml(
                str(order.order_id),
                "77",
                number_1c="ТДЦУ-77",
                version="v1",
                lines=[("ГВОЗДЬ-100", "3", "9.90")],
                requisites={"Статус заказа": "Собирается"},
                total="29.70",
            ),
        )
        answer = await onec.call("file", mixed, filename="orders.xml")
        text = "\n".join(answer)
        assert answer[0] == "success" and "documents 3-3 of 3" in text, answer
        assert "'999'" in text and "no such order" in text, answer
        assert "Выплата is not an order" in text, answer
        assert "1C status 'Собирается' is not in the status map: status unchanged" in text, answer

        reply = await onec.request("query")
        assert reply.headers["content-type"] == "application/xml; charset=windows-1251"
        assert reply.content.startswith(b'<?xml version="1.0" encoding="windows-1251"?>')
        assert "АО «Лютик»".encode("cp1251") in reply.content and "ГВОЗДЬ-100".encode("cp1251") in reply.content
        (document,) = parse_orders(load(reply.content))
        assert document.buyer is not None and document.buyer.name == "АО «Лютик»"
        # Dates and times are the supplier's local ones (UTC+5 here), as 1C reads them.
        listed = (await client.get("/api/v1/erp/orders", headers=bearer(token))).json()["items"][0]
        created = datetime.fromisoformat(listed["created_at"]).astimezone(ZoneInfo("Asia/Yekaterinburg"))
        assert document.date == created.replace(tzinfo=None, microsecond=0), (document.date, created)

        # The unmapped status moves nothing, but what 1C said reaches the order, once.
        (said,) = await sale_changes(kafka, expect=1, timeout=5)
        assert (said["data"]["status"], said["data"]["comment"]) == (None, "1C: Собирается")
        log = await sale_log(client, token)
        assert not any(kind == "sale.checkauth" and "not-the-password" in detail for kind, _, detail in log)
        assert [outcome for kind, outcome, _ in log if kind == "sale.checkauth"] == ["success"]
        assert ("sale.file", "failure") in [(kind, outcome) for kind, outcome, _ in log]
