"""Every document the bridge gives the ERP adds up: its total is the sum of the lines it carries, and its VAT the
sum of their VAT — after splits, moves, copies, edits, ERP cuts and partial shipments (R-ERP-1, R-ERP-5, R-ERP-7).

The order events are played straight into the bridge's handlers (as its consumers call them); the documents are
the 1C exchange's ``mode=query`` answer (parsed back as 1C reads it) and the JSON API's orders.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.responses import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms_erp_bridge import cml, orders_out, replicas, sale_exchange
from oms_erp_bridge.app import MIGRATIONS
from oms_erp_bridge.db import metadata, sessions
from oms_erp_bridge.protocol import Context
from oms_erp_bridge.settings import Settings
from oms_shared import money
from oms_shared.contracts import (
    BuyerUpdatedData,
    BuyerUpdatedV1,
    Event,
    OrderChangedData,
    OrderChangedV1,
    OrderLine,
    OrderPlacedData,
    OrderPlacedV1,
    OrderStatus,
    OrderStatusChangedData,
    OrderStatusChangedV1,
    Side,
    make_event,
)
from oms_shared.db import Database, create_engine, utcnow
from oms_shared.migrations import upgrade_to_head
from tests.integration.erp_bridge.support import (
    SaleOneC,
    SaleOrder,
    sale_app,
    sale_buyer_updated,
    sale_connect,
    sale_placed,
    sale_publish,
    sale_status_changed,
    sale_wait_pending,
)
from tests.support.services import eventually, running_service, token_for

HANDLERS: dict[type[Event], Any] = {
    OrderPlacedV1: replicas.on_order_placed,
    OrderStatusChangedV1: replicas.on_order_status_changed,
    OrderChangedV1: replicas.on_order_changed,
    BuyerUpdatedV1: replicas.on_buyer_updated,
}


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(create_engine(database_url), metadata)
    await upgrade_to_head(database.engine, MIGRATIONS)
    yield database
    await database.dispose()


@dataclass
class Order:
    """What the orders service holds of one order (the model the documents are checked against)."""

    order_id: uuid.UUID
    number: str
    buyer_id: uuid.UUID
    lines: list[OrderLine]
    status: OrderStatus = OrderStatus.NEW
    sequence: int = 1
    parent: uuid.UUID | None = None

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence


@dataclass
class Bridge:
    """One supplier's bridge: the events of its orders go to the handlers, exchanges give its documents."""

    db: Database
    files: Path
    tenant: uuid.UUID = field(default_factory=uuid.uuid4)
    buyer: uuid.UUID = field(default_factory=uuid.uuid4)
    orders: dict[str, Order] = field(default_factory=dict)
    counter: int = 1000
    documents: int = 0

    async def apply(self, event: Event) -> None:
        async with self.db.transaction() as tx:
            await HANDLERS[type(event)](event, tx)

    async def start(self) -> None:
        data = BuyerUpdatedData(buyer_id=self.buyer, name="ООО «Ромашка»", inn="7707083893", kpp="770701001")
        await self.apply(make_event(BuyerUpdatedV1, tenant_id=self.tenant, aggregate_id=str(self.buyer), data=data))

    # --- what the orders service publishes ---------------------------------------------------------------

    async def place(
        self, lines: list[OrderLine], *, status: OrderStatus = OrderStatus.NEW, parent: Order | None = None
    ) -> Order:
        if parent is None:
            self.counter += 1
            number = str(self.counter)
        else:
            number = f"{parent.number}-{sum(1 for o in self.orders.values() if o.parent == parent.order_id) + 1}"
        order = Order(uuid.uuid4(), number, self.buyer, list(lines), status, parent=parent.order_id if parent else None)
        self.orders[str(order.order_id)] = order
        data = OrderPlacedData(
            order_id=order.order_id,
            number=order.number,
            parent_order_id=order.parent,
            buyer_id=self.buyer,
            status=status,
            lines=order.lines,
            total=money.order_total((x.quantity, x.price) for x in order.lines),
            created_at=datetime.now(UTC),
        )
        await self.apply(make_event(OrderPlacedV1, tenant_id=self.tenant, aggregate_id=str(order.order_id), data=data))
        return order

    async def status(self, order: Order, to: OrderStatus, side: Side = Side.SUPPLIER) -> None:
        before, order.status = order.status, to
        data = OrderStatusChangedData(
            order_id=order.order_id,
            number=order.number,
            buyer_id=self.buyer,
            from_status=before,
            to_status=to,
            by_side=side,
            total=money.order_total((x.quantity, x.price) for x in order.lines),
            lines=order.lines,
            changed_at=datetime.now(UTC),
        )
        await self.apply(
            make_event(
                OrderStatusChangedV1,
                tenant_id=self.tenant,
                aggregate_id=str(order.order_id),
                sequence=order.next_sequence(),
                data=data,
            )
        )

    async def changed(
        self,
        order: Order,
        kind: str,
        lines: list[OrderLine] | None = None,
        side: Side = Side.SUPPLIER,
        **attributes: object,
    ) -> None:
        """An ``order.changed``: with ``lines`` the order's lines after the change (they replace the model's)."""
        if lines is not None:
            order.lines = list(lines)
        data = OrderChangedData(
            order_id=order.order_id,
            number=order.number,
            buyer_id=self.buyer,
            kind=kind,
            status=order.status,
            by_side=side,
            lines=lines,
            attributes=attributes,
            changed_at=datetime.now(UTC),
        )
        await self.apply(
            make_event(
                OrderChangedV1,
                tenant_id=self.tenant,
                aggregate_id=str(order.order_id),
                sequence=order.next_sequence(),
                data=data,
            )
        )

    async def split(self, order: Order, moved: list[OrderLine]) -> Order:
        """Lines leave ``order`` for a new part (as on confirmation with lines in two warehouses)."""
        ids = {x.line_id for x in moved}
        part = await self.place(moved, status=order.status, parent=order)
        await self.changed(order, "split", [x for x in order.lines if x.line_id not in ids])
        await self.changed(part, "split", part.lines)
        return part

    async def move(self, source: Order, target: Order, moved: list[OrderLine], *, copy: bool = False) -> None:
        """Lines move to another part, or are copied there with quantity 0 for the supplier to fill (as OMS does)."""
        ids = {x.line_id for x in moved}
        copied = {"quantity": Decimal(0)} if copy else {}
        added = [x.model_copy(update={"line_id": uuid.uuid4(), **copied}) for x in moved]
        if not copy:
            await self.changed(source, "lines_moved", [x for x in source.lines if x.line_id not in ids])
        await self.changed(target, "lines_copied" if copy else "lines_moved", target.lines + added)

    async def erp_cut(self, order: Order, line_id: uuid.UUID, cancelled: Decimal) -> None:
        """1C cut a line; orders applied it (the ERP wins) and says so with the lines, by the ERP."""
        lines = [
            x.model_copy(update={"quantity": max(x.quantity - cancelled, Decimal(0))}) if x.line_id == line_id else x
            for x in order.lines
        ]
        await self.changed(order, "erp_applied", lines, side=Side.ERP, erp_document_id=f"УТ-{order.number}")

    # --- the documents ------------------------------------------------------------------------------------

    def context(self, encoding: str = "utf-8") -> Context:
        connection = SimpleNamespace(encoding=encoding, timezone="Europe/Moscow", status_map="{}")
        return Context(
            db=self.db,
            settings=Settings(database_url="sqlite+aiosqlite://", files_dir=str(self.files)),
            tenant_id=str(self.tenant),
            session_id=uuid.uuid4().hex,
            connection=connection,
            directory=self.files,
        )

    async def exchange_1c(self, encoding: str = "utf-8") -> list[cml.CmlOrder]:
        """One 1C session: ``mode=query`` (every pending order), then ``mode=success``; the documents 1C read."""
        ctx = self.context(encoding)
        async with self.db.transaction() as tx:
            now = utcnow()
            await tx.conn.execute(
                sessions.insert().values(
                    id=ctx.session_id, tenant_id=ctx.tenant_id, channel="sale", created_at=now, last_seen_at=now
                )
            )
        answer = await sale_exchange.query(ctx)
        assert isinstance(answer, Response), answer
        documents = cml.parse_orders(cml.load(bytes(answer.body)))
        await sale_exchange.success(ctx)
        return documents

    async def json_orders(self) -> list[dict[str, Any]]:
        """Every order of the JSON API (``GET /api/v1/erp/orders?pending=false``), as it answers them."""
        async with self.db.read() as conn:
            found = await orders_out.load_orders(conn, str(self.tenant), pending_only=False)
        return [json.loads(json.dumps(order.to_json())) for order in found]

    def expected(self, order_id: str) -> list[tuple[str, Decimal, Decimal]]:
        """The lines the ERP must get: every line of the order with a quantity (a line cut to 0 is not sent)."""
        return sorted((x.sku, x.quantity, x.price) for x in self.orders[order_id].lines if x.quantity > 0)

    def check_1c(self, documents: list[cml.CmlOrder]) -> None:
        for doc in documents:
            self.documents += 1
            lines = doc.lines
            assert sorted((x.sku, x.quantity, x.price) for x in lines) == self.expected(doc.erp_id), doc.number
            assert all(x.quantity > 0 for x in lines), f"{doc.number}: a line without a quantity went to 1C"
            for x in lines:
                figures = money.line(x.quantity, x.price, x.vat_rate)
                assert (x.amount, x.vat_amount or Decimal(0)) == (figures.amount, figures.vat), (doc.number, x.sku)
            assert doc.total == sum((x.amount for x in lines), Decimal(0)), f"{doc.number}: Сумма ≠ its lines"
            lines_vat = sum((x.vat_amount or Decimal(0) for x in lines), Decimal(0))
            assert (doc.vat_amount or Decimal(0)) == lines_vat, f"{doc.number}: НДС ≠ its lines' НДС"

    def check_json(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.documents += 1
            lines = item["lines"]
            got = sorted((x["sku"], Decimal(x["quantity"]), Decimal(x["price"])) for x in lines)
            assert got == self.expected(item["order_id"]), item["number"]
            for x in lines:
                figures = money.line(Decimal(x["quantity"]), Decimal(x["price"]), Decimal(x["vat_rate"]))
                assert (Decimal(x["amount"]), Decimal(x["vat_amount"])) == (figures.amount, figures.vat)
            assert Decimal(item["total"]) == sum((Decimal(x["amount"]) for x in lines), Decimal(0)), item["number"]
            assert Decimal(item["vat_amount"]) == sum((Decimal(x["vat_amount"]) for x in lines), Decimal(0))

    async def check_every_document(self) -> list[cml.CmlOrder]:
        documents = await self.exchange_1c()
        self.check_1c(documents)
        self.check_json(await self.json_orders())
        return documents


def line(sku: str, quantity: str, price: str, vat: str = "20", warehouse: uuid.UUID | None = None) -> OrderLine:
    return OrderLine(
        line_id=uuid.uuid4(),
        sku=sku,
        name=f"Товар {sku}",
        unit="шт",
        warehouse_id=warehouse,
        quantity=Decimal(quantity),
        price=Decimal(price),
        vat_rate=Decimal(vat),
    )


def by_number(documents: list[cml.CmlOrder]) -> dict[str, cml.CmlOrder]:
    return {doc.number: doc for doc in documents}


async def test_a_split_order_goes_to_the_erp_with_the_total_of_its_own_lines(db: Database, tmp_path: Path) -> None:
    """R-SPL-1, R-ERP-1: an order split into parts on confirmation: each part goes to 1C and to the JSON API
    with the total of the lines it kept (not the total of the order before the split)."""
    bridge = Bridge(db, tmp_path)
    await bridge.start()
    local = line("LOCAL", "5", "250")
    remote = [line("REMOTE-1", "3", "1000"), line("REMOTE-2", "1", "438")]
    order = await bridge.place([local, *remote])
    await bridge.status(order, OrderStatus.CONFIRMED)
    part = await bridge.split(order, remote)
    docs = by_number(await bridge.check_every_document())
    assert (docs["1001"].total, docs["1001-1"].total) == (Decimal(1250), Decimal(3438))
    assert [x.sku for x in docs["1001"].lines] == ["LOCAL"]
    items = {item["number"]: item for item in await bridge.json_orders()}
    assert (items["1001"]["total"], items["1001-1"]["total"]) == ("1250", "3438")
    assert part.number == "1001-1"


async def test_a_split_that_overtakes_its_confirmation_still_sends_the_order(db: Database, tmp_path: Path) -> None:
    """R-SPL-1, R-ERP-1: confirmation and split are published together on two topics; when the split (newer)
    is applied first, the older status change is dropped — the split's own status makes the order exportable."""
    bridge = Bridge(db, tmp_path)
    await bridge.start()
    local, remote = line("LOCAL", "5", "250"), line("REMOTE", "3", "1000")
    order = await bridge.place([local, remote])
    order.status = OrderStatus.CONFIRMED
    confirmed = OrderStatusChangedData(
        order_id=order.order_id,
        number=order.number,
        buyer_id=bridge.buyer,
        from_status=OrderStatus.NEW,
        to_status=OrderStatus.CONFIRMED,
        by_side=Side.SUPPLIER,
        lines=order.lines,
        changed_at=datetime.now(UTC),
    )
    late = make_event(
        OrderStatusChangedV1, tenant_id=bridge.tenant, aggregate_id=str(order.order_id), sequence=2, data=confirmed
    )
    order.sequence = 2
    await bridge.split(order, [remote])  # sequence 3 for the order, then its new part
    await bridge.apply(late)  # older than the split: changes nothing
    docs = by_number(await bridge.check_every_document())
    assert sorted(docs) == ["1001", "1001-1"] and docs["1001"].total == Decimal(1250)


async def test_a_line_cut_in_1c_is_not_sent_back_and_the_total_follows(db: Database, tmp_path: Path) -> None:
    """R-ERP-3, R-ERP-5: 1C cut a line to nothing; when the order goes back to 1C (the manager changed the shipment
    date) the cut line is left out — sent with Количество 0 it would re-add in 1C the line 1C removed — and the
    document's total is that of the lines sent."""
    bridge = Bridge(db, tmp_path)
    await bridge.start()
    kept, cut = line("KEPT", "12", "455"), line("CUT", "7", "657.2857")
    order = await bridge.place([kept, cut])
    await bridge.status(order, OrderStatus.CONFIRMED)
    (first,) = await bridge.check_every_document()
    assert first.total == Decimal("10061.00")

    await bridge.erp_cut(order, cut.line_id, Decimal(7))
    assert await bridge.exchange_1c() == []  # the ERP's own change is not sent back by itself
    await bridge.changed(order, "shipment_date", new=date(2026, 12, 10).isoformat())
    (again,) = await bridge.check_every_document()
    assert [x.sku for x in again.lines] == ["KEPT"] and again.total == Decimal("5460.00")
    (item,) = await bridge.json_orders()
    assert [x["sku"] for x in item["lines"]] == ["KEPT"] and item["total"] == "5460"


async def test_moves_copies_edits_and_shipments_keep_every_document_adding_up(db: Database, tmp_path: Path) -> None:
    """R-ED-1, R-SPL-1, R-ERP-1: lines moved and copied between parts, edited to amounts that round (0.5 × 0.25),
    cut partly by 1C, shipped in part and in whole: after each step every document adds up, VAT included."""
    bridge = Bridge(db, tmp_path)
    await bridge.start()
    a = await bridge.place([line("A", "0.5", "0.25"), line("B", "3", "0.335", "10"), line("C", "2", "99.99")])
    b = await bridge.place([line("D", "1", "1000", "0")])
    for order in (a, b):
        await bridge.status(order, OrderStatus.CONFIRMED)
    docs = by_number(await bridge.check_every_document())
    assert docs["1001"].lines[0].amount == Decimal("0.13")  # 0.125 rounds half-up, as in OMS

    await bridge.move(a, b, [a.lines[2]])
    await bridge.check_every_document()
    await bridge.move(b, a, [b.lines[0]], copy=True)
    await bridge.check_every_document()
    edited = [a.lines[0].model_copy(update={"quantity": Decimal("7"), "price": Decimal("1.115")}), *a.lines[1:]]
    await bridge.changed(a, "lines_edited", edited)
    docs = by_number(await bridge.check_every_document())
    assert docs["1001"].total == Decimal("7.81") + Decimal("1.01")  # the copy (quantity 0) is not sent yet
    filled = [*a.lines[:2], a.lines[2].model_copy(update={"quantity": Decimal(2)})]
    await bridge.changed(a, "lines_edited", filled)
    docs = by_number(await bridge.check_every_document())
    assert [x.sku for x in docs["1001"].lines] == ["A", "B", "D"]
    assert docs["1001"].total == Decimal("7.81") + Decimal("1.01") + Decimal(2000)

    await bridge.erp_cut(b, b.lines[1].line_id, Decimal(1))  # C: 2 → 1 in 1C
    await bridge.changed(b, "erp_applied", side=Side.ERP, shipment_number="РТУ-1", shipped="partly")  # shipped in part
    await bridge.changed(b, "comment", text="the rest on Monday")
    docs = by_number(await bridge.check_every_document())
    assert docs["1002"].total == Decimal(1000) + Decimal("99.99")
    await bridge.status(a, OrderStatus.SHIPPED)
    assert [doc.number for doc in await bridge.check_every_document()] == ["1001"]


operations = st.sampled_from(["edit", "add", "delete", "split", "move", "copy", "erp_cut", "date", "ship", "exchange"])
quantities = st.decimals(min_value=Decimal("0.001"), max_value=500, places=3)
prices = st.decimals(min_value=0, max_value=10_000, places=4)
rates = st.sampled_from(["0", "10", "20"])


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_every_document_adds_up_whatever_the_order_went_through(
    db: Database, tmp_path: Path, data: st.DataObject
) -> None:
    """R-ERP-1, R-ERP-7: a random sequence of order changes (edits, additions, deletions, splits, moves, copies,
    ERP cuts, shipment dates, shipments) and exchanges: every 1C and JSON document produced has the lines the
    order has (without lines cut to nothing), its total is their sum and its VAT their VAT."""
    bridge = Bridge(db, tmp_path)
    await bridge.start()

    def new_line(sku: str) -> OrderLine:
        return line(sku, str(data.draw(quantities)), str(data.draw(prices)), data.draw(rates))

    skus = iter(f"SKU-{n}" for n in range(1000))
    for _ in range(data.draw(st.integers(1, 2))):
        order = await bridge.place([new_line(next(skus)) for _ in range(data.draw(st.integers(1, 4)))])
        await bridge.status(order, OrderStatus.CONFIRMED)
    for step in data.draw(st.lists(operations, min_size=1, max_size=12)):
        open_orders = [o for o in bridge.orders.values() if o.status == OrderStatus.CONFIRMED]
        if not open_orders:
            break
        order = data.draw(st.sampled_from(open_orders))
        lines = order.lines
        if step == "edit" and lines:
            index = data.draw(st.integers(0, len(lines) - 1))
            new = lines[index].model_copy(update={"quantity": data.draw(quantities), "price": data.draw(prices)})
            await bridge.changed(order, "lines_edited", [*lines[:index], new, *lines[index + 1 :]])
        elif step == "add":
            await bridge.changed(order, "lines_edited", [*lines, new_line(next(skus))])
        elif step == "delete" and len(lines) > 1:
            index = data.draw(st.integers(0, len(lines) - 1))
            await bridge.changed(order, "lines_edited", lines[:index] + lines[index + 1 :])
        elif step == "split" and len(lines) > 1:
            await bridge.split(order, lines[data.draw(st.integers(1, len(lines) - 1)) :])
        elif step in ("move", "copy") and lines and len(open_orders) > 1:
            target = data.draw(st.sampled_from([o for o in open_orders if o is not order]))
            moved = lines[data.draw(st.integers(0, len(lines) - 1)) :]
            if step == "copy" or len(moved) < len(lines):
                await bridge.move(order, target, moved, copy=step == "copy")
        elif step == "erp_cut" and lines:
            cut = data.draw(st.sampled_from(lines))
            await bridge.erp_cut(order, cut.line_id, data.draw(st.sampled_from([cut.quantity, cut.quantity / 2])))
        elif step == "date":
            await bridge.changed(order, "shipment_date", new=data.draw(st.dates()).isoformat())
        elif step == "ship":
            side = data.draw(st.sampled_from([Side.SUPPLIER, Side.ERP]))
            if data.draw(st.booleans()):
                await bridge.status(order, OrderStatus.SHIPPED, side)
            else:  # shipped in part: 1C says so; the lines stay as ordered
                await bridge.changed(order, "erp_applied", side=Side.ERP, shipment_number=f"РТУ-{order.number}")
        elif step == "exchange":
            bridge.check_1c(await bridge.exchange_1c(data.draw(st.sampled_from(["utf-8", "windows-1251"]))))
    await bridge.check_every_document()
    assert bridge.documents > 0


async def test_through_the_broker_a_split_and_a_cut_reach_1c_and_the_json_api_adding_up(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-ERP-1, R-ERP-7, R-SPL-1: on the real broker, an order confirmed with lines in two warehouses splits into
    1003 and 1003-1; later 1C cuts a line of 1003-1 and the manager changes its shipment date. The JSON API and
    1C's ``mode=query`` give each part the total and VAT of its own lines, and the cut line is not sent back."""
    tenant, buyer = uuid.uuid4(), uuid.uuid4()
    owner = token_for(keys[0], account_id=tenant)
    local, remote = line("LOCAL", "5", "250"), [line("REMOTE-1", "3", "1000"), line("REMOTE-2", "1", "438")]
    root = SaleOrder(tenant, "1003", buyer, [local, *remote])
    part = SaleOrder(tenant, "1003-1", buyer, remote)

    def changed(order: SaleOrder, sequence: int, kind: str, lines: list[OrderLine] | None, **extra: Any) -> Event:
        side = extra.pop("side", Side.SUPPLIER)
        data = OrderChangedData(
            order_id=order.order_id,
            number=order.number,
            buyer_id=buyer,
            kind=kind,
            status=OrderStatus.CONFIRMED,
            by_side=side,
            lines=lines,
            attributes=extra,
            changed_at=datetime.now(UTC),
        )
        return make_event(
            OrderChangedV1, tenant_id=tenant, aggregate_id=str(order.order_id), sequence=sequence, data=data
        )

    async with running_service(sale_app(database_url, tmp_path, service_env)) as client:
        login = await sale_connect(client, owner)
        split_part = sale_placed(part, OrderStatus.CONFIRMED)
        await sale_publish(
            kafka,
            sale_buyer_updated(tenant, buyer, "ООО «Ромашка»", "7707083893"),
            sale_placed(root),
            sale_status_changed(root, OrderStatus.CONFIRMED),
            split_part,
            changed(root, 3, "split", [local], related=str(part.order_id)),
        )

        async def split_applied() -> dict[str, dict[str, Any]]:
            found = {i["number"]: i for i in await sale_wait_pending(client, owner, {"1003", "1003-1"})}
            assert [x["sku"] for x in found["1003"]["lines"]] == ["LOCAL"], found  # the split arrived
            return found

        items = await eventually(split_applied)
        assert (items["1003"]["total"], items["1003"]["vat_amount"]) == ("1250", "208.33")
        assert (items["1003-1"]["total"], items["1003-1"]["vat_amount"]) == ("3438", "573")

        onec = SaleOneC(client, login)
        await onec.start()
        documents = cml.parse_orders(cml.load((await onec.request("query")).content))
        sums = {doc.number: (doc.total, doc.vat_amount) for doc in documents}
        assert sums == {"1003": (Decimal(1250), Decimal("208.33")), "1003-1": (Decimal(3438), Decimal("573.00"))}
        assert (await onec.call("success"))[0] == "success"

        cut = [remote[0], remote[1].model_copy(update={"quantity": Decimal(0)})]
        await sale_publish(
            kafka,
            changed(part, 2, "erp_applied", cut, side=Side.ERP, erp_document_id="УТ-77"),
            changed(part, 3, "shipment_date", None, new="2026-12-10"),
        )
        (item,) = await sale_wait_pending(client, owner, {"1003-1"})
        assert [x["sku"] for x in item["lines"]] == ["REMOTE-1"] and item["total"] == "3000"
        (document,) = cml.parse_orders(cml.load((await onec.request("query")).content))
        assert [x.sku for x in document.lines] == ["REMOTE-1"] and document.total == Decimal(3000)
        assert document.vat_amount == Decimal("500.00")
