"""The orders channel of the 1C exchange (``type=sale``): our orders to 1C, and 1C's changes back (R-ERP-1, 3, 5, 6).

``mode=query`` answers an XML document with EVERY order waiting for the ERP (never a page of them, pitfall 4)
and remembers, in the session, which version of each was sent; only ``mode=success`` marks exactly those as
taken, so an exchange that breaks off sends them again next time, and a change made after the query stays
pending. 1C then uploads its own orders document (``mode=file``, in pieces, then ``mode=import`` — or nothing
more in the old protocol, so a file that is complete is imported at once). Each of its order documents is
matched to ours by ``Ид`` (our order id) or ``Номер`` (our number), compared with what we know (``sale_diff``)
and turned into one ``erp.order_changed`` event: the ERP wins (R-ERP-3). Payment and shipment documents are read
with the order they belong to (its ``Контейнер``, or ``Основание``): paid amount and shipped quantities per line;
one that came without its order is reported and skipped. Documents whose version (``НомерВерсии``, else a
fingerprint, together with their payments' and shipments') was applied already change nothing, so a repeated
exchange publishes nothing twice.

Nothing slow runs on the event loop: 1C's file is read and parsed once, in a worker thread, and the parsed documents
are kept for the next ``import_batch`` steps of the same file (the file's path, size and mtime are the key); the
``mode=query`` document is built in a worker thread too. Once a file is imported whole it is deleted from the
session's directory (its outcome stays in the database, so a repeated call answers the same).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_erp_bridge import cml, orders_out
from oms_erp_bridge.cml import CmlError, CmlOrder
from oms_erp_bridge.cml.loader import ROOT
from oms_erp_bridge.db import files, orders, sessions
from oms_erp_bridge.protocol import Answer, Context, ExchangeFailure, log_call
from oms_erp_bridge.sale_diff import (
    RelatedIndex,
    changes_nothing,
    order_change,
    parse_status_map,
    related_documents,
    version_key,
)
from oms_shared.contracts import ErpOrderChangedV1, OrderStatus, make_event
from oms_shared.db import Tx, utcnow

ENCODINGS: dict[str, cml.Encoding] = {"utf-8": "utf-8", "windows-1251": "windows-1251"}
# A whole document ends with the root's closing tag (maybe prefixed), in UTF-8 or in windows-1251.
WHOLE = [
    re.compile(rb"</(?:[^<>/:\s]+:)?" + re.escape(ROOT.encode(code)) + rb"\s*>\s*\Z") for code in ("utf-8", "cp1251")
]
TAIL = 400  # bytes read after each piece to see whether the document is complete
MAX_NOTES = 60  # lines of detail shown to the 1C user per answer
KEEP_PARSED = 2  # parsed files kept for the next steps of their import (the newest ones)


# --- mode=query / mode=success ------------------------------------------------------------------------------


async def query(ctx: Context) -> Answer | Response:
    """Every order waiting for the ERP, oldest first, as a CommerceML document in the connection's encoding."""
    encoding = ENCODINGS.get(str(ctx.connection.encoding).lower(), "utf-8")
    async with ctx.db.read() as conn:
        found = await orders_out.load_orders(conn, ctx.tenant_id, pending_only=True)
    try:
        body = await asyncio.to_thread(_orders_document, found, str(ctx.connection.timezone), encoding)
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


def _orders_document(found: Sequence[Any], timezone: str, encoding: cml.Encoding) -> bytes:
    """The CommerceML document of ``found`` (in a worker thread: thousands of orders take a while)."""
    zone = ZoneInfo(timezone)
    orders_xml = [order.to_cml(zone) for order in found]
    return cml.write_orders(orders_xml, encoding=encoding, generated_at=utcnow().astimezone(zone))


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
    by_basis = RelatedIndex.of(documents)
    related = {
        index: related_documents(document, by_basis)
        for index, document in enumerate(documents[start:end], start)
        if document.is_order
    }
    product_ids = [line.product_erp_id for doc in documents[start:end] for line in doc.lines]
    product_ids += [line.product_erp_id for docs in related.values() for doc in docs for line in doc.lines]
    async with ctx.db.read() as conn:
        sku_of = await orders_out.skus_of(conn, ctx.tenant_id, product_ids)
    status_map = parse_status_map(ctx.connection.status_map)
    order_names = {
        name.strip() for doc in documents if doc.is_order for name in (doc.erp_id, doc.number, doc.number_1c)
    } - {""}
    report = _Report()
    try:
        async with ctx.db.transaction() as tx:
            for index, document in enumerate(documents[start:end], start):
                if document.is_order:
                    await _apply(tx, ctx.tenant_id, document, status_map, sku_of, report, related[index])
                else:
                    _skip(document, order_names, report)
            done = end >= len(documents)
            text = report.text(row.filename, start, end, len(documents))
            await _finish(tx, row, start, end, len(documents), done, text)
    except _Busy:
        return Answer("progress", f"{row.filename}: another call is importing this file; repeat")
    if done:
        await asyncio.to_thread(drop_file, ctx.path_of(row.filename))
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


_parsed: OrderedDict[tuple[str, int, int], list[CmlOrder]] = OrderedDict()
_parsed_lock = threading.Lock()


async def _documents(ctx: Context, row: Any) -> list[CmlOrder]:
    """The order documents of the file; ``CmlError`` when it is malformed or not an orders document."""
    return await asyncio.to_thread(parse_file, ctx.path_of(row.filename), ctx.settings.max_file_bytes)


def parse_file(path: Path, max_bytes: int) -> list[CmlOrder]:
    """Read and parse an orders file once (blocking: call it in a worker thread); the next steps of its import
    get the same documents as long as the file is unchanged."""
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            raise CmlError(f"the file is {stat.st_size} bytes, more than the {max_bytes} bytes allowed")
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with _parsed_lock:
            if key in _parsed:
                _parsed.move_to_end(key)
                return _parsed[key]
        data = path.read_bytes()
    except OSError as exc:
        raise ExchangeFailure(f"{path.name} cannot be read ({exc.strerror}); send it again") from exc
    root = cml.load(data, max_bytes=max_bytes)
    del data
    kind = cml.kind_of(root)
    if kind == "unknown" and len(root) == 0:
        documents: list[CmlOrder] = []  # an orders document without documents: 1C has nothing to tell
    elif kind != "orders":
        raise CmlError(f"this is not an orders document (its content is {kind}); send catalog files with type=catalog")
    else:
        documents = cml.parse_orders(root)
    with _parsed_lock:
        _parsed[key] = documents
        while len(_parsed) > KEEP_PARSED:
            _parsed.popitem(last=False)
    return documents


def drop_file(path: Path) -> None:
    """Forget an imported file: its parsed documents and its bytes on disk."""
    with _parsed_lock:
        for key in [key for key in _parsed if key[0] == str(path)]:
            del _parsed[key]
    path.unlink(missing_ok=True)


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


def _skip(document: CmlOrder, order_names: set[str], report: _Report) -> None:
    """A document that is not an order: a payment or shipment is read with its order, anything else is skipped."""
    name = f"Номер {document.number!r} (Ид {document.erp_id!r})"
    if document.is_payment or document.is_refund or document.is_shipment:
        if document.basis in order_names:
            return  # read with its order document
        report.skipped += 1
        basis = f" (Основание {document.basis!r})" if document.basis else ""
        report.notes.append(f"{name}: {document.operation} came without its order document{basis}, skipped")
        return
    report.skipped += 1
    report.notes.append(f"{name}: {document.operation or 'no ХозОперация'} is not an order, skipped")


async def _apply(
    tx: Tx,
    tenant_id: str,
    document: CmlOrder,
    status_map: Mapping[str, OrderStatus],
    sku_of: Mapping[str, str],
    report: _Report,
    related: list[CmlOrder],
) -> None:
    name = f"Номер {document.number!r} (Ид {document.erp_id!r})"
    ours = await _find(tx.conn, tenant_id, document)
    if ours is None:
        report.unknown += 1
        report.notes.append(f"{name}: no such order in OMS, skipped")
        return
    key = version_key(document, related)
    if ours.erp_version == key:
        report.unchanged += 1
        return
    data, notes = order_change(document, ours, status_map, sku_of, related)
    stored = await tx.conn.execute(
        orders.update()
        .where(orders.c.order_id == ours.order_id, orders.c.erp_version != key)
        .values(
            erp_number=data.erp_document_id[:100],
            erp_version=key,
            erp_status_text=document.status_text.strip()[:200] or ours.erp_status_text,
        )
    )
    if not stored.rowcount or changes_nothing(data):
        report.unchanged += 1
        if stored.rowcount and notes:
            report.notes.append(f"order {ours.number}: " + "; ".join(notes))
        return
    if ours.version > ours.exported_version:
        # Both sides changed the order since 1C last took it: the ERP wins (R-ERP-3); OMS's version stays pending.
        taken = f"version {ours.version}, 1C took {ours.exported_version}"
        notes.insert(0, f"changed in OMS too ({taken}): 1C's document wins")
        conflict = f"OMS {taken}: 1C document {data.erp_document_id} wins over the changes made in OMS"
        data = data.model_copy(update={"conflict": conflict})
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
