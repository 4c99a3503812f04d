"""Comments (R-CM-1) and documents (R-CM-2) on an order, for the two parties only."""

from __future__ import annotations

import mimetypes
import uuid
from typing import Any

import sqlalchemy as sa

from oms_orders import domain
from oms_orders.db import comments, documents
from oms_orders.handlers.changes import publish_changed
from oms_orders.handlers.common import iso, order_for, side_of, user_names
from oms_orders.handlers.orders import bump
from oms_orders.storage import FileStorage
from oms_shared.auth import Principal
from oms_shared.db import Database, utcnow
from oms_shared.errors import NotFound, OmsError


class TooLarge(OmsError):
    status = 413
    code = "file_too_large"


def _require_comment_rights(principal: Principal) -> None:
    # R-ACC-2: a supplier's employee needs at least "change" on both buyers and orders to comment.
    if principal.is_supplier:
        principal.require("buyers", "change")
        principal.require("orders", "change")


async def add_comment(db: Database, principal: Principal, order_id: uuid.UUID, text: str) -> dict[str, Any]:
    _require_comment_rights(principal)
    side = side_of(principal)
    comment_id = str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        row = await order_for(tx.conn, order_id, principal, write=principal.is_supplier, lock=True)
        await tx.conn.execute(
            comments.insert().values(
                id=comment_id,
                order_id=row.id,
                author_user_id=str(principal.user_id),
                author_name=principal.name,
                author_side=side.value,
                text=text,
                at=now,
            )
        )
        row = await bump(tx.conn, row)
        await publish_changed(
            tx,
            row,
            "comment",
            by_user_id=str(principal.user_id),
            by_side=side,
            at=now,
            attributes={"comment_id": comment_id, "text": text, "author_name": principal.name},
        )
    return {
        "comment_id": comment_id,
        "order_id": str(order_id),
        "author_user_id": str(principal.user_id),
        "author_name": principal.name,
        "author_side": side.value,
        "text": text,
        "at": iso(now),
    }


async def list_comments(db: Database, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        rows = (
            await conn.execute(
                sa.select(comments).where(comments.c.order_id == row.id).order_by(comments.c.at, comments.c.id)
            )
        ).all()
        names = await user_names(conn, [c.author_user_id for c in rows if not c.author_name])
    items = [
        {
            "comment_id": c.id,
            "order_id": c.order_id,
            "author_user_id": c.author_user_id,
            "author_name": c.author_name or names.get(c.author_user_id, ""),
            "author_side": c.author_side,
            "text": c.text,
            "at": iso(c.at),
        }
        for c in rows
    ]
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


def document_json(doc: sa.Row[Any], names: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "document_id": doc.id,
        "order_id": doc.order_id,
        "file_name": doc.file_name,
        "content_type": doc.content_type,
        "size": doc.size,
        "uploaded_by_user_id": doc.uploaded_by_user_id,
        "uploaded_by_name": (names or {}).get(doc.uploaded_by_user_id, ""),
        "uploaded_by_side": doc.uploaded_by_side,
        "at": iso(doc.at),
    }


async def add_document(
    db: Database,
    storage: FileStorage,
    principal: Principal,
    order_id: uuid.UUID,
    *,
    file_name: str,
    content_type: str | None,
    content: bytes,
    max_bytes: int,
) -> dict[str, Any]:
    """Store a file for an order; a name with a path or a file over the limit is refused."""
    name = domain.safe_file_name(file_name)
    if len(content) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", details={"max_bytes": max_bytes})
    if not content:
        raise domain.DomainError("the file is empty", code="bad_file_name")
    side = side_of(principal)
    doc_id = str(uuid.uuid4())
    kind = (content_type or "").split(";")[0].strip() or mimetypes.guess_type(name)[0] or "application/octet-stream"
    now = utcnow()
    async with db.read() as conn:
        await order_for(conn, order_id, principal, write=principal.is_supplier)
    key = f"{order_id}/{doc_id}"
    await storage.save(key, content)
    try:
        async with db.transaction() as tx:
            row = await order_for(tx.conn, order_id, principal, write=principal.is_supplier, lock=True)
            await tx.conn.execute(
                documents.insert().values(
                    id=doc_id,
                    order_id=row.id,
                    file_name=name,
                    stored_name=key,
                    content_type=kind[:200],
                    size=len(content),
                    uploaded_by_user_id=str(principal.user_id),
                    uploaded_by_side=side.value,
                    at=now,
                )
            )
            row = await bump(tx.conn, row)
            await publish_changed(
                tx,
                row,
                "document",
                by_user_id=str(principal.user_id),
                by_side=side,
                at=now,
                attributes={"document_id": doc_id, "file_name": name, "content_type": kind, "size": len(content)},
            )
            doc = (await tx.conn.execute(sa.select(documents).where(documents.c.id == doc_id))).one()
    except BaseException:
        # The row did not commit: do not leave an orphan file behind.
        await storage.delete(key)
        raise
    return document_json(doc, {doc.uploaded_by_user_id: principal.name})


async def list_documents(db: Database, principal: Principal, order_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        rows = (
            await conn.execute(sa.select(documents).where(documents.c.order_id == row.id).order_by(documents.c.at))
        ).all()
        names = await user_names(conn, [x.uploaded_by_user_id for x in rows])
    items = [document_json(x, names) for x in rows]
    return {"items": items, "total": len(items), "limit": len(items), "offset": 0}


async def read_document(
    db: Database, storage: FileStorage, principal: Principal, order_id: uuid.UUID, document_id: uuid.UUID
) -> tuple[dict[str, Any], bytes]:
    async with db.read() as conn:
        row = await order_for(conn, order_id, principal)
        doc = (
            await conn.execute(
                sa.select(documents).where(documents.c.id == str(document_id), documents.c.order_id == row.id)
            )
        ).first()
    if doc is None:
        raise NotFound(f"document {document_id} does not exist on this order", code="document_not_found")
    return document_json(doc), await storage.load(doc.stored_name)
