"""Buyers (counterparties), price lists with their access, and the warehouse replica."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from oms_orders import schemas
from oms_orders.db import (
    accounts,
    buyers,
    price_list_buyers,
    price_list_items,
    price_lists,
    products,
    users,
    warehouses,
)
from oms_orders.handlers.common import check_if_match, dec, fold, ids_json, iso, load_ids, restricted
from oms_shared.auth import Principal
from oms_shared.contracts import (
    BuyerUpdatedData,
    BuyerUpdatedV1,
    PriceListItem,
    PriceListUpdatedData,
    PriceListUpdatedV1,
    ProductUpdatedV1,
    WarehouseUpdatedV1,
    make_event,
)
from oms_shared.db import Database, Tx, utcnow
from oms_shared.errors import Conflict, Forbidden, Invalid, NotFound

PRODUCER = "orders"


# ---------------------------------------------------------------- buyers


def buyer_json(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "buyer_id": row.id,
        "supplier_id": row.supplier_id,
        "buyer_account_id": row.buyer_account_id,
        "name": row.name,
        "inn": row.inn,
        "kpp": row.kpp,
        "contacts": row.contacts,
        "segment": row.segment,
        "manager_user_ids": load_ids(row.manager_user_ids),
        "deleted": row.deleted,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


async def _publish_buyer(tx: Tx, buyer_id: str) -> dict[str, Any]:
    row = (await tx.conn.execute(sa.select(buyers).where(buyers.c.id == buyer_id))).one()
    data = BuyerUpdatedData(
        buyer_id=uuid.UUID(row.id),
        buyer_account_id=uuid.UUID(row.buyer_account_id) if row.buyer_account_id else None,
        name=row.name,
        inn=row.inn,
        kpp=row.kpp,
        manager_user_ids=[uuid.UUID(u) for u in load_ids(row.manager_user_ids)],
        deleted=row.deleted,
    )
    await tx.publish(
        make_event(
            BuyerUpdatedV1, tenant_id=uuid.UUID(row.supplier_id), aggregate_id=row.id, data=data, producer=PRODUCER
        )
    )
    await _sync_price_list_access(tx, row.supplier_id)
    return buyer_json(row)


async def _check_managers(conn: AsyncConnection, supplier_id: str, user_ids: list[uuid.UUID]) -> None:
    if not user_ids:
        return
    wanted = {str(u) for u in user_ids}
    rows = (await conn.execute(sa.select(users.c.id, users.c.account_id).where(users.c.id.in_(wanted)))).all()
    # Another account's user is answered as an unknown one: nothing tells that the id exists elsewhere.
    found = {r.id for r in rows if r.account_id == supplier_id}
    missing = sorted(wanted - found)
    if missing:
        raise Invalid("some managers are not users", code="unknown_user", details={"user_ids": missing})


async def _check_buyer_account(conn: AsyncConnection, account_id: uuid.UUID | None) -> None:
    if account_id is None:
        return
    kind = await conn.scalar(sa.select(accounts.c.kind).where(accounts.c.id == str(account_id)))
    if kind is None:
        raise Invalid(f"account {account_id} does not exist", code="unknown_buyer_account")
    if kind != "buyer":
        raise Invalid(f"account {account_id} is not a buyer account", code="not_a_buyer_account")


async def link_buyer_records_by_inn(tx: Tx, account_id: str, inn: str, kpp: str) -> list[str]:
    """A buyer company registering: link it to the suppliers' buyer records of its INN that have no account yet
    (KPP equal, or not kept on the record), at most one per supplier (the oldest); returns their ids."""
    inn = inn.strip()
    if not inn:
        return []
    rows = (
        await tx.conn.execute(
            sa.select(buyers.c.id, buyers.c.supplier_id)
            .where(
                buyers.c.inn == inn,
                sa.or_(buyers.c.kpp == "", buyers.c.kpp == kpp.strip()),
                buyers.c.buyer_account_id.is_(None),
                buyers.c.deleted.is_(False),
            )
            .order_by(buyers.c.created_at, buyers.c.id)
        )
    ).all()
    taken = {
        r.supplier_id
        for r in await tx.conn.execute(sa.select(buyers.c.supplier_id).where(buyers.c.buyer_account_id == account_id))
    }
    linked: list[str] = []
    for row in rows:
        if row.supplier_id in taken:
            continue
        if await link_buyer_record(tx, row.id, account_id):
            taken.add(row.supplier_id)
            linked.append(row.id)
    return linked


async def link_buyer_record(tx: Tx, buyer_id: str, account_id: str) -> bool:
    """Fill the buyer record's account if it still has none (a concurrent link wins once: the other sees the
    record taken) and tell the other services; whether it was linked here."""
    linked = await tx.conn.execute(
        buyers.update()
        .where(buyers.c.id == buyer_id, buyers.c.buyer_account_id.is_(None))
        .values(buyer_account_id=account_id, updated_at=utcnow())
    )
    if linked.rowcount != 1:
        return False
    await _publish_buyer(tx, buyer_id)
    return True


async def create_buyer(db: Database, principal: Principal, cmd: schemas.BuyerIn) -> dict[str, Any]:
    principal.require("buyers", "change")
    supplier_id = str(principal.account_id)
    buyer_id = str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        await _check_managers(tx.conn, supplier_id, cmd.manager_user_ids)
        await _check_buyer_account(tx.conn, cmd.buyer_account_id)
        if cmd.buyer_account_id is not None and await tx.conn.scalar(
            sa.select(buyers.c.id).where(
                buyers.c.supplier_id == supplier_id, buyers.c.buyer_account_id == str(cmd.buyer_account_id)
            )
        ):
            raise Conflict("this buyer account already is your buyer", code="buyer_exists")
        await tx.conn.execute(
            buyers.insert().values(
                id=buyer_id,
                supplier_id=supplier_id,
                buyer_account_id=str(cmd.buyer_account_id) if cmd.buyer_account_id else None,
                name=cmd.name,
                name_search=fold(cmd.name),
                inn=cmd.inn,
                kpp=cmd.kpp,
                contacts=cmd.contacts,
                segment=cmd.segment,
                manager_user_ids=ids_json([str(u) for u in cmd.manager_user_ids]),
                created_at=now,
                updated_at=now,
            )
        )
        return await _publish_buyer(tx, buyer_id)


async def buyer_for(conn: AsyncConnection, principal: Principal, buyer_id: uuid.UUID) -> sa.Row[Any]:
    row = (await conn.execute(sa.select(buyers).where(buyers.c.id == str(buyer_id)))).first()
    if row is None or row.supplier_id != str(principal.account_id):
        raise NotFound(f"buyer {buyer_id} does not exist", code="buyer_not_found")
    if restricted(principal) and str(principal.user_id) not in load_ids(row.manager_user_ids):
        raise Forbidden("you are not responsible for this buyer", code="not_your_buyer")
    return row


async def get_buyer(db: Database, principal: Principal, buyer_id: uuid.UUID) -> dict[str, Any]:
    principal.require("buyers", "read")
    async with db.read() as conn:
        return buyer_json(await buyer_for(conn, principal, buyer_id))


async def list_buyers(
    db: Database, principal: Principal, *, search: str = "", limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    principal.require("buyers", "read")
    where = [buyers.c.supplier_id == str(principal.account_id), buyers.c.deleted.is_(False)]
    if restricted(principal):
        where.append(buyers.c.manager_user_ids.contains(str(principal.user_id)))
    if search.strip():
        where.append(
            sa.or_(
                buyers.c.name_search.contains(fold(search), autoescape=True),
                buyers.c.inn.contains(search.strip(), autoescape=True),
            )
        )
    async with db.read() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(buyers).where(*where))
        rows = (
            await conn.execute(
                sa.select(buyers).where(*where).order_by(buyers.c.name, buyers.c.id).limit(limit).offset(offset)
            )
        ).all()
    return {"items": [buyer_json(r) for r in rows], "total": total or 0, "limit": limit, "offset": offset}


async def update_buyer(
    db: Database, principal: Principal, buyer_id: uuid.UUID, cmd: schemas.BuyerPatch
) -> dict[str, Any]:
    principal.require("buyers", "change")
    changes = cmd.model_dump(exclude_unset=True)
    async with db.transaction() as tx:
        row = await buyer_for(tx.conn, principal, buyer_id)
        if "manager_user_ids" in changes:
            managers = cmd.manager_user_ids or []
            await _check_managers(tx.conn, row.supplier_id, managers)
            changes["manager_user_ids"] = ids_json([str(u) for u in managers])
        if "buyer_account_id" in changes:
            await _check_buyer_account(tx.conn, cmd.buyer_account_id)
            changes["buyer_account_id"] = str(cmd.buyer_account_id) if cmd.buyer_account_id else None
        if "name" in changes:
            changes["name_search"] = fold(changes["name"])
        if changes:
            changes["updated_at"] = utcnow()
            await tx.conn.execute(buyers.update().where(buyers.c.id == row.id).values(**changes))
        return await _publish_buyer(tx, row.id)


# ---------------------------------------------------------------- price lists


async def price_list_json(conn: AsyncConnection, row: sa.Row[Any], *, with_buyers: bool = True) -> dict[str, Any]:
    items = (
        await conn.execute(
            sa.select(price_list_items)
            .where(price_list_items.c.price_list_id == row.id)
            .order_by(price_list_items.c.position)
        )
    ).all()
    wh_ids = load_ids(row.warehouse_ids)
    names = {
        r.id: r.name
        for r in (await conn.execute(sa.select(warehouses.c.id, warehouses.c.name).where(warehouses.c.id.in_(wh_ids))))
    }
    body: dict[str, Any] = {
        "price_list_id": row.id,
        "supplier_id": row.supplier_id,
        "supplier_name": await conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == row.supplier_id)),
        "name": row.name,
        "warehouse_ids": wh_ids,
        "warehouses": [{"warehouse_id": w, "name": names.get(w, "")} for w in wh_ids],
        "auto_confirm": row.auto_confirm,
        "currency": row.currency,
        "vat_mode": "included" if row.vat_included else "on_top",
        "version": row.version,
        "items": [
            {"sku": i.sku, "name": i.name, "unit": i.unit, "price": dec(i.price), "vat_rate": dec(i.vat_rate)}
            for i in items
        ],
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if with_buyers:
        body["buyer_ids"] = sorted(
            r.buyer_id
            for r in await conn.execute(
                sa.select(price_list_buyers.c.buyer_id).where(price_list_buyers.c.price_list_id == row.id)
            )
        )
        body["link_token"] = row.link_token
        body["segments"] = load_ids(row.segments)
    return body


Catalogue = dict[str, tuple[str, str]]


async def _catalogue(conn: AsyncConnection, supplier_id: str, skus: list[str]) -> Catalogue:
    """Name and unit of each of ``skus`` in the supplier's product catalogue (inventory's, replicated here)."""
    found: Catalogue = {}
    wanted = sorted(set(skus))
    for start in range(0, len(wanted), 1000):
        rows = await conn.execute(
            sa.select(products.c.sku, products.c.name, products.c.unit).where(
                products.c.supplier_id == supplier_id,
                products.c.sku.in_(wanted[start : start + 1000]),
                products.c.deleted.is_(False),
            )
        )
        found.update({r.sku: (r.name, r.unit) for r in rows})
    return found


async def _check_price_list_refs(conn: AsyncConnection, supplier_id: str, cmd: schemas.PriceListIn) -> Catalogue:
    """Check what the list refers to (buyers and warehouses first: another account's are unknown, 404), then its
    SKUs; answer the catalogue's name and unit of each."""
    skus = [i.sku for i in cmd.items]
    dupes = sorted(s for s, n in Counter(skus).items() if n > 1)
    if dupes:
        raise Invalid("a SKU appears more than once in the price list", code="duplicate_sku", details={"skus": dupes})
    wanted = {str(b) for b in cmd.buyer_ids}
    if wanted:
        rows = (await conn.execute(sa.select(buyers.c.id, buyers.c.supplier_id).where(buyers.c.id.in_(wanted)))).all()
        missing = sorted(wanted - {r.id for r in rows if r.supplier_id == supplier_id})
        if missing:
            raise NotFound("some buyers do not exist", code="buyer_not_found", details={"buyer_ids": missing})
    wh = {str(w) for w in cmd.warehouse_ids}
    if wh:
        # Warehouses are inventory's; ids not replicated yet are accepted (eventual consistency).
        rows = (
            await conn.execute(sa.select(warehouses.c.id, warehouses.c.supplier_id).where(warehouses.c.id.in_(wh)))
        ).all()
        # Another account's warehouse is refused as one that does not exist (nothing says whose it is).
        foreign = sorted(r.id for r in rows if r.supplier_id != supplier_id)
        if foreign:
            details = {"warehouse_ids": foreign}
            raise NotFound("some warehouses do not exist", code="warehouse_not_found", details=details)
    catalogue = await _catalogue(conn, supplier_id, skus)
    unknown = [s for s in skus if s not in catalogue]
    if unknown:
        shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
        raise Invalid(
            f"not in the product catalogue: {shown}; add the products first (POST /api/v1/products in inventory)",
            code="unknown_sku",
            details={"skus": unknown},
        )
    return catalogue


async def _write_price_list(tx: Tx, price_list_id: str, cmd: schemas.PriceListIn, catalogue: Catalogue) -> None:
    await tx.conn.execute(price_list_items.delete().where(price_list_items.c.price_list_id == price_list_id))
    await tx.conn.execute(price_list_buyers.delete().where(price_list_buyers.c.price_list_id == price_list_id))
    if cmd.items:
        await tx.conn.execute(
            price_list_items.insert(),
            [
                {
                    "price_list_id": price_list_id,
                    "sku": i.sku,
                    "position": n,
                    "name": catalogue[i.sku][0],
                    "unit": catalogue[i.sku][1] or i.unit,
                    "price": i.price,
                    "vat_rate": i.vat_rate,
                }
                for n, i in enumerate(cmd.items)
            ],
        )
    if cmd.buyer_ids:
        await tx.conn.execute(
            price_list_buyers.insert(),
            [{"price_list_id": price_list_id, "buyer_id": str(b)} for b in sorted({str(b) for b in cmd.buyer_ids})],
        )
    await _publish_price_list(tx, price_list_id)


async def _open_accounts(conn: AsyncConnection, supplier_id: str, price_list_ids: list[str]) -> dict[str, list[str]]:
    """The buyer accounts each price list is open to: buyers listed on it, and buyers of a segment it is open to.

    The same rule as ``_buyer_access`` (what a buyer may read here), turned around: per list, which accounts.
    """
    open_to: dict[str, set[str]] = {pid: set() for pid in price_list_ids}
    if not price_list_ids:
        return {}
    live = sa.and_(buyers.c.deleted.is_(False), buyers.c.buyer_account_id.is_not(None))
    explicit = await conn.execute(
        sa.select(price_list_buyers.c.price_list_id, buyers.c.buyer_account_id)
        .join(buyers, buyers.c.id == price_list_buyers.c.buyer_id)
        .where(price_list_buyers.c.price_list_id.in_(price_list_ids), live)
    )
    for pid, account in explicit:
        open_to[pid].add(account)
    segments = {
        r.id: set(load_ids(r.segments))
        for r in await conn.execute(
            sa.select(price_lists.c.id, price_lists.c.segments).where(price_lists.c.id.in_(price_list_ids))
        )
    }
    if any(segments.values()):
        by_segment = await conn.execute(
            sa.select(buyers.c.segment, buyers.c.buyer_account_id).where(
                buyers.c.supplier_id == supplier_id, buyers.c.segment != "", live
            )
        )
        for segment, account in by_segment:
            for pid, wanted in segments.items():
                if segment in wanted:
                    open_to[pid].add(account)
    return {pid: sorted(accounts_) for pid, accounts_ in open_to.items()}


async def _publish_price_list(tx: Tx, price_list_id: str, *, bump: bool = False) -> None:
    """Publish the list's full snapshot (lines from the table), with the buyer accounts it is open to now."""
    row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == price_list_id))).one()
    open_to = (await _open_accounts(tx.conn, row.supplier_id, [price_list_id]))[price_list_id]
    version = row.version + 1 if bump else row.version
    await tx.conn.execute(
        price_lists.update()
        .where(price_lists.c.id == price_list_id)
        .values(buyer_account_ids=json.dumps(open_to), version=version)
    )
    items = (
        await tx.conn.execute(
            sa.select(price_list_items)
            .where(price_list_items.c.price_list_id == price_list_id)
            .order_by(price_list_items.c.position)
        )
    ).all()
    data = PriceListUpdatedData(
        price_list_id=uuid.UUID(price_list_id),
        name=row.name,
        warehouse_ids=[uuid.UUID(w) for w in load_ids(row.warehouse_ids)],
        items=[PriceListItem(sku=i.sku, name=i.name, unit=i.unit, price=i.price, vat_rate=i.vat_rate) for i in items],
        auto_confirm=row.auto_confirm,
        deleted=row.deleted,
        buyer_account_ids=[uuid.UUID(a) for a in open_to],
    )
    await tx.publish(
        make_event(
            PriceListUpdatedV1,
            tenant_id=uuid.UUID(row.supplier_id),
            aggregate_id=price_list_id,
            data=data,
            sequence=version,
            producer=PRODUCER,
        )
    )


async def _sync_price_list_access(tx: Tx, supplier_id: str) -> None:
    """After a buyer changed (account, segment, deletion, a link joined): publish again each list whose set of
    open buyer accounts is no longer the one last published, so that inventory's replica follows."""
    rows = (
        await tx.conn.execute(
            sa.select(price_lists.c.id, price_lists.c.buyer_account_ids).where(
                price_lists.c.supplier_id == supplier_id, price_lists.c.deleted.is_(False)
            )
        )
    ).all()
    now_open = await _open_accounts(tx.conn, supplier_id, [r.id for r in rows])
    for r in rows:
        if now_open[r.id] != load_ids(r.buyer_account_ids):
            await _publish_price_list(tx, r.id, bump=True)


async def create_price_list(db: Database, principal: Principal, cmd: schemas.PriceListIn) -> dict[str, Any]:
    principal.require("orders", "change")
    supplier_id = str(principal.account_id)
    price_list_id = str(uuid.uuid4())
    now = utcnow()
    async with db.transaction() as tx:
        catalogue = await _check_price_list_refs(tx.conn, supplier_id, cmd)
        await tx.conn.execute(
            price_lists.insert().values(
                id=price_list_id,
                supplier_id=supplier_id,
                name=cmd.name,
                warehouse_ids=json.dumps([str(w) for w in dict.fromkeys(cmd.warehouse_ids)]),
                auto_confirm=cmd.auto_confirm,
                segments=ids_json(cmd.segments),
                currency=cmd.currency,
                vat_included=cmd.vat_mode == "included",
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        await _write_price_list(tx, price_list_id, cmd, catalogue)
        row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == price_list_id))).one()
        return await price_list_json(tx.conn, row)


async def _price_list_for_change(tx: Tx, principal: Principal, price_list_id: uuid.UUID) -> sa.Row[Any]:
    """The supplier's own price list, locked until the commit: its buyers change one writer at a time (a join
    through the link takes the same lock), so a version checked here stays the version written over."""
    row = (
        await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == str(price_list_id)).with_for_update())
    ).first()
    if row is None or row.supplier_id != str(principal.account_id):
        raise NotFound(f"price list {price_list_id} does not exist", code="price_list_not_found")
    return row


async def update_price_list(
    db: Database, principal: Principal, price_list_id: uuid.UUID, cmd: schemas.PriceListIn, if_match: str | None
) -> dict[str, Any]:
    """Replace the price list, buyers included: only over the version the client saw (If-Match), so a buyer who
    joined through the link meanwhile is never dropped unseen (the join moved the version on)."""
    principal.require("orders", "change")
    async with db.transaction() as tx:
        row = await _price_list_for_change(tx, principal, price_list_id)
        check_if_match(row.version, if_match, required=True, what="price list")
        catalogue = await _check_price_list_refs(tx.conn, row.supplier_id, cmd)
        await tx.conn.execute(
            price_lists.update()
            .where(price_lists.c.id == row.id)
            .values(
                name=cmd.name,
                warehouse_ids=json.dumps([str(w) for w in dict.fromkeys(cmd.warehouse_ids)]),
                auto_confirm=cmd.auto_confirm,
                segments=ids_json(cmd.segments),
                currency=cmd.currency,
                vat_included=cmd.vat_mode == "included",
                version=row.version + 1,
                updated_at=utcnow(),
            )
        )
        await _write_price_list(tx, row.id, cmd, catalogue)
        row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == row.id))).one()
        return await price_list_json(tx.conn, row)


async def change_price_list_buyers(
    db: Database,
    principal: Principal,
    price_list_id: uuid.UUID,
    cmd: schemas.PriceListBuyersPatch,
    if_match: str | None,
) -> dict[str, Any]:
    """Open the price list to some buyers and close it for others; every other buyer stays (R-IN-2)."""
    principal.require("orders", "change")
    add = sorted({str(b) for b in cmd.add})
    remove = sorted({str(b) for b in cmd.remove})
    both = sorted(set(add) & set(remove))
    if both:
        raise Invalid("a buyer is both added and removed", code="buyer_added_and_removed", details={"buyer_ids": both})
    async with db.transaction() as tx:
        row = await _price_list_for_change(tx, principal, price_list_id)
        check_if_match(row.version, if_match, required=True, what="price list")
        wanted = set(add) | set(remove)
        if wanted:
            found = await tx.conn.execute(
                sa.select(buyers.c.id).where(buyers.c.id.in_(wanted), buyers.c.supplier_id == row.supplier_id)
            )
            missing = sorted(wanted - {r.id for r in found})
            if missing:
                raise NotFound("some buyers do not exist", code="buyer_not_found", details={"buyer_ids": missing})
        current = {
            r.buyer_id
            for r in await tx.conn.execute(
                sa.select(price_list_buyers.c.buyer_id).where(price_list_buyers.c.price_list_id == row.id)
            )
        }
        new = [b for b in add if b not in current]
        gone = [b for b in remove if b in current]
        if new:
            await tx.conn.execute(price_list_buyers.insert(), [{"price_list_id": row.id, "buyer_id": b} for b in new])
        if gone:
            await tx.conn.execute(
                price_list_buyers.delete().where(
                    price_list_buyers.c.price_list_id == row.id, price_list_buyers.c.buyer_id.in_(gone)
                )
            )
        if new or gone:
            await tx.conn.execute(price_lists.update().where(price_lists.c.id == row.id).values(updated_at=utcnow()))
            await _publish_price_list(tx, row.id, bump=True)
        row = (await tx.conn.execute(sa.select(price_lists).where(price_lists.c.id == row.id))).one()
        return await price_list_json(tx.conn, row)


def _buyer_access(account_id: str) -> sa.Select[Any]:
    """Price list ids open to a buyer account, across every supplier: by buyer record or by its segment."""
    explicit = (
        sa.select(price_list_buyers.c.price_list_id.label("price_list_id"))
        .join(buyers, buyers.c.id == price_list_buyers.c.buyer_id)
        .where(buyers.c.buyer_account_id == account_id, buyers.c.deleted.is_(False))
    )
    by_segment = (
        sa.select(price_lists.c.id.label("price_list_id"))
        .join(
            buyers,
            sa.and_(
                buyers.c.supplier_id == price_lists.c.supplier_id,
                buyers.c.segment != "",
                price_lists.c.segments.contains(sa.literal('"') + buyers.c.segment + sa.literal('"')),
            ),
        )
        .where(buyers.c.buyer_account_id == account_id, buyers.c.deleted.is_(False))
    )
    union = sa.union(explicit, by_segment).subquery()
    return sa.select(union.c.price_list_id)


async def price_list_for(conn: AsyncConnection, principal: Principal, price_list_id: uuid.UUID) -> sa.Row[Any]:
    query = sa.select(price_lists).where(price_lists.c.id == str(price_list_id))
    if not principal.is_supplier:  # whether it is open to the buyer, in the same statement
        query = query.add_columns(
            price_lists.c.id.in_(_buyer_access(str(principal.account_id))).label("open_to_caller")
        )
    row = (await conn.execute(query)).first()
    # Another supplier's list, or one not open to the buying account, is answered as an unknown one.
    if (
        row is None
        or row.deleted
        or (row.supplier_id != str(principal.account_id) if principal.is_supplier else not row.open_to_caller)
    ):
        raise NotFound(f"price list {price_list_id} does not exist", code="price_list_not_found")
    return row


async def get_price_list(db: Database, principal: Principal, price_list_id: uuid.UUID) -> dict[str, Any]:
    async with db.read() as conn:
        row = await price_list_for(conn, principal, price_list_id)
        return await price_list_json(conn, row, with_buyers=principal.is_supplier)


async def price_list_items_page(
    db: Database, principal: Principal, price_list_id: uuid.UUID, *, q: str, limit: int, offset: int
) -> dict[str, Any]:
    """R-UI-2: a page of a price list's lines for a catalogue, with the list's money terms and warehouses by name;
    ``q`` finds lines by product name or SKU (case and "ё" folded in every alphabet, as the order search does)."""
    async with db.read() as conn:
        row = await price_list_for(conn, principal, price_list_id)
        in_list = price_list_items.c.price_list_id == row.id
        order = (price_list_items.c.position, price_list_items.c.sku)
        wanted = fold(q)
        if wanted:
            found = [
                r.sku
                for r in await conn.execute(
                    sa.select(price_list_items.c.sku, price_list_items.c.name).where(in_list).order_by(*order)
                )
                if wanted in fold(r.name) or wanted in fold(r.sku)
            ]
            total, page_skus = len(found), found[offset : offset + limit]
            rows = (
                await conn.execute(
                    sa.select(price_list_items).where(in_list, price_list_items.c.sku.in_(page_skus)).order_by(*order)
                )
            ).all()
        else:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(price_list_items).where(in_list)) or 0
            rows = (
                await conn.execute(
                    sa.select(price_list_items).where(in_list).order_by(*order).limit(limit).offset(offset)
                )
            ).all()
        wh_ids = load_ids(row.warehouse_ids)
        names = {
            r.id: r.name
            for r in await conn.execute(
                sa.select(warehouses.c.id, warehouses.c.name).where(warehouses.c.id.in_(wh_ids))
            )
        }
        supplier_name = await conn.scalar(sa.select(accounts.c.name).where(accounts.c.id == row.supplier_id))
    return {
        "price_list_id": row.id,
        "name": row.name,
        "supplier_id": row.supplier_id,
        "supplier_name": supplier_name,
        "currency": row.currency,
        "vat_mode": "included" if row.vat_included else "on_top",
        "vat_included": bool(row.vat_included),
        "warehouses": [{"warehouse_id": w, "name": names.get(w, "")} for w in wh_ids],
        "items": [
            {"sku": i.sku, "name": i.name, "unit": i.unit, "price": dec(i.price), "vat_rate": dec(i.vat_rate)}
            for i in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


async def list_price_lists(db: Database, principal: Principal, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    if principal.is_supplier:
        where = [price_lists.c.supplier_id == str(principal.account_id)]
    else:
        where = [price_lists.c.id.in_(_buyer_access(str(principal.account_id)))]
    where.append(price_lists.c.deleted.is_(False))
    async with db.read() as conn:
        total = await conn.scalar(sa.select(sa.func.count()).select_from(price_lists).where(*where))
        rows = (
            await conn.execute(
                sa.select(price_lists)
                .where(*where)
                .order_by(price_lists.c.name, price_lists.c.id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        items = [await price_list_json(conn, r, with_buyers=principal.is_supplier) for r in rows]
    return {"items": items, "total": total or 0, "limit": limit, "offset": offset}


# ---------------------------------------------------------------- warehouse replica


async def apply_warehouse(event: WarehouseUpdatedV1, tx: Tx) -> None:
    """Keep inventory's warehouses (names and codes) for validation; a full snapshot, so upsert."""
    data = event.data
    values = {
        "supplier_id": str(event.tenant_id),
        "code": data.code,
        "name": data.name,
        "deleted": data.deleted,
        "updated_at": utcnow(),
    }
    updated = await tx.conn.execute(
        warehouses.update().where(warehouses.c.id == str(data.warehouse_id)).values(**values)
    )
    if updated.rowcount == 0:
        await tx.conn.execute(warehouses.insert().values(id=str(data.warehouse_id), **values))


async def apply_product(event: ProductUpdatedV1, tx: Tx) -> None:
    """Keep inventory's product catalogue (names and units) for price lists; a full snapshot, so upsert."""
    data = event.data
    supplier_id = str(event.tenant_id)
    values = {"name": data.name, "unit": data.unit, "deleted": data.deleted, "updated_at": utcnow()}
    updated = await tx.conn.execute(
        products.update().where(products.c.supplier_id == supplier_id, products.c.sku == data.sku).values(**values)
    )
    if updated.rowcount == 0:
        await tx.conn.execute(products.insert().values(supplier_id=supplier_id, sku=data.sku, **values))
