"""Events published by the ERP bridge."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar, Literal

from pydantic import Field, model_validator

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
    shipped_quantity: Quantity | None = Field(
        default=None,
        description="How much of the line the ERP has shipped so far, in all (not this shipment alone); None: "
        "unchanged. The order is shipped once every line is shipped whole (R-ERP-5).",
    )


class ErpOrderChangedData(ContractModel):
    order_id: uuid.UUID
    erp_document_id: str = ""
    status: OrderStatus | None = None
    lines: list[ErpLineChange] = Field(default_factory=list)
    shipment_date: date | None = None
    paid_amount: Money | None = None
    comment: str = ""
    caller: str = Field(
        default="",
        description="Who sent the change, as the order's history shows it: 'ERP (<exchange login>)', or the "
        "supplier's owner by name when a person called the ERP API.",
    )
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
    """Stock of some warehouses. A full snapshot too big for one message comes in ``parts`` events sharing one
    ``snapshot_id``: each part's items apply as they arrive, and what the snapshot omits in the warehouses it
    lists is zeroed only once every part has arrived."""

    mode: Literal["full", "changes"] = Field(
        description="full: what the snapshot does not list in the warehouses it lists has no stock (for a snapshot "
        "in parts: once every part has arrived); changes: only the listed items change."
    )
    items: list[ErpStockItem]
    snapshot_id: str = Field(
        default="",
        max_length=100,
        description="The full snapshot this event is (a part of): every part of one snapshot carries the same id. "
        "Required when parts > 1; may be empty for a snapshot in one event, and is for changes.",
    )
    part: int = Field(default=1, ge=1, description="Which part of the snapshot this is, 1..parts.")
    parts: int = Field(
        default=1,
        ge=1,
        description="How many parts the full snapshot has; what it omits is zeroed only once every part has "
        "arrived (parts may arrive in any order). 1: the event is the whole snapshot.",
    )

    @model_validator(mode="after")
    def _part_of_parts(self) -> ErpStockImportedData:
        if self.part > self.parts:
            raise ValueError(f"part {self.part} of {self.parts}: a part cannot exceed the number of parts")
        if self.parts > 1 and not self.snapshot_id:
            raise ValueError("a snapshot in several parts needs a snapshot_id")
        return self


@register
class ErpStockImportedV1(Event):
    """Products, prices and stock from the ERP (a full snapshot, in one event or in parts, or only the changes)."""

    TOPIC: ClassVar[str] = topics.ERP_STOCK_IMPORTED
    EVENT_TYPE: ClassVar[str] = "erp.stock_imported"
    event_type: Literal["erp.stock_imported"] = "erp.stock_imported"
    schema_version: Literal[1] = 1
    data: ErpStockImportedData
