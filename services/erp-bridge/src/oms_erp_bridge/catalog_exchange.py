"""The 1C catalog channel (``type=catalog&mode=import``): products become the SKU map, stock becomes events (R-ERP-2).

What a file is comes from its content (``cml.kind_of``), never from its name (``import0_1.xml``,
``offers___<guid>.xml``, ``rests.xml``):

* a catalog (``import.xml``) fills ``erp_products`` (1C product ``Ид`` → SKU = ``Артикул``, else the ``Ид``) in
  steps of at most ``import_batch`` products per call, answering ``progress`` until the last step (pitfall 3);
* offers and rests publish ``erp.stock_imported``: per offer the SKU of its product in ``erp_products``, else its
  ``Артикул``, else the product ``Ид``; stock per 1C warehouse goes to the OMS warehouse mapped to it
  (``erp_warehouses.erp_id``). An unmapped 1C warehouse is matched automatically when exactly one unmapped OMS
  warehouse has its ``Ид`` as code or the same name; one that carries stock and stays unmapped fails the whole
  file, so that 1C can repeat the exchange after the mapping (R-ERP-6). A full snapshot
  (``СодержитТолькоИзменения="false"``) of a warehouse is one event, or several parts of at most
  ``snapshot_part_items`` items sharing a ``snapshot_id``: inventory zeroes what a full snapshot omits in the
  warehouses it lists, once every part has arrived; changes come in batches. Every event of a file is written
  with the file's outcome in one transaction: all or nothing.

Reserves made in 1C (R-ERP-4) do not come this way: offers and rests files carry stock per warehouse, not reserves,
so their events leave the Integration reserve as inventory has it (``integration_reserved`` null) and the answer
says so. An ERP's own reserves arrive only through ``POST /api/v1/erp/stock`` (``catalog_api``), whose exchange log
entry lists every reserved quantity.

Decisions the 1C user sees in the answer: the price is the one of the FIRST price type of the file's
``ТипыЦен`` (as 1C gives it; whether it includes VAT is that type's ``УчтеноВСумме``), else the offer's first
price; negative stock counts as 0; quantities are rounded to 0.001; offers of several characteristics of one
product (``<product>#<characteristic>``) share the product's SKU, so their stock is summed per warehouse (in a
changes-only file that lists some characteristics only, the sum covers those listed); an offer with only a total
``Количество`` goes to the account's only warehouse, and fails the file when there are several.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from oms_erp_bridge import cml
from oms_erp_bridge.common import dec
from oms_erp_bridge.db import files, products, warehouses
from oms_erp_bridge.protocol import Answer, Context, ExchangeFailure
from oms_shared.contracts import ErpStockImportedData, ErpStockImportedV1, ErpStockItem, make_event
from oms_shared.db import Tx, utcnow

StockMode = Literal["full", "changes"]

MAX_SKU = 100  # the width of the SKU columns here and in inventory
MAX_ERP_ID = 100
MAX_NAME = 300
MAX_UNIT = 30
QUANTUM = Decimal("0.001")  # inventory keeps thousandths of a unit
MAX_EVENT_BYTES = 4 * 1024 * 1024  # the producer sends at most 5 MiB per request; keep room for the envelope
LOOKUP_CHUNK = 500  # ids per IN (...) list
PRODUCER = "erp-bridge"


class EventTooLarge(ValueError):
    """A stock event bigger than the broker takes."""


class _Busy(Exception):
    """Another call changed the file row first (1C repeated a call before the previous answer)."""


# --- stock events (shared with the JSON stock API) ---------------------------------------------------------------


def stock_events(
    tenant_id: str, mode: StockMode, items: Sequence[ErpStockItem], batch: int, part_items: int
) -> list[ErpStockImportedV1]:
    """Events for ``items``, each about one warehouse (its id is the aggregate, so a warehouse's events share a
    partition): a warehouse's full snapshot is one event, or parts of at most ``part_items`` items; changes are
    cut into events of at most ``batch`` items. Raises ``EventTooLarge``."""
    by_warehouse: dict[uuid.UUID, list[ErpStockItem]] = {}
    for item in items:
        by_warehouse.setdefault(item.warehouse_id, []).append(item)
    events: list[ErpStockImportedV1] = []
    for warehouse_id in sorted(by_warehouse, key=str):
        rows = sorted(by_warehouse[warehouse_id], key=lambda item: item.sku)
        if mode == "full":
            contents = snapshot_parts(rows, part_items)
        else:
            step = max(1, batch)
            contents = [ErpStockImportedData(mode=mode, items=rows[i : i + step]) for i in range(0, len(rows), step)]
        for data in contents:
            event = make_event(
                ErpStockImportedV1,
                tenant_id=uuid.UUID(tenant_id),
                aggregate_id=str(warehouse_id),
                data=data,
                producer=PRODUCER,
            )
            size = len(event.to_json())
            if size > MAX_EVENT_BYTES:
                raise EventTooLarge(
                    f"{len(data.items)} items of warehouse {warehouse_id} make an event of {size} bytes, "
                    f"more than the {MAX_EVENT_BYTES} bytes the broker takes"
                    + ("; lower snapshot_part_items" if mode == "full" else "")
                )
            events.append(event)
    return events


def snapshot_parts(rows: Sequence[ErpStockItem], part_items: int) -> list[ErpStockImportedData]:
    """One warehouse's full snapshot as parts of at most ``part_items`` items under one new ``snapshot_id``;
    inventory zeroes what the snapshot omits once every part has arrived."""
    step = max(1, part_items)
    chunks = [list(rows[i : i + step]) for i in range(0, len(rows), step)]
    snapshot_id = uuid.uuid4().hex
    return [
        ErpStockImportedData(mode="full", items=chunk, snapshot_id=snapshot_id, part=n, parts=len(chunks))
        for n, chunk in enumerate(chunks, start=1)
    ]


MAX_RESERVES_LISTED = 50  # reserved quantities listed one by one in an exchange log entry
# Where the ERP's own reserves (the Integration reserve, R-ERP-4) come from: 1C's offers and rests files carry stock
# per warehouse (`КоличествоНаСкладе`, `Остатки`) and no reserves, so only ``POST /api/v1/erp/stock`` brings them.
NO_RESERVES_FROM_1C = "Integration reserves unchanged: 1C's offers report stock, not reserves"


def summary_of(mode: StockMode, items: Sequence[ErpStockItem], codes: Mapping[str, str] | None = None) -> str:
    """What a stock import brought, and every reserve made in the ERP it sets (warehouse code, SKU, quantity)."""
    kind = "full snapshot" if mode == "full" else "changes"
    count = len({item.warehouse_id for item in items})
    skus = len({item.sku for item in items})
    text = f"{kind}: {count} warehouses, {len(items)} items ({skus} SKUs)"
    reserved = [item for item in items if item.integration_reserved is not None]
    if reserved:
        names = codes or {}
        listed = [
            f"{names.get(str(item.warehouse_id), str(item.warehouse_id))} {item.sku} {dec(item.integration_reserved)}"
            for item in reserved[:MAX_RESERVES_LISTED]
            if item.integration_reserved is not None
        ]
        more = f", … {len(reserved) - MAX_RESERVES_LISTED} more" if len(reserved) > MAX_RESERVES_LISTED else ""
        text += f"; reserved in the ERP ({len(reserved)} items): " + ", ".join(listed) + more
    return text


# --- the channel ----------------------------------------------------------------------------------------------------


async def import_step(ctx: Context, row: Any) -> Answer:
    """One ``mode=import`` call for a received file: a step of a catalog, or a whole offers/rests file."""
    if row.outcome == "success":  # 1C repeats a call it did not see answered: the same answer, nothing twice
        return Answer("success", row.detail or f"{row.filename}: imported")
    try:
        kind, document = await asyncio.to_thread(_read, ctx.path_of(row.filename), ctx.settings.max_file_bytes)
    except cml.CmlError as exc:
        return await _fail(ctx, row, None, str(exc))
    try:
        if isinstance(document, cml.CmlCatalog):
            return await _import_products(ctx, row, document)
        if isinstance(document, cml.CmlOffers):
            return await _import_stock(ctx, row, kind, document)
    except _Busy:
        return Answer("progress", f"{row.filename}: another call is importing this file; repeat")
    if kind == "orders":
        reason = "this is an orders document (Документ), not a catalog or offers file: send it with type=sale"
    else:
        reason = "not a catalog, offers or rests file: no Каталог, Классификатор or ПакетПредложений in it"
    return await _fail(ctx, row, kind, reason)


Parsed = tuple[cml.Kind, cml.CmlCatalog | cml.CmlOffers | None]
_last_parsed: dict[tuple[str, int, int], Parsed] = {}  # the catalog being imported step by step: parsed once


def _read(path: Path, max_bytes: int) -> Parsed:
    """Read and parse the file (in a worker thread: big files take a while)."""
    try:
        stat = path.stat()
        if stat.st_size > max_bytes:
            raise cml.CmlError(f"the file is {stat.st_size} bytes, more than the {max_bytes} bytes allowed")
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        cached = _last_parsed.get(key)
        if cached is not None:
            return cached
        data = path.read_bytes()
    except OSError as exc:
        raise ExchangeFailure(f"{path.name} cannot be read ({exc.strerror}); send it again") from exc
    root = cml.load(data, max_bytes=max_bytes)
    kind = cml.kind_of(root)
    parsed: Parsed = (kind, None)
    if kind == "catalog":
        parsed = (kind, cml.parse_catalog(root))
        _last_parsed.clear()
        _last_parsed[key] = parsed
    elif kind in ("offers", "rests"):
        parsed = (kind, cml.parse_offers(root))
    return parsed


async def _fail(ctx: Context, row: Any, kind: str | None, reason: str) -> Answer:
    """Record the file's failure (nothing else was applied) and answer it; a repeated import tries again."""
    async with ctx.db.transaction() as tx:
        await tx.conn.execute(
            files.update().where(files.c.id == row.id).values(kind=kind, outcome="failure", detail=reason[:4000])
        )
    return Answer("failure", f"{row.filename}: {reason}")


async def _finish_file(tx: Tx, row: Any, **values: Any) -> None:
    """Move the file row on, unless another call moved it since this call read it."""
    done = await tx.conn.execute(
        files.update()
        .where(files.c.id == row.id, files.c.cursor == row.cursor, sa.func.coalesce(files.c.outcome, "") != "success")
        .values(**values)
    )
    if not done.rowcount:
        raise _Busy


# --- catalog: the 1C product → SKU map ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProductRow:
    erp_id: str
    sku: str
    name: str
    unit: str


def _product_row(product: cml.CmlProduct) -> _ProductRow | str:
    """The map row of a product, or why it cannot be mapped."""
    if not product.erp_id:
        return "a product without Ид"
    if len(product.erp_id) > MAX_ERP_ID:
        return f"product Ид {product.erp_id[:40]!r}… is longer than {MAX_ERP_ID} characters"
    sku = product.sku or product.erp_id
    if len(sku) > MAX_SKU:
        return f"product {product.erp_id}: Артикул longer than {MAX_SKU} characters"
    return _ProductRow(product.erp_id, sku, product.name[:MAX_NAME], product.unit_name[:MAX_UNIT])


async def _import_products(ctx: Context, row: Any, catalog: cml.CmlCatalog) -> Answer:
    total = len(catalog.products)
    start = min(row.cursor, total)
    end = min(start + max(1, ctx.settings.import_batch), total)
    chunk = [r for r in map(_product_row, catalog.products[start:end]) if isinstance(r, _ProductRow)]
    done = end >= total
    detail = _catalog_summary(catalog) if done else f"products {end} of {total}"
    async with ctx.db.transaction() as tx:
        await _upsert_products(tx, ctx.tenant_id, chunk)
        await _finish_file(
            tx, row, kind="catalog", cursor=end, total=total, outcome="success" if done else None, detail=detail
        )
    return Answer("success" if done else "progress", detail)


def _catalog_summary(catalog: cml.CmlCatalog) -> str:
    refused = [r for r in map(_product_row, catalog.products) if isinstance(r, str)]
    mapped = len(catalog.products) - len(refused)
    lines = [f"products {len(catalog.products)} of {len(catalog.products)}: {mapped} mapped to SKUs"]
    if refused:
        lines.append(f"{len(refused)} skipped: " + "; ".join(refused[:5]) + ("; …" if len(refused) > 5 else ""))
    return "\n".join(lines)


async def _upsert_products(tx: Tx, tenant_id: str, rows: Sequence[_ProductRow]) -> None:
    latest = {r.erp_id: r for r in rows}  # a product listed twice: the later one wins
    if not latest:
        return
    existing: set[str] = set()
    for ids in _chunks(latest):
        found = await tx.conn.scalars(
            sa.select(products.c.erp_id).where(products.c.tenant_id == tenant_id, products.c.erp_id.in_(ids))
        )
        existing.update(found)
    now = utcnow()
    fresh = [
        {"tenant_id": tenant_id, "erp_id": r.erp_id, "sku": r.sku, "name": r.name, "unit": r.unit, "updated_at": now}
        for r in latest.values()
        if r.erp_id not in existing
    ]
    if fresh:
        await tx.conn.execute(products.insert(), fresh)
    changed = [
        {"b_erp_id": r.erp_id, "b_sku": r.sku, "b_name": r.name, "b_unit": r.unit}
        for r in latest.values()
        if r.erp_id in existing
    ]
    if changed:
        await tx.conn.execute(
            products.update()
            .where(products.c.tenant_id == tenant_id, products.c.erp_id == sa.bindparam("b_erp_id"))
            .values(
                sku=sa.bindparam("b_sku"), name=sa.bindparam("b_name"), unit=sa.bindparam("b_unit"), updated_at=now
            ),
            changed,
        )


def _chunks(values: Iterable[str]) -> list[list[str]]:
    ordered = list(values)
    return [ordered[i : i + LOOKUP_CHUNK] for i in range(0, len(ordered), LOOKUP_CHUNK)]


# --- offers and rests: stock per warehouse --------------------------------------------------------------------------


@dataclass
class StockPlan:
    """What an offers/rests file means for this account: items to publish, or the reasons it cannot be applied."""

    items: list[ErpStockItem] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    auto_mapped: dict[str, str] = field(default_factory=dict)  # OMS warehouse id → 1C warehouse Ид


def _fold(value: str) -> str:
    return value.strip().casefold()


def _quantity(value: Decimal) -> tuple[Decimal, bool, bool]:
    """(quantity for inventory, was negative, was rounded)."""
    negative = value < 0
    value = max(value, Decimal(0))
    rounded = value != value.quantize(QUANTUM, rounding=ROUND_HALF_UP)
    return (value.quantize(QUANTUM, rounding=ROUND_HALF_UP) if rounded else value), negative, rounded


def _price(offer: cml.CmlOffer, price_types: Sequence[cml.CmlPriceType]) -> Decimal | None:
    if price_types and price_types[0].erp_id in offer.prices:
        value: Decimal | None = offer.prices[price_types[0].erp_id]
    elif price_types:
        value = None  # the offer has no price of the first type: no price rather than another type's
    else:
        value = next(iter(offer.prices.values()), None)
    return value if value is not None and value >= 0 else None


def _match_warehouses(offers: cml.CmlOffers, rows: Sequence[Any], plan: StockPlan) -> dict[str, str]:
    """1C warehouse Ид → OMS warehouse id: the saved mappings, then automatic matches by code or name."""
    live = [w for w in rows if not w.deleted]
    mapped = {w.erp_id: w.warehouse_id for w in live if w.erp_id}
    on_deleted = {w.erp_id: w for w in rows if w.deleted and w.erp_id}
    names = {w.erp_id: w.name for w in offers.warehouses}
    claimed: set[str] = set()
    for erp_id in _file_warehouses(offers):
        if erp_id in mapped or erp_id in on_deleted:
            continue
        name = names.get(erp_id, "")
        candidates = [w for w in live if _fold(w.code) == _fold(erp_id) or (name and _fold(w.name) == _fold(name))]
        found = candidates[0] if len(candidates) == 1 else None  # two alike: the supplier decides, not a guess
        if found is not None and not found.erp_id and found.warehouse_id not in claimed:
            mapped[erp_id] = found.warehouse_id
            claimed.add(found.warehouse_id)
            plan.auto_mapped[found.warehouse_id] = erp_id
            plan.notes.append(f"1C warehouse {erp_id} «{name}» matched to warehouse {found.code} «{found.name}»")
    return mapped


def _file_warehouses(offers: cml.CmlOffers) -> list[str]:
    """Every 1C warehouse the file names (its Склады, then those only met in the offers), in file order."""
    seen = {w.erp_id: None for w in offers.warehouses if w.erp_id}
    for offer in offers.offers:
        seen.update(dict.fromkeys(offer.stock))
    return list(seen)


def plan_stock(offers: cml.CmlOffers, warehouse_rows: Sequence[Any], product_rows: Sequence[Any]) -> StockPlan:
    """Turn an offers/rests file into stock items of OMS warehouses (pure: the caller reads and writes)."""
    plan = StockPlan()
    mapped = _match_warehouses(offers, warehouse_rows, plan)
    _check_unmapped(offers, warehouse_rows, mapped, plan)
    live = [w for w in warehouse_rows if not w.deleted]
    only_totals = [o for o in offers.offers if not o.stock and o.quantity is not None]
    if only_totals and len(live) != 1:
        plan.errors.append(
            f"{len(only_totals)} offers (e.g. {only_totals[0].erp_id}) give only a total Количество, not the stock "
            f"per warehouse, and the account has {len(live)} warehouses: export stock per warehouse from 1C"
        )
    if plan.errors:
        return plan
    plan.items = _collect_items(offers, mapped, live, {p.erp_id: p for p in product_rows}, plan.notes)
    return plan


def _targets(offer: cml.CmlOffer, mapped: dict[str, str], live: Sequence[Any]) -> dict[str, Decimal]:
    """OMS warehouse id → quantity of an offer (a total without per-warehouse stock: the only warehouse)."""
    if offer.stock:
        return {mapped[erp_id]: amount for erp_id, amount in offer.stock.items() if erp_id in mapped}
    if offer.quantity is not None:
        return {live[0].warehouse_id: offer.quantity}
    return {}


def _collect_items(
    offers: cml.CmlOffers, mapped: dict[str, str], live: Sequence[Any], known: dict[str, Any], notes: list[str]
) -> list[ErpStockItem]:
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    counts = dict.fromkeys(("negative", "rounded", "merged", "no_stock", "skipped"), 0)
    for offer in offers.offers:
        product = known.get(offer.product_erp_id)
        sku = product.sku if product is not None else (offer.sku or offer.product_erp_id)
        targets = _targets(offer, mapped, live)
        if not offer.erp_id or not sku or len(sku) > MAX_SKU:
            counts["skipped"] += 1
            continue
        if not targets:
            counts["no_stock"] += 1
            continue
        for warehouse_id, raw in targets.items():
            quantity, negative, rounded = _quantity(raw)
            counts["negative"] += negative
            counts["rounded"] += rounded
            key = (warehouse_id, sku)
            if key in merged:
                merged[key]["on_hand"] += quantity
                counts["merged"] += 1
                continue
            merged[key] = {
                "warehouse_id": uuid.UUID(warehouse_id),
                "sku": sku,
                "name": (offer.name or (product.name if product is not None else ""))[:MAX_NAME],
                "unit": product.unit if product is not None else "",
                "on_hand": quantity,
                "price": _price(offer, offers.price_types),
            }
    notes.extend(_count_notes(counts))
    return [ErpStockItem(**values) for values in merged.values()]


def _check_unmapped(offers: cml.CmlOffers, rows: Sequence[Any], mapped: dict[str, str], plan: StockPlan) -> None:
    """A 1C warehouse with stock and no OMS warehouse fails the file; one without stock is only skipped."""
    names = {w.erp_id: w.name for w in offers.warehouses}
    on_deleted = {w.erp_id: w for w in rows if w.deleted and w.erp_id}
    carrying = {erp_id for offer in offers.offers for erp_id, amount in offer.stock.items() if amount > 0}
    skipped = []
    for erp_id in _file_warehouses(offers):
        if erp_id in mapped:
            continue
        label = f"{erp_id} «{names.get(erp_id, '')}»"
        if erp_id not in carrying:
            skipped.append(label)
        elif erp_id in on_deleted:
            plan.errors.append(
                f"1C warehouse {label} is mapped to the deleted warehouse {on_deleted[erp_id].code}: map it to "
                "another warehouse in PUT /api/v1/erp/warehouses/{warehouse_id}"
            )
        else:
            plan.errors.append(
                f"map 1C warehouse {label} in PUT /api/v1/erp/warehouses/{{warehouse_id}} "
                f'with {{"erp_id": "{erp_id}"}}, then repeat the exchange'
            )
    if skipped:
        plan.notes.append("1C warehouses without stock and without a mapping skipped: " + ", ".join(skipped))


def _count_notes(counts: dict[str, int]) -> list[str]:
    texts = {
        "negative": "negative stock from 1C counted as 0 in {} items",
        "rounded": "quantities rounded to 0.001 in {} items",
        "merged": "{} offers of characteristics (or with a shared Артикул) summed into their SKU",
        "no_stock": "{} offers without stock (prices only) skipped",
        "skipped": "{} offers without Ид or with an SKU longer than 100 characters skipped",
    }
    return [texts[key].format(count) for key, count in counts.items() if count]


async def _import_stock(ctx: Context, row: Any, kind: str, offers: cml.CmlOffers) -> Answer:
    async with ctx.db.read() as conn:
        warehouse_rows = (
            await conn.execute(sa.select(warehouses).where(warehouses.c.tenant_id == ctx.tenant_id))
        ).all()
        product_rows: list[Any] = []
        for ids in _chunks({offer.product_erp_id for offer in offers.offers if offer.product_erp_id}):
            query = sa.select(products).where(products.c.tenant_id == ctx.tenant_id, products.c.erp_id.in_(ids))
            product_rows.extend((await conn.execute(query)).all())
    plan = plan_stock(offers, warehouse_rows, product_rows)
    if plan.errors:
        return await _fail(ctx, row, kind, "nothing imported:\n" + "\n".join(plan.errors))
    mode: StockMode = "changes" if offers.only_changes else "full"
    try:
        events = stock_events(
            ctx.tenant_id, mode, plan.items, ctx.settings.import_batch, ctx.settings.snapshot_part_items
        )
    except EventTooLarge as exc:
        return await _fail(ctx, row, kind, f"nothing imported: {exc}")
    detail = "\n".join([summary_of(mode, plan.items), *plan.notes, NO_RESERVES_FROM_1C])
    async with ctx.db.transaction() as tx:
        for warehouse_id, erp_id in plan.auto_mapped.items():
            await tx.conn.execute(
                warehouses.update()
                .where(warehouses.c.warehouse_id == warehouse_id, warehouses.c.erp_id.is_(None))
                .values(erp_id=erp_id)
            )
        total = len(offers.offers)
        await _finish_file(tx, row, kind=kind, cursor=total, total=total, outcome="success", detail=detail[:4000])
        for event in events:
            await tx.publish(event)
    return Answer("success", detail)
