"""Request bodies of the HTTP API (pydantic): the commands the use cases take."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["none", "read", "change", "full"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OwnerIn(Body):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    name: str = Field(default="", max_length=300)
    locale: str = Field(default="ru", max_length=10)


class AccountIn(Body):
    kind: Literal["supplier", "buyer"]
    name: str = Field(min_length=1, max_length=300)
    inn: str = Field(default="", max_length=20)
    kpp: str = Field(default="", max_length=20)
    owner: OwnerIn


class AccountPatch(Body):
    """The company profile; fields left out stay as they are, an empty string clears one."""

    name: str | None = Field(default=None, min_length=1, max_length=300, description="The company's name.")
    inn: str | None = Field(default=None, max_length=12, description="10 digits, or 12 for an entrepreneur.")
    kpp: str | None = Field(default=None, max_length=9, description="9 characters.")
    address: str | None = Field(default=None, max_length=500, description="Legal address, as printed.")
    bank_name: str | None = Field(default=None, max_length=300)
    bic: str | None = Field(default=None, max_length=9, description="The bank's BIC, 9 digits.")
    bank_account: str | None = Field(
        default=None, max_length=20, description="Settlement account, 20 digits (checked against the BIC)."
    )
    correspondent_account: str | None = Field(
        default=None, max_length=20, description="The bank's correspondent account, 20 digits starting 301."
    )


class TokenIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=200)


class RefreshIn(Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class PasswordChangeIn(Body):
    old_password: str = Field(max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class PasswordResetRequestIn(Body):
    email: str = Field(min_length=3, max_length=320)


class PasswordResetIn(Body):
    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class UserIn(Body):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    name: str = Field(default="", max_length=300)
    locale: str = Field(default="ru", max_length=10)
    access_buyers: Level = "none"
    access_orders: Level = "none"
    restricted_to_own_buyers: bool = False
    manage_users: bool = False


class EmployeeInvitationIn(Body):
    """Whom to invite and with what access; they choose their password through the e-mailed link."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=300)
    locale: Literal["ru", "en"] = "ru"
    access_buyers: Level = "none"
    access_orders: Level = "none"
    restricted_to_own_buyers: bool = False
    manage_users: bool = False


class EmployeeInvitationAcceptIn(Body):
    """The invited person's password (and, if they like, another spelling of their name)."""

    password: str = Field(min_length=8, max_length=200)
    name: str | None = Field(default=None, max_length=300)


class UserPatch(Body):
    name: str | None = Field(default=None, max_length=300)
    locale: str | None = Field(default=None, max_length=10)
    access_buyers: Level | None = None
    access_orders: Level | None = None
    restricted_to_own_buyers: bool | None = None
    manage_users: bool | None = None
    active: bool | None = None


class BuyerIn(Body):
    name: str = Field(min_length=1, max_length=300)
    inn: str = Field(default="", max_length=20)
    kpp: str = Field(default="", max_length=20)
    contacts: str = Field(default="", max_length=2000)
    segment: str = Field(default="", max_length=100, description="Price lists open to this segment are open to it.")
    buyer_account_id: uuid.UUID | None = None
    manager_user_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)


class BuyerPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    inn: str | None = Field(default=None, max_length=20)
    kpp: str | None = Field(default=None, max_length=20)
    contacts: str | None = Field(default=None, max_length=2000)
    segment: str | None = Field(default=None, max_length=100)
    buyer_account_id: uuid.UUID | None = None
    manager_user_ids: list[uuid.UUID] | None = Field(default=None, max_length=50)
    deleted: bool | None = None


class PriceItemIn(Body):
    sku: str = Field(min_length=1, max_length=100, description="A product of the catalogue (inventory's products).")
    name: str = Field(default="", max_length=500, description="Ignored: the name comes from the catalogue.")
    unit: str = Field(default="", max_length=30, description="Used only when the catalogue gives no unit.")
    price: Decimal = Field(ge=0, max_digits=16, decimal_places=4)
    vat_rate: Decimal = Field(default=Decimal(0), ge=0, le=100, max_digits=7, decimal_places=4)


class PriceListIn(Body):
    name: str = Field(min_length=1, max_length=300)
    warehouse_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    auto_confirm: bool = False
    items: list[PriceItemIn] = Field(default_factory=list, max_length=20000)
    buyer_ids: list[uuid.UUID] = Field(default_factory=list, max_length=10000)
    segments: list[str] = Field(default_factory=list, max_length=100, description="Buyer segments it is open to.")
    currency: str = Field(default="RUB", pattern="^[A-Z]{3}$", description="ISO 4217 code of the prices.")
    vat_mode: Literal["included", "on_top"] = Field(
        default="included",
        description='Prices include VAT ("в т.ч. НДС", the default) or VAT is added on top ("НДС сверху").',
    )


class PriceListBuyersPatch(Body):
    """Buyers to open the price list to and to close it for; every other buyer stays as it is (one who joined
    through the link meanwhile too). A buyer in both lists is refused."""

    add: list[uuid.UUID] = Field(default_factory=list, max_length=10000)
    remove: list[uuid.UUID] = Field(default_factory=list, max_length=10000)


class OrderLineIn(Body):
    sku: str = Field(min_length=1, max_length=100)
    warehouse_id: uuid.UUID
    # Validated by the domain so each bad line is reported with its reason (text, negative, zero).
    quantity: str | int | float


class OrderIn(Body):
    price_list_id: uuid.UUID
    lines: list[OrderLineIn] = Field(max_length=2000)
    desired_shipment_date: date | None = None
    comment: str = Field(default="", max_length=5000)
    one_shipment: bool = False


class TransitionIn(Body):
    to: Literal["new", "editing", "awaiting_approval", "agreed", "confirmed", "shipped", "rejected", "cancelled"]
    comment: str = Field(default="", max_length=5000)


class LineEdit(Body):
    line_id: uuid.UUID
    quantity: str | int | float | None = None
    price: Decimal | None = Field(default=None, ge=0, max_digits=16, decimal_places=4)
    vat_rate: Decimal | None = Field(default=None, ge=0, le=100, max_digits=7, decimal_places=4)
    delete: bool = False


class LineAdd(Body):
    sku: str = Field(min_length=1, max_length=100)
    warehouse_id: uuid.UUID
    quantity: str | int | float


class LinesEditIn(Body):
    """R-ED-1: edit, delete and add lines in one change."""

    edit: list[LineEdit] = Field(default_factory=list, max_length=2000)
    add: list[LineAdd] = Field(default_factory=list, max_length=2000)
    comment: str = Field(default="", max_length=5000)


class ProfileIn(Body):
    """R-PF-2/3: fields absent are left as they are; ``null`` clears the shipment date."""

    model_config = ConfigDict(extra="forbid")

    shipment_date: date | None = None
    paid_amount: Decimal | None = Field(default=None, ge=0, max_digits=18, decimal_places=2)
    responsible_user_id: uuid.UUID | None = None


class MoveLinesIn(Body):
    """R-ED-2: move or copy lines to a new part (no ``target_order_id``) or an existing one."""

    line_ids: list[uuid.UUID] = Field(min_length=1, max_length=2000)
    target_order_id: uuid.UUID | None = None
    copy_lines: bool = Field(default=False, alias="copy")
    quantities: dict[uuid.UUID, str | int | float] = Field(
        default_factory=dict,
        max_length=2000,
        description=(
            "Move only this much of a line (line id → quantity): the rest stays where it is, the part moved becomes "
            "a new line of the target. Only a line's unreserved quantity can be moved this way; a quantity of the "
            "whole line or more moves the whole line; lines not named move whole. Not with `copy`."
        ),
    )


class CommentIn(Body):
    text: str = Field(min_length=1, max_length=5000)


class TimeLimitsIn(Body):
    limits: dict[str, int]


class LinkRegistrationIn(Body):
    """R-IN-2: the short form an unregistered buyer fills in before sending an order."""

    company_name: str = Field(min_length=1, max_length=300)
    inn: str = Field(default="", max_length=20)
    kpp: str = Field(default="", max_length=20)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    name: str = Field(default="", max_length=300)


class InvitationIn(Body):
    """Whom to invite: the buyer company's e-mail, and the language of the invitation."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    locale: Literal["ru", "en"] = "ru"


class InvitationRegistrationIn(Body):
    """Registering through an invitation; the company's name, INN and KPP default to the supplier's record."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=8, max_length=200)
    name: str = Field(default="", max_length=300)
    locale: str = Field(default="ru", max_length=10)
    company_name: str = Field(default="", max_length=300)
    inn: str | None = Field(default=None, max_length=20)
    kpp: str | None = Field(default=None, max_length=20)
