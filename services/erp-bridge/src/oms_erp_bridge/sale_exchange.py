"""The orders channel of the 1C exchange (``type=sale``): our orders to 1C, and 1C's changes back (R-ERP-1, 3, 5, 6).

``mode=query`` answers an XML document with EVERY order waiting for the ERP (never a page of them, pitfall 4)
and remembers, in the session, which version of each was sent; only ``mode=success`` marks exactly those as
taken, so an exchange that breaks off sends them again next time, and a change made after the query stays
pending. 1C then uploads its own orders document (``mode=file``, in pieces, then ``mode=import`` — or nothing
more in the old protocol, so a file that is complete is imported at once). Each of its order documents is
matched to ours by ``Ид`` (our order id) or ``Номер`` (our number), compared with what we know, and turned into
one ``erp.order_changed`` event: the ERP wins (R-ERP-3). Documents whose ``НомерВерсии`` was applied already
change nothing, so a repeated exchange publishes nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_erp_bridge import cml, orders_out
from oms_erp_bridge.cml import CmlError, CmlOrder, CmlOrderLine
from oms_erp_bridge.cml.loader import ROOT
from oms_erp_bridge.db import files, orders, sessions
from oms_erp_bridge.protocol import Answer, Context, ExchangeFailure, log_call
from oms_shared.contracts import ErpLineChange, ErpOrderChangedData, ErpOrderChangedV1, OrderStatus, make_event
from oms_shared.db import Tx, utcnow

CENT = Decimal("0.01")
ENCODINGS: dict[str, cml.Encoding] = {"utf-8": "utf-8", "windows-1251": "windows-1251"}
# A whole document ends with the root's closing tag (maybe prefixed), in UTF-8 or in windows-1251.
WHOLE = [
    re.compile(rb"</(?:[^<>/:\s]+:)?" + re.escape(ROOT.encode(code)) + rb"\s*>\s*\Z") for code in ("utf-8", "cp1251")
]
LINE_CANCELLED = ("Отменено", "Отменена", "Отменен")  # a line marked cancelled in 1C (the guide's "Отклонен")
CLOSED = {OrderStatus.REJECTED.value, OrderStatus.CANCELLED.value}
TAIL = 400  # bytes read after each piece to see whether the document is complete
MAX_NOTES = 60  # lines of detail shown to the 1C user per answer


# --- mode=query / mode=success ------------------------------------------------------------------------------


async def query(ctx: Context) -> Answer | Response:
    """Every order waiting for the ERP, oldest first, as a CommerceML document in the connection's encoding."""
    encoding = ENCODINGS.get(str(ctx.connection.encoding).lower(), "utf-8")
    async with ctx.db.read() as conn:
        found = await orders_out.load_orders(conn, ctx.tenant_id, pending_only=True)
    try:
        body = cml.write_orders([order.to_cml() for order in found], encoding=encoding, generated_at=utcnow())
    except CmlError as exc:
        reason = f"the orders document cannot be built: {exc}"
        await _log(ctx, "sale.query", "failure", reason)
        return Answer("failure", reason)
    sent = {order.order_id: order.version for order in found}
    async with ctx.db.transaction() as tx:
        await tx.conn.execute(
            sessions.update().where(sessions.c.id == ctx.session_id).values(query_snapshot=json.dumps(sent))
        )
    numbers = ", ".join(order.number for order in found[:MAX_NOTES]) + (", …" if len(found) > MAX_NOTES else "")
    await _log(ctx, "sale.query", "success", f"{len(found)} orders" + (f": {numbers}" if found else ""))
    return Response(content=body, media_type=f"application/xml; charset={encoding}")


async def success(ctx: Context) -> Answer:
    """1C stored what the last query of this session sent: exactly those versions are taken, nothing newer."""
    async with ctx.db.transaction() as tx:
        raw = await tx.conn.scalar(sa.select(sessions.c.query_snapshot).where(sessions.c.id == ctx.session_id))
        sent: dict[str, int] = json.loads(raw) if raw else {}
        if not sent:
            return Answer("success", "nothing to confirm: no orders were sent in this exchange session")
        await orders_out.mark_taken(tx.conn, ctx.tenant_id, sent, utcnow())
        await tx.conn.execute(sessions.update().where(sessions.c.id == ctx.session_id).values(query_snapshot=None))
        changed_since = await orders_out.still_pending(tx.conn, ctx.tenant_id, sent)
    text = f"{len(sent)} orders taken by 1C"
    if changed_since:
        text += f"; changed since the query, to be sent again: {', '.join(changed_since[:MAX_NOTES])}"
    return Answer("success", text)


# --- mode=file / mode=import --------------------------------------------------------------------------------


async def file_received(ctx: Context, row: Any) -> Answer:
    """After each piece: a file that is a whole document now is imported at once (the old protocol has no import)."""
    if not _looks_whole(await _read(ctx, row, tail=TAIL)):
        return Answer("success", f"{row.filename}: received {row.size} bytes")
    answer = await import_file(ctx, row)
    steps = [answer.text]
    while answer.status == "progress":  # 1C does not repeat mode=file: do every step now
        row = await _file(ctx, row.id)
        answer = await import_file(ctx, row)
        steps.append(answer.text)
    answer = Answer(answer.status, "\n".join(steps))
    await _log(ctx, "sale.import", answer.status, answer.text, filename=row.filename)
    return answer


async def import_file(ctx: Context, row: Any) -> Answer:
    """Apply 1C's orders document, ``import_batch`` documents per call (``progress`` until done); idempotent."""
    if row.outcome == "success":
        return Answer("success", f"imported already: {row.detail}")
    try:
        documents = await _documents(ctx, row)
    except CmlError as exc:
        reason = f"{row.filename}: {exc}"
        await _finish_failed(ctx, row, reason)
        return Answer("failure", reason)
    start = min(row.cursor, len(documents))
    end = min(start + max(ctx.settings.import_batch, 1), len(documents))
    async with ctx.db.read() as conn:
        sku_of = await orders_out.skus_of(
            conn, ctx.tenant_id, [line.product_erp_id for doc in documents[start:end] for line in doc.lines]
        )
    status_map = _status_map(ctx.connection.status_map)
    report = _Report()
    try:
        async with ctx.db.transaction() as tx:
            for document in documents[start:end]:
                await _apply(tx, ctx.tenant_id, document, status_map, sku_of, report)
            done = end >= len(documents)
            text = report.text(row.filename, start, end, len(documents))
            await _finish(tx, row, start, end, len(documents), done, text)
    except _Busy:
        return Answer("progress", f"{row.filename}: another call is importing this file; repeat")
    return Answer("success" if done else "progress", text)


# --- reading the file ----------------------------------------------------------------------------------------


async def _read(ctx: Context, row: Any, *, tail: int | None = None) -> bytes:
    """The file's bytes (only its last ``tail`` bytes when given)."""
    path = ctx.path_of(row.filename)

    def read() -> bytes:
        with path.open("rb") as fh:
            if tail is not None:
                fh.seek(max(path.stat().st_size - tail, 0))
            return fh.read()

    try:
        return await asyncio.to_thread(read)
    except OSError as exc:
        raise ExchangeFailure(f"{row.filename} cannot be read ({exc.strerror}); send it again") from exc


def _looks_whole(tail: bytes) -> bool:
    """Whether the pieces so far end the document (a piece boundary inside it never ends with the root's end tag)."""
    return any(pattern.search(tail) for pattern in WHOLE)


async def _documents(ctx: Context, row: Any) -> list[CmlOrder]:
    """The order documents of the file; ``CmlError`` when it is malformed or not an orders document."""
    root = cml.load(await _read(ctx, row), max_bytes=ctx.settings.max_file_bytes)
    kind = cml.kind_of(root)
    if kind == "unknown" and len(root) == 0:
        return []  # an orders document without documents: 1C has nothing to tell
    if kind != "orders":
        raise CmlError(f"this is not an orders document (its content is {kind}); send catalog files with type=catalog")
    return cml.parse_orders(root)


async def _file(ctx: Context, file_id: int) -> Any:
    async with ctx.db.read() as conn:
        return (await conn.execute(sa.select(files).where(files.c.id == file_id))).one()


class _Busy(Exception):
    """Another call moved the file's cursor first: this call's work is rolled back."""


async def _finish(tx: Tx, row: Any, start: int, end: int, total: int, done: bool, text: str) -> None:
    moved = await tx.conn.execute(
        files.update()
        .where(
            files.c.id == row.id,
            files.c.cursor == start,
            sa.or_(files.c.outcome.is_(None), files.c.outcome != "success"),
        )
        .values(kind="orders", cursor=end, total=total, outcome="success" if done else None, detail=text[:4000])
    )
    if not moved.rowcount:
        raise _Busy()


async def _finish_failed(ctx: Context, row: Any, reason: str) -> None:
    async with ctx.db.transaction() as tx:
        await tx.conn.execute(
            files.update()
            .where(files.c.id == row.id, sa.or_(files.c.outcome.is_(None), files.c.outcome != "success"))
            .values(outcome="failure", detail=reason[:4000])
        )


# --- one document ---------------------------------------------------------------------------------------------


@dataclass
class _Report:
    applied: int = 0
    unchanged: int = 0
    unknown: int = 0
    skipped: int = 0
    notes: list[str] = field(default_factory=list)

    def text(self, filename: str, start: int, end: int, total: int) -> str:
        if total == 0:
            return f"{filename}: no documents"
        head = (
            f"{filename}: documents {start + 1}-{end} of {total}: {self.applied} applied, "
            f"{self.unchanged} unchanged, {self.unknown} unknown, {self.skipped} skipped"
        )
        more = [f"… {len(self.notes) - MAX_NOTES} more"] if len(self.notes) > MAX_NOTES else []
        return "\n".join([head, *self.notes[:MAX_NOTES], *more])


async def _apply(
    tx: Tx,
    tenant_id: str,
    document: CmlOrder,
    status_map: Mapping[str, OrderStatus],
    sku_of: Mapping[str, str],
    report: _Report,
) -> None:
    name = f"Номер {document.number!r} (Ид {document.erp_id!r})"
    if not document.is_order:
        report.skipped += 1
        report.notes.append(f"{name}: {document.operation or 'no ХозОперация'} is not an order, skipped")
        return
    ours = await _find(tx.conn, tenant_id, document)
    if ours is None:
        report.unknown += 1
        report.notes.append(f"{name}: no such order in OMS, skipped")
        return
    key = version_key(document)
    if ours.erp_version == key:
        report.unchanged += 1
        return
    data, notes = order_change(document, ours, status_map, sku_of)
    stored = await tx.conn.execute(
        orders.update()
        .where(orders.c.order_id == ours.order_id, orders.c.erp_version != key)
        .values(erp_number=data.erp_document_id[:100], erp_version=key)
    )
    if not stored.rowcount or _changes_nothing(data):
        report.unchanged += 1
        if stored.rowcount and notes:
            report.notes.append(f"order {ours.number}: " + "; ".join(notes))
        return
    if ours.version > ours.exported_version:
        # Both sides changed the order since 1C last took it: the ERP wins (R-ERP-3); OMS's version stays pending.
        taken = f"version {ours.version}, 1C took {ours.exported_version}"
        notes.insert(0, f"changed in OMS too ({taken}): 1C's document wins")
        data = data.model_copy(update={"comment": f"1C document {data.erp_document_id} wins over changes made in OMS"})
    await tx.publish(
        make_event(
            ErpOrderChangedV1,
            tenant_id=uuid.UUID(tenant_id),
            aggregate_id=ours.order_id,
            data=data,
            producer="erp-bridge",
        )
    )
    report.applied += 1
    report.notes.append(f"order {ours.number} (1C {data.erp_document_id}): " + ("; ".join(notes) or "updated"))


async def _find(conn: AsyncConnection, tenant_id: str, document: CmlOrder) -> Any:
    """Our order by ``Ид`` (our order id), else by ``Номер`` (our number), in this tenant only."""
    if document.erp_id:
        query = sa.select(orders).where(orders.c.tenant_id == tenant_id, orders.c.order_id == document.erp_id)
        row = (await conn.execute(query)).first()
        if row is not None:
            return row
    if document.number:
        query = (
            sa.select(orders)
            .where(orders.c.tenant_id == tenant_id, orders.c.number == document.number)
            .order_by(orders.c.created_at)
            .limit(1)
        )
        return (await conn.execute(query)).first()
    return None


def version_key(document: CmlOrder) -> str:
    """``НомерВерсии``, or a fingerprint of the document when 1C sends none (so a repeat is still recognised)."""
    if document.version:
        return document.version[:100]
    return "sha256:" + hashlib.sha256(repr(document).encode("utf-8")).hexdigest()[:48]


def _status_map(raw: str | None) -> dict[str, OrderStatus]:
    table: dict[str, OrderStatus] = {}
    for text, status in (json.loads(raw) if raw else {}).items():
        try:
            table[str(text).strip().casefold()] = OrderStatus(status)
        except ValueError:
            continue
    return table


def _status(
    document: CmlOrder, ours_status: str, status_map: Mapping[str, OrderStatus]
) -> tuple[OrderStatus | None, str]:
    """The state from 1C's flags first; free-text statuses only through the connection's table."""
    if document.deletion_mark or document.cancelled:
        if ours_status in CLOSED:  # cancelled by the buyer or rejected already: nothing to move
            return None, ""
        return OrderStatus.REJECTED, "cancelled in 1C"
    if document.shipped:
        return OrderStatus.SHIPPED, "shipped in 1C"
    for text in (document.status_text, document.status_id):
        status = status_map.get(text.strip().casefold()) if text else None
        if status is not None:
            return status, f"1C status {text!r}"
    if document.status_text:
        return None, f"1C status {document.status_text!r} is not in the status map: status unchanged"
    return None, ""


def order_change(
    document: CmlOrder, ours: Any, status_map: Mapping[str, OrderStatus], sku_of: Mapping[str, str]
) -> tuple[ErpOrderChangedData, list[str]]:
    """What 1C's document changes in our order (a row of ``erp_orders``), and the same in words."""
    notes: list[str] = []
    status, said = _status(document, ours.status, status_map)
    if status is not None and status.value == ours.status:
        status = None
    elif status is not None:
        notes.append(f"status {ours.status} → {status.value} ({said})")
    elif said:
        notes.append(said)
    lines: list[ErpLineChange] = []
    if document.has_lines:
        snapshot = json.loads(ours.snapshot)
        lines, line_notes = diff_lines(_our_lines(snapshot.get("lines", [])), _their_lines(document.lines, sku_of))
        notes.extend(line_notes)
    paid = document.total if document.paid and document.total is not None else None
    if paid is not None:
        notes.append(f"paid {orders_out.dec(paid)}")
    shipment_date = document.shipment_date.date() if document.shipment_date is not None else None
    if shipment_date is not None:
        notes.append(f"shipment date {shipment_date.isoformat()}")
    data = ErpOrderChangedData(
        order_id=uuid.UUID(ours.order_id),
        erp_document_id=(document.number_1c or document.erp_id).strip(),
        status=status,
        lines=lines,
        shipment_date=shipment_date,
        paid_amount=paid,
        comment=f"1C: {document.status_text}" if status is not None and document.status_text else "",
    )
    return data, notes


def _changes_nothing(data: ErpOrderChangedData) -> bool:
    """Nothing for orders to apply (the 1C number alone is kept here, in ``erp_orders``)."""
    return data.status is None and not data.lines and data.shipment_date is None and data.paid_amount is None


# --- lines ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OurLine:
    line_id: str
    sku: str
    quantity: Decimal
    price: Decimal
    vat_rate: Decimal


@dataclass
class TheirLine:
    """1C's lines of one SKU, summed: quantity in base units, and the amount with VAT of the priced quantity."""

    sku: str
    quantity: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)
    priced_quantity: Decimal = Decimal(0)
    vat_rate: Decimal | None = None

    @property
    def price(self) -> Decimal | None:
        """Per base unit, VAT included, after 1C's discounts (from the amounts, not the list price)."""
        if not self.priced_quantity:
            return None
        return (self.gross / self.priced_quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def _our_lines(raw: Sequence[Mapping[str, Any]]) -> list[OurLine]:
    return [
        OurLine(
            line_id=str(item.get("line_id", "")),
            sku=str(item.get("sku", "")),
            quantity=orders_out.as_decimal(item.get("quantity"), Decimal(0)) or Decimal(0),
            price=orders_out.as_decimal(item.get("price"), Decimal(0)) or Decimal(0),
            vat_rate=orders_out.as_decimal(item.get("vat_rate"), Decimal(0)) or Decimal(0),
        )
        for item in raw
    ]


def _cancelled(line: CmlOrderLine) -> bool:
    for name in LINE_CANCELLED:
        try:
            if cml.parse_bool(line.requisites.get(name)):
                return True
        except CmlError:
            continue
    return False


def _gross(line: CmlOrderLine) -> Decimal:
    """The line's amount with VAT: 1C adds the VAT on top when ``УчтеноВСумме`` is false."""
    if line.vat_included is not False:
        return line.amount
    if line.vat_amount is not None:
        return line.amount + line.vat_amount
    return line.amount * (1 + (line.vat_rate or Decimal(0)) / 100)


def _their_lines(lines: Sequence[CmlOrderLine], sku_of: Mapping[str, str]) -> dict[str, TheirLine]:
    """1C's goods lines by our SKU (1C product id → SKU, else ``Артикул``, else the product id); services skipped."""
    found: dict[str, TheirLine] = {}
    for line in lines:
        if line.is_service:
            continue
        sku = sku_of.get(line.product_erp_id) or line.sku or line.product_erp_id
        if not sku:
            continue
        item = found.setdefault(sku, TheirLine(sku))
        quantity = Decimal(0) if _cancelled(line) else line.quantity * (line.unit_factor or Decimal(1))
        item.quantity += quantity
        if quantity > 0:
            item.gross += _gross(line)
            item.priced_quantity += quantity
        if item.vat_rate is None:
            item.vat_rate = line.vat_rate
    return found


def diff_lines(ours: Sequence[OurLine], theirs: Mapping[str, TheirLine]) -> tuple[list[ErpLineChange], list[str]]:
    """1C sends its whole current line list: a missing line or a smaller quantity is cancelled (R-ERP-5), a larger
    quantity, another price or VAT rate is taken, a line we do not have is added."""
    by_sku: dict[str, list[OurLine]] = {}
    for line in ours:
        by_sku.setdefault(line.sku, []).append(line)
    changes: list[ErpLineChange] = []
    notes: list[str] = []
    for sku, lines in by_sku.items():
        their = theirs.get(sku)
        fields: dict[str, dict[str, Decimal]] = {line.line_id: {} for line in lines}
        have = sum((line.quantity for line in lines), Decimal(0))
        want = their.quantity if their is not None else Decimal(0)
        if want < have:
            notes.append(f"{sku}: {orders_out.dec(have - want)} cancelled" + ("" if their else " (line removed)"))
            remaining = have - want
            for line in reversed(lines):  # the last lines give up their quantity first
                cut = min(line.quantity, remaining)
                if cut > 0:
                    fields[line.line_id]["cancelled_quantity"] = cut
                    remaining -= cut
        elif want > have:
            notes.append(f"{sku}: quantity {orders_out.dec(have)} → {orders_out.dec(want)}")
            fields[lines[0].line_id]["quantity"] = lines[0].quantity + want - have
        price = their.price if their is not None else None
        rate = their.vat_rate if their is not None else None
        said: set[str] = set()
        for line in lines:
            if price is not None and abs(price - line.price) >= CENT:
                fields[line.line_id]["price"] = price
                said.add(f"{sku}: price {orders_out.dec(line.price)} → {orders_out.dec(price)}")
            if rate is not None and rate != line.vat_rate:
                fields[line.line_id]["vat_rate"] = rate
                said.add(f"{sku}: VAT {orders_out.dec(line.vat_rate)}% → {orders_out.dec(rate)}%")
        notes.extend(sorted(said))
        for line in lines:
            change = fields[line.line_id]
            if change:
                changes.append(
                    ErpLineChange(
                        line_id=_uuid(line.line_id),
                        sku=sku,
                        quantity=change.get("quantity"),
                        price=change.get("price"),
                        vat_rate=change.get("vat_rate"),
                        cancelled_quantity=change.get("cancelled_quantity"),
                    )
                )
    for sku, their in theirs.items():
        if sku not in by_sku and their.quantity > 0:
            changes.append(
                ErpLineChange(
                    line_id=None, sku=sku, quantity=their.quantity, price=their.price, vat_rate=their.vat_rate
                )
            )
            notes.append(f"{sku}: added, {orders_out.dec(their.quantity)}")
    return changes, notes


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # orders then matches the line by SKU


async def _log(ctx: Context, kind: str, outcome: str, detail: str, *, filename: str | None = None) -> None:
    await log_call(
        ctx.db,
        tenant_id=ctx.tenant_id,
        kind=kind,
        outcome=outcome,
        detail=detail,
        session_id=ctx.session_id,
        filename=filename,
    )
