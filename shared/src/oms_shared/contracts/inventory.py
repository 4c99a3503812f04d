"""Events published by the inventory service: reserves and stock."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field

from oms_shared import topics
from oms_shared.contracts.envelope import ContractModel, Event, Quantity, register


class ReserveLine(ContractModel):
    line_id: uuid.UUID
    sku: str
    warehouse_id: uuid.UUID | None
    requested: Quantity = Field(description="Quantity the order line asks for.")
    reserved: Quantity = Field(description="Quantity reserved for the line now.")
    shortage: Quantity = Field(description="requested - reserved.")


class ReserveUpdatedData(ContractModel):
    order_id: uuid.UUID
    reason: Literal["reserved", "released", "consumed", "adjusted", "backorder_filled"]
    lines: list[ReserveLine]
    fully_reserved: bool


@register
class ReserveUpdatedV1(Event):
    """What is reserved for an order, per line and warehouse, after a change."""

    TOPIC: ClassVar[str] = topics.RESERVE_UPDATED
    EVENT_TYPE: ClassVar[str] = "reserve.updated"
    event_type: Literal["reserve.updated"] = "reserve.updated"
    schema_version: Literal[1] = 1
    data: ReserveUpdatedData


class StockUpdatedData(ContractModel):
    warehouse_id: uuid.UUID
    sku: str
    on_hand: Quantity
    reserved: Quantity
    available: Quantity
    incoming: Quantity = Quantity(0)


@register
class StockUpdatedV1(Event):
    """Stock of one warehouse item after a change; keyed by ``warehouse:SKU``."""

    TOPIC: ClassVar[str] = topics.STOCK_UPDATED
    EVENT_TYPE: ClassVar[str] = "stock.updated"
    event_type: Literal["stock.updated"] = "stock.updated"
    schema_version: Literal[1] = 1
    data: StockUpdatedData


class WarehouseUpdatedData(ContractModel):
    warehouse_id: uuid.UUID
    code: str = Field(description="Short code unique per supplier (used in Excel imports and the ERP).")
    name: str
    deleted: bool = False


@register
class WarehouseUpdatedV1(Event):
    """A supplier's warehouse was created or changed (full snapshot); keyed by warehouse id."""

    TOPIC: ClassVar[str] = topics.WAREHOUSE_UPDATED
    EVENT_TYPE: ClassVar[str] = "warehouse.updated"
    event_type: Literal["warehouse.updated"] = "warehouse.updated"
    schema_version: Literal[1] = 1
    data: WarehouseUpdatedData


class ProductUpdatedData(ContractModel):
    sku: str
    name: str = Field(description="The product's name as the catalogue shows it.")
    unit: str = Field(default="", description="Unit of measure (шт, кг, ...).")
    deleted: bool = False


@register
class ProductUpdatedV1(Event):
    """A product of the supplier's catalogue was created or changed (full snapshot); keyed by SKU."""

    TOPIC: ClassVar[str] = topics.PRODUCT_UPDATED
    EVENT_TYPE: ClassVar[str] = "product.updated"
    event_type: Literal["product.updated"] = "product.updated"
    schema_version: Literal[1] = 1
    data: ProductUpdatedData
