"""Events published by the ERP bridge."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field

from oms_shared import topics
from oms_shared.contracts.envelope import ContractModel, Event, Money, Quantity, register
from oms_shared.contracts.orders import OrderStatus


class ErpLineChange(ContractModel):
    line_id: uuid.UUID | None = Field(default=None, description="None for a line the ERP added.")
    sku: str
    quantity: Quantity | None = None
    price: Money | None = None
    vat_rate: Money | None = None
    cancelled_quantity: Quantity | None = None
    deleted: bool = False


class ErpOrderChangedData(ContractModel):
    order_id: uuid.UUID
    erp_document_id: str = ""
    status: OrderStatus | None = None
    lines: list[ErpLineChange] = Field(default_factory=list)
    shipment_date: date | None = None
    paid_amount: Money | None = None
    comment: str = ""
    conflict: str = Field(
        default="",
        description="Set when both sides changed the order since the ERP last took it: what the ERP's document "
        "overrides in OMS (R-ERP-3). Orders records it and the responsible people are told.",
    )


@register
class ErpOrderChangedV1(Event):
    """Changes the ERP made to an order; the ERP wins."""

    TOPIC: ClassVar[str] = topics.ERP_ORDER_CHANGED
    EVENT_TYPE: ClassVar[str] = "erp.order_changed"
    event_type: Literal["erp.order_changed"] = "erp.order_changed"
    schema_version: Literal[1] = 1
    data: ErpOrderChangedData


class ErpStockItem(ContractModel):
    warehouse_id: uuid.UUID
    sku: str
    name: str = ""
    unit: str = ""
    on_hand: Quantity
    integration_reserved: Quantity | None = Field(
        default=None,
        description="Reserves made in the ERP (Integration); omitted (null): the Integration reserve stays as it is.",
    )
    price: Money | None = None


class ErpStockImportedData(ContractModel):
    mode: Literal["full", "changes"]
    items: list[ErpStockItem]


@register
class ErpStockImportedV1(Event):
    """Products, prices and stock from the ERP (a full snapshot or only the changes)."""

    TOPIC: ClassVar[str] = topics.ERP_STOCK_IMPORTED
    EVENT_TYPE: ClassVar[str] = "erp.stock_imported"
    event_type: Literal["erp.stock_imported"] = "erp.stock_imported"
    schema_version: Literal[1] = 1
    data: ErpStockImportedData
