"""Events published by the orders service: orders, price lists, accounts and buyers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import Field

from oms_shared import topics
from oms_shared.contracts.envelope import ContractModel, Event, Money, Quantity, register


class OrderStatus(StrEnum):
    """Order statuses of the guide (Новый, Редактируется, На согласовании, Согласован, ...)."""

    NEW = "new"
    EDITING = "editing"
    AWAITING_APPROVAL = "awaiting_approval"
    AGREED = "agreed"
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Side(StrEnum):
    SUPPLIER = "supplier"
    BUYER = "buyer"
    SYSTEM = "system"
    ERP = "erp"


class OrderLine(ContractModel):
    line_id: uuid.UUID = Field(description="Stable id of the order line.")
    sku: str = Field(description="Product SKU (article).")
    name: str = Field(default="", description="Product name as in the price list.")
    unit: str = Field(default="", description="Unit of measure.")
    warehouse_id: uuid.UUID | None = Field(default=None, description="Warehouse the quantity is ordered from.")
    quantity: Quantity = Field(description="Ordered quantity.")
    price: Money = Field(
        default=Money(0), description="Price per unit: VAT included, unless the order's vat_included is false."
    )
    vat_rate: Money = Field(default=Money(0), description="VAT rate in percent.")
    additional: bool = Field(default=False, description="Added by the supplier after placing.")
    shipped_quantity: Quantity = Field(
        default=Quantity(0),
        description="How much of the line the ERP has shipped so far; what is left to hold is quantity - this.",
    )


class OrderPlacedData(ContractModel):
    order_id: uuid.UUID
    number: str = Field(description="Readable number unique per supplier, e.g. 1024 or 1024-2.")
    parent_order_id: uuid.UUID | None = Field(default=None, description="The order this part was split from.")
    buyer_id: uuid.UUID = Field(description="The supplier's buyer record (counterparty).")
    buyer_account_id: uuid.UUID | None = Field(default=None, description="The buyer's own account, if registered.")
    buyer_name: str = ""
    price_list_id: uuid.UUID | None = None
    status: OrderStatus
    lines: list[OrderLine]
    total: Money = Field(description="What the buyer pays, VAT included (whether inside the prices or on top).")
    desired_shipment_date: date | None = None
    comment: str = ""
    one_shipment: bool = False
    responsible_user_id: uuid.UUID | None = None
    placed_by_user_id: uuid.UUID | None = None
    placed_by_side: Side = Side.BUYER
    created_at: datetime
    currency: str = Field(default="RUB", description="ISO 4217 code of every amount of the order.")
    vat_included: bool = Field(
        default=True, description='Prices include VAT ("в т.ч. НДС"); false: VAT is added on top ("НДС сверху").'
    )
    vat_amount: Money | None = Field(default=None, description="The order's VAT: the sum of its lines' VAT.")
    net_total: Money | None = Field(default=None, description="The order's amount without VAT (total - VAT).")


@register
class OrderPlacedV1(Event):
    """A new order (or a new part of an order) exists."""

    TOPIC: ClassVar[str] = topics.ORDER_PLACED
    EVENT_TYPE: ClassVar[str] = "order.placed"
    event_type: Literal["order.placed"] = "order.placed"
    schema_version: Literal[1] = 1
    data: OrderPlacedData


class OrderStatusChangedData(ContractModel):
    order_id: uuid.UUID
    number: str
    buyer_id: uuid.UUID
    buyer_account_id: uuid.UUID | None = None
    from_status: OrderStatus | None
    to_status: OrderStatus
    by_user_id: uuid.UUID | None = None
    by_side: Side
    comment: str = ""
    one_shipment: bool = False
    responsible_user_id: uuid.UUID | None = None
    total: Money = Money(0)
    lines: list[OrderLine] = Field(default_factory=list, description="The order's lines after the change.")
    changed_at: datetime
    currency: str = Field(default="RUB", description="ISO 4217 code of every amount of the order.")
    vat_included: bool = Field(
        default=True, description='Prices include VAT ("в т.ч. НДС"); false: VAT is added on top ("НДС сверху").'
    )
    vat_amount: Money | None = Field(default=None, description="The order's VAT: the sum of its lines' VAT.")
    net_total: Money | None = Field(default=None, description="The order's amount without VAT (total - VAT).")


@register
class OrderStatusChangedV1(Event):
    """An order moved from one status to another."""

    TOPIC: ClassVar[str] = topics.ORDER_STATUS_CHANGED
    EVENT_TYPE: ClassVar[str] = "order.status_changed"
    event_type: Literal["order.status_changed"] = "order.status_changed"
    schema_version: Literal[1] = 1
    data: OrderStatusChangedData


class LineChange(ContractModel):
    line_id: uuid.UUID
    sku: str = ""
    field: str = Field(description="quantity, price, vat_rate, added, deleted, moved, copied, cancelled")
    old: str | None = None
    new: str | None = None


class OrderChangedData(ContractModel):
    order_id: uuid.UUID
    number: str
    buyer_id: uuid.UUID
    buyer_account_id: uuid.UUID | None = None
    kind: str = Field(
        description="lines_edited, split, lines_moved, lines_copied, shipment_date, payment, responsible, "
        "comment, document, overdue, erp_applied, erp_conflict"
    )
    status: OrderStatus
    by_user_id: uuid.UUID | None = None
    by_side: Side = Side.SUPPLIER
    line_changes: list[LineChange] = Field(default_factory=list)
    lines: list[OrderLine] | None = Field(default=None, description="The lines after the change, when they changed.")
    related_order_ids: list[uuid.UUID] = Field(default_factory=list, description="Other parts involved.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Kind-specific values.")
    changed_at: datetime
    currency: str = Field(default="RUB", description="ISO 4217 code of every amount of the order.")
    vat_included: bool = Field(
        default=True, description='Prices include VAT ("в т.ч. НДС"); false: VAT is added on top ("НДС сверху").'
    )
    vat_amount: Money | None = Field(default=None, description="The order's VAT: the sum of its lines' VAT.")
    net_total: Money | None = Field(default=None, description="The order's amount without VAT (total - VAT).")


@register
class OrderChangedV1(Event):
    """Something in an order changed other than its status."""

    TOPIC: ClassVar[str] = topics.ORDER_CHANGED
    EVENT_TYPE: ClassVar[str] = "order.changed"
    event_type: Literal["order.changed"] = "order.changed"
    schema_version: Literal[1] = 1
    data: OrderChangedData


class OrderDeletedData(ContractModel):
    order_id: uuid.UUID
    side: Side = Field(description="The side that hid the order from its own list.")
    by_user_id: uuid.UUID | None = None


@register
class OrderDeletedV1(Event):
    """An order was deleted (hidden) on one side."""

    TOPIC: ClassVar[str] = topics.ORDER_DELETED
    EVENT_TYPE: ClassVar[str] = "order.deleted"
    event_type: Literal["order.deleted"] = "order.deleted"
    schema_version: Literal[1] = 1
    data: OrderDeletedData


class PriceListItem(ContractModel):
    sku: str
    name: str = ""
    unit: str = ""
    price: Money
    vat_rate: Money = Money(0)


class PriceListUpdatedData(ContractModel):
    price_list_id: uuid.UUID
    name: str
    warehouse_ids: list[uuid.UUID]
    items: list[PriceListItem]
    auto_confirm: bool = False
    deleted: bool = False
    buyer_account_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description=(
            "Buyer accounts the list is open to (by buyer record or segment). A snapshot too: when a buyer's access"
            " changes, the list is published again."
        ),
    )


@register
class PriceListUpdatedV1(Event):
    """A price list was created or changed (full snapshot)."""

    TOPIC: ClassVar[str] = topics.PRICE_LIST_UPDATED
    EVENT_TYPE: ClassVar[str] = "pricelist.updated"
    event_type: Literal["pricelist.updated"] = "pricelist.updated"
    schema_version: Literal[1] = 1
    data: PriceListUpdatedData


class AccessLevel(StrEnum):
    NONE = "none"
    READ = "read"
    CHANGE = "change"
    FULL = "full"


class UserInfo(ContractModel):
    user_id: uuid.UUID
    email: str
    name: str = ""
    locale: str = "ru"
    is_owner: bool = False
    active: bool = True
    access_buyers: AccessLevel = AccessLevel.NONE
    access_orders: AccessLevel = AccessLevel.NONE
    restricted_to_own_buyers: bool = False


class AccountUpdatedData(ContractModel):
    account_id: uuid.UUID
    kind: Literal["supplier", "buyer"]
    name: str
    users: list[UserInfo]


@register
class AccountUpdatedV1(Event):
    """An account and its users (full snapshot). ``tenant_id`` is the account itself."""

    TOPIC: ClassVar[str] = topics.ACCOUNT_UPDATED
    EVENT_TYPE: ClassVar[str] = "account.updated"
    event_type: Literal["account.updated"] = "account.updated"
    schema_version: Literal[1] = 1
    data: AccountUpdatedData


class UserPasswordResetRequestedData(ContractModel):
    user_id: uuid.UUID
    email: str
    name: str = ""
    locale: str = "ru"
    token: str = Field(description="One-time secret for the reset link; single use, expires at expires_at.")
    expires_at: datetime


@register
class UserPasswordResetRequestedV1(Event):
    """A user asked to reset their password: notifications e-mails them the reset link. ``tenant_id`` is the
    user's account. The token is a secret: consumers other than notifications must not keep it."""

    TOPIC: ClassVar[str] = topics.PASSWORD_RESET_REQUESTED
    EVENT_TYPE: ClassVar[str] = "user.password_reset_requested"
    event_type: Literal["user.password_reset_requested"] = "user.password_reset_requested"
    schema_version: Literal[1] = 1
    data: UserPasswordResetRequestedData


class BuyerInvitedData(ContractModel):
    invitation_id: uuid.UUID
    buyer_id: uuid.UUID
    buyer_name: str
    supplier_name: str
    email: str = Field(description="Where the invitation goes; not necessarily a user of any account yet.")
    locale: str = "ru"
    invited_by_name: str = ""
    token: str = Field(description="One-time secret for the invitation link; single use, expires at expires_at.")
    expires_at: datetime


@register
class BuyerInvitedV1(Event):
    """A supplier invited a buyer company by e-mail: notifications e-mails the link to register (or, with an
    account already, to accept). ``tenant_id`` is the supplier. The token is a secret: consumers other than
    notifications must not keep it."""

    TOPIC: ClassVar[str] = topics.BUYER_INVITED
    EVENT_TYPE: ClassVar[str] = "buyer.invited"
    event_type: Literal["buyer.invited"] = "buyer.invited"
    schema_version: Literal[1] = 1
    data: BuyerInvitedData


class EmployeeInvitedData(ContractModel):
    invitation_id: uuid.UUID
    account_name: str = Field(description="The company the invited person is to work for.")
    email: str = Field(description="Where the invitation goes; nobody's user yet.")
    name: str = ""
    locale: str = "ru"
    invited_by_name: str = ""
    token: str = Field(description="One-time secret for the invitation link; single use, expires at expires_at.")
    expires_at: datetime


@register
class EmployeeInvitedV1(Event):
    """An account's owner (or a user manager) invited an employee by e-mail: notifications e-mails the link where
    they set their password and join with the access chosen for them. ``tenant_id`` is the account. The token is
    a secret: consumers other than notifications must not keep it."""

    TOPIC: ClassVar[str] = topics.EMPLOYEE_INVITED
    EVENT_TYPE: ClassVar[str] = "employee.invited"
    event_type: Literal["employee.invited"] = "employee.invited"
    schema_version: Literal[1] = 1
    data: EmployeeInvitedData


class BuyerUpdatedData(ContractModel):
    buyer_id: uuid.UUID
    buyer_account_id: uuid.UUID | None = None
    name: str
    inn: str = ""
    kpp: str = ""
    manager_user_ids: list[uuid.UUID] = Field(default_factory=list, description="Responsible managers.")
    deleted: bool = False


@register
class BuyerUpdatedV1(Event):
    """A supplier's buyer (counterparty) record (full snapshot)."""

    TOPIC: ClassVar[str] = topics.BUYER_UPDATED
    EVENT_TYPE: ClassVar[str] = "buyer.updated"
    event_type: Literal["buyer.updated"] = "buyer.updated"
    schema_version: Literal[1] = 1
    data: BuyerUpdatedData
