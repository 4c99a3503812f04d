"""The buyer's cart (R-UI-2): kept in the browser, not business data.

One cookie holds the price list and its lines (SKU, warehouse, quantity) for the signed-in user: compact JSON,
compressed, signed with an HMAC (``OMS_CONSOLE_CART_SECRET``, else a key per process: carts then last until
a restart). A cookie that does not verify, belongs to another user or does not parse is an empty cart. Its size
is bounded: a cart that would not fit in one cookie is refused ("the cart is full").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import zlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from fastapi import Request, Response

CART_COOKIE = "oms_cart"
MAX_LINES = 200
MAX_COOKIE_CHARS = 3800  # browsers keep at least 4096 bytes per cookie, name and attributes included
MAX_QUANTITY = Decimal("1000000000")
_PROCESS_KEY = secrets.token_bytes(32)


class CartFull(Exception):
    """The cart would not fit in its cookie."""


@dataclass
class Cart:
    user_id: str = ""
    price_list_id: str = ""
    # (sku, warehouse_id) -> quantity as typed (a positive decimal), in the order added
    lines: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.lines

    def quantity(self, sku: str, warehouse_id: str) -> str:
        return self.lines.get((sku, warehouse_id), "")

    def put(self, sku: str, warehouse_id: str, quantity: str) -> None:
        """Set a line's quantity; an empty or zero quantity removes it."""
        if not quantity or Decimal(quantity) == 0:
            self.lines.pop((sku, warehouse_id), None)
        else:
            self.lines[(sku, warehouse_id)] = quantity
        if not self.lines:
            self.price_list_id = ""


def parse_quantity(text: str) -> str | None:
    """A quantity as the buyer typed it: "" (none), or a non-negative decimal with at most 3 places
    (a comma is a decimal point too); ``None`` when it is not one."""
    text = text.strip().replace(",", ".").replace(" ", "").replace("\u00a0", "")
    if not text:
        return ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value > MAX_QUANTITY or value.as_tuple().exponent < -3:  # type: ignore[operator]
        return None
    return format(value.normalize(), "f") if value != 0 else "0"


def _key(request: Request) -> bytes:
    secret: str = request.app.state.settings.cart_secret
    return hashlib.sha256(secret.encode()).digest() if secret else _PROCESS_KEY


def encode(cart: Cart, key: bytes) -> str:
    raw = json.dumps(
        {"u": cart.user_id, "p": cart.price_list_id, "l": [[s, w, q] for (s, w), q in cart.lines.items()]},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()
    body = base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode().rstrip("=")
    mac = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]).decode()
    value = f"{body}.{mac}"
    if len(cart.lines) > MAX_LINES or len(value) > MAX_COOKIE_CHARS:
        raise CartFull()
    return value


def decode(value: str | None, key: bytes, user_id: str) -> Cart:
    empty = Cart(user_id=user_id)
    if not value or len(value) > MAX_COOKIE_CHARS or "." not in value:
        return empty
    body, mac = value.rsplit(".", 1)
    expected = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()[:18]).decode()
    if not hmac.compare_digest(mac, expected):
        return empty
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, 64 * 1024)
        data = json.loads(raw)
        if data.get("u") != user_id:
            return empty
        lines: dict[tuple[str, str], str] = {}
        for sku, warehouse, quantity in data.get("l", [])[:MAX_LINES]:
            if parse_quantity(str(quantity)):
                lines[(str(sku), str(warehouse))] = str(quantity)
        return Cart(user_id=user_id, price_list_id=str(data.get("p") or "") if lines else "", lines=lines)
    except (ValueError, TypeError, zlib.error, AttributeError):
        return empty


def load(request: Request, user_id: str) -> Cart:
    return decode(request.cookies.get(CART_COOKIE), _key(request), user_id)


def save(request: Request, response: Response, cart: Cart) -> None:
    """Write the cart on the answer (raises ``CartFull`` before touching it when it does not fit)."""
    settings = request.app.state.settings
    if cart.empty:
        response.delete_cookie(CART_COOKIE, path="/", secure=settings.cookie_secure, httponly=True, samesite="lax")
        return
    response.set_cookie(
        CART_COOKIE, encode(cart, _key(request)), httponly=True, samesite="lax", secure=settings.cookie_secure,
        path="/",
    )  # fmt: skip
