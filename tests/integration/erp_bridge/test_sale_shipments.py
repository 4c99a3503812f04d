"""Payments and shipments 1C sends with an order, unversioned documents and 1C's status texts, over HTTP against the
real broker and database (R-ERP-1, R-ERP-5, R-ERP-6)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from oms_shared.contracts import OrderStatus
from tests.integration.erp_bridge.support import (
    SaleOneC,
    SaleOrder,
    sale_app,
    sale_buyer_updated,
    sale_changes,
    sale_connect,
    sale_document_xml,
    sale_file,
    sale_log,
    sale_order,
    sale_placed,
    sale_publish,
    sale_wait_pending,
)
from tests.support.services import running_service, token_for


def order_document(order: SaleOrder, status_text: str) -> str:
    """1C's order document without `НомерВерсии` (as some 1C setups send it), lines unchanged."""
    lines = [(x.sku, str(x.quantity), str(x.price)) for x in order.lines]
    total = str(order.total)
    requisites = {"Проведен": "true", "Статус заказа": status_text}
    return sale_document_xml(
        str(order.order_id), order.number, number_1c="ЗК-5", version="", lines=lines, requisites=requisites, total=total
    )


def shipment(order: SaleOrder, number: str, *lines: tuple[str, str, str]) -> str:
    """`Отпуск товара` with the goods shipped; it belongs to the order whose `Контейнер` holds it."""
    total = str(sum(int(q) * float(p) for _, q, p in lines))
    return sale_document_xml(
        f"ship-{number}",
        number,
        number_1c=number,
        version=f"{number}-v1",
        lines=list(lines),
        requisites={"Проведен": "true"},
        total=total,
        operation="Отпуск товара",
    )


def payment(number: str, total: str, *, basis: str = "") -> str:
    requisites = {"Проведен": "true", **({"Номер заказа": basis} if basis else {})}
    return sale_document_xml(
        f"pay-{number}",
        number,
        number_1c=number,
        version=f"{number}-v1",
        lines=[],
        requisites=requisites,
        total=total,
        operation="Выплата безналичных денег",
    )


async def test_partial_payments_and_shipments_come_back_as_they_are(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-5: 1C's order (no НомерВерсии) in a `Контейнер` with a shipment of BOLT-M8 only and two payments:
    paid is their sum, BOLT-M8 is shipped whole and NUT-M8 not at all, the order is not shipped; the same file
    again changes nothing; the second shipment ships the order. R-ERP-1: "1C: <status text>" is sent once per new
    text. A payment without its order document is reported, not applied."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    buyer = uuid.uuid4()
    order = sale_order(tenant, "1005", buyer, ("BOLT-M8", "10", "12.50"), ("NUT-M8", "4", "100"))
    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        login = await sale_connect(client, token)
        await sale_publish(
            kafka,
            sale_buyer_updated(tenant, buyer, "ООО «Ромашка»", "7701234567"),
            sale_placed(order, OrderStatus.CONFIRMED),
        )
        await sale_wait_pending(client, token, {"1005"})
        onec = SaleOneC(client, login)
        await onec.start()
        first_shipment = shipment(order, "РТУ-1", ("BOLT-M8", "10", "12.50"))
        payments = payment("ПП-1", "100") + payment("ПП-2", "50.50")
        first = sale_file(f"<Контейнер>{order_document(order, 'Отгружается')}{first_shipment}{payments}</Контейнер>")
        answer = await onec.call("file", first, filename="orders-1.xml")
        text = "\n".join(answer)
        assert answer[0] == "success" and "1 applied" in text and "0 skipped" in text, answer
        assert "BOLT-M8: shipped 10" in text and "paid 150.5 (2 payment documents)" in text, answer

        def of_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [e["data"] for e in events if e["aggregate_id"] == str(order.order_id)]

        (data,) = of_order(await sale_changes(kafka, expect=1))
        assert (data["status"], data["paid_amount"], data["comment"]) == (None, "150.50", "1C: Отгружается")
        shipped = {x["sku"]: (x["line_id"], x["shipped_quantity"]) for x in data["lines"]}
        assert shipped == {
            "BOLT-M8": (str(order.line("BOLT-M8").line_id), "10"),
            "NUT-M8": (str(order.line("NUT-M8").line_id), "0"),
        }

        # The same unversioned file again, in a new session: recognised by its fingerprint, nothing published.
        again = SaleOneC(client, login)
        await again.start()
        answer = await again.call("file", first, filename="orders-1.xml")
        assert answer[0] == "success" and "1 unchanged" in "\n".join(answer), answer

        # The rest shipped (the order document itself unchanged): the order ships; the same status text is not
        # written again. A payment sent without its order is reported.
        second_shipment = shipment(order, "РТУ-2", ("NUT-M8", "4", "100"))
        whole = (
            f"<Контейнер>{order_document(order, 'Отгружается')}{first_shipment}{second_shipment}{payments}</Контейнер>"
        )
        stray = payment("ПП-9", "10", basis="4242")
        answer = await again.call("file", sale_file(whole, stray), filename="orders-2.xml")
        text = "\n".join(answer)
        assert answer[0] == "success" and "1 applied" in text, answer
        assert "Выплата безналичных денег came without its order document (Основание '4242'), skipped" in text
        events = of_order(await sale_changes(kafka, expect=2))
        assert len(events) == 2, events
        data = events[-1]
        assert (data["status"], data["paid_amount"], data["comment"]) == ("shipped", "150.50", "")
        assert {x["sku"]: x["shipped_quantity"] for x in data["lines"]} == {"BOLT-M8": "10", "NUT-M8": "4"}

        log = await sale_log(client, token)
        assert any(kind == "sale.file" and "every line shipped in 1C" in detail for kind, _, detail in log), log
