"""The demo story, played through the public HTTP APIs of a running stack.

Each step prints what it does and what it saw; any unexpected answer stops the story with the
response, so ``oms demo`` fails loudly. Each chapter of ``CHAPTERS`` is a part of the product tour.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import httpx


class DemoFailed(RuntimeError):
    """A step of the story did not go as a user would expect."""


@dataclass
class Actor:
    name: str
    email: str
    password: str
    token: str = ""
    user_id: str = ""
    account_id: str = ""
    # Access tokens live a minute; the story renews them with the session's refresh token.
    refresh_token: str = ""
    token_expires_at: float = 0.0

    def signed_in(self, answer: dict[str, Any]) -> None:
        self.token = answer["access_token"]
        self.refresh_token = answer.get("refresh_token", "")
        self.token_expires_at = time.monotonic() + float(answer.get("expires_in", 60))

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Story:
    urls: dict[str, str]
    client: httpx.Client
    say: Callable[[str], None] = print
    facts: dict[str, Any] = field(default_factory=dict)
    step_no: int = 0

    def step(self, text: str) -> None:
        self.step_no += 1
        self.say(f"[{self.step_no:02d}] {text}")

    def note(self, text: str) -> None:
        self.say(f"      {text}")

    def call(
        self,
        method: str,
        service: str,
        path: str,
        *,
        actor: Actor | None = None,
        expect: int | tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        if actor is not None and actor.refresh_token and time.monotonic() > actor.token_expires_at - 15:
            self.renew(actor)
        all_headers = dict(actor.auth if actor else {})
        all_headers.update(headers or {})
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            all_headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        url = self.urls[service].rstrip("/") + path
        response = self.client.request(method, url, headers=all_headers, **kwargs)
        wanted = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in wanted:
            raise DemoFailed(f"{method} {service}{path} answered {response.status_code}: {response.text[:800]}")
        return response

    def renew(self, actor: Actor) -> None:
        """A fresh access token for ``actor`` from its refresh token (before the current one lapses)."""
        response = self.client.post(
            self.urls["orders"].rstrip("/") + "/api/v1/auth/refresh", json={"refresh_token": actor.refresh_token}
        )
        if response.status_code != 200:
            raise DemoFailed(f"renewing {actor.email}'s token answered {response.status_code}: {response.text[:800]}")
        actor.signed_in(response.json())

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll until ``check`` returns a truthy value (events travel through Kafka)."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = check()
            if last:
                return last
            time.sleep(0.25)
        raise DemoFailed(f"timed out after {timeout:.0f} s waiting for {what} (last seen: {last!r})")


def _create_price_list(story: Story, supplier: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """Create a price list from catalogue products (names and units come from the catalogue), once the products
    just added in inventory have reached the orders service (product.updated)."""

    def created() -> dict[str, Any] | None:
        r = story.call("POST", "orders", "/api/v1/price-lists", actor=supplier, json=body, expect=(201, 422))
        if r.status_code == 422 and r.json()["error"]["code"] != "unknown_sku":
            raise DemoFailed(f"POST orders/api/v1/price-lists answered 422: {r.text[:800]}")
        return dict(r.json()) if r.status_code == 201 else None

    return dict(story.wait_for("the catalogue's products to reach the orders service", created))


def _sign_up(story: Story, kind: str, company: str, person: str) -> Actor:
    suffix = uuid.uuid4().hex[:8]
    actor = Actor(name=person, email=f"{kind}-{suffix}@example.com", password=f"demo-{suffix}-pass")
    body = {
        "kind": kind,
        "name": company,
        "inn": "77" + str(int(suffix, 16) % 10**8).zfill(8),
        "kpp": "",
        "owner": {"email": actor.email, "password": actor.password, "name": person, "locale": "ru"},
    }
    created = story.call("POST", "orders", "/api/v1/accounts", json=body, expect=201).json()
    actor.account_id, actor.user_id = created["account_id"], created["user_id"]
    token = story.call(
        "POST", "orders", "/api/v1/auth/token", json={"email": actor.email, "password": actor.password}
    ).json()
    actor.signed_in(token)
    # The people a person can sign in as in the console after the demo (the last of each kind is shown).
    story.facts.setdefault("logins", {})[kind] = (company, person, actor.email, actor.password)
    return actor


def _register_buyer(story: Story, supplier: Actor, buyer: Actor, name: str, inn: str, kpp: str = "") -> dict[str, Any]:
    """The supplier adds a signed-up buyer company as its buyer, managed by the supplier's owner."""
    record: dict[str, Any] = story.call(
        "POST",
        "orders",
        "/api/v1/buyers",
        actor=supplier,
        json={
            "name": name,
            "inn": inn,
            "kpp": kpp,
            "buyer_account_id": buyer.account_id,
            "manager_user_ids": [supplier.user_id],
        },
        expect=201,
    ).json()
    return record


def chapter_thin_slice(story: Story) -> None:
    """First order: a buyer orders two lines, the supplier confirms, stock is reserved, people are told."""
    story.step("The supplier signs up, and so does a buyer company")
    supplier = _sign_up(story, "supplier", "ООО «Поставщик»", "Анна Петрова")
    buyer = _sign_up(story, "buyer", "ООО «Покупатель»", "Борис Иванов")
    story.note(f"supplier owner {supplier.email}; buyer {buyer.email}")

    story.step("The supplier creates a warehouse, two products and their stock (inventory)")
    warehouse = story.call(
        "POST", "inventory", "/api/v1/warehouses", actor=supplier, json={"code": "MSK", "name": "Москва"}, expect=201
    ).json()
    wh = warehouse["warehouse_id"]
    products = [
        {"sku": "BOLT-M8", "name": "Болт М8×40", "unit": "шт"},
        {"sku": "NUT-M8", "name": "Гайка М8", "unit": "шт"},
        {"sku": "WASHER-M8", "name": "Шайба М8", "unit": "шт"},
    ]
    story.call("POST", "inventory", "/api/v1/products", actor=supplier, json={"items": products})
    story.call(
        "PUT",
        "inventory",
        "/api/v1/stock",
        actor=supplier,
        json={
            "items": [
                {"warehouse_id": wh, "sku": "BOLT-M8", "on_hand": "100"},
                {"warehouse_id": wh, "sku": "NUT-M8", "on_hand": "40"},
                {"warehouse_id": wh, "sku": "WASHER-M8", "on_hand": "0"},
            ]
        },
    )
    story.note("on hand: BOLT-M8 100, NUT-M8 40, WASHER-M8 0 at MSK")

    story.step("The supplier registers the buyer and opens a price list to it (orders)")
    buyer_rec = _register_buyer(story, supplier, buyer, "ООО «Покупатель»", "7700000001", "770001001")
    price_list = _create_price_list(
        story,
        supplier,
        {
            "name": "Крепёж опт",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [
                {"sku": "BOLT-M8", "price": "12.50", "vat_rate": "20"},
                {"sku": "NUT-M8", "price": "3.20", "vat_rate": "20"},
                {"sku": "WASHER-M8", "price": "0.90", "vat_rate": "20"},
            ],
            "buyer_ids": [buyer_rec["buyer_id"]],
        },
    )
    pl = price_list["price_list_id"]

    def availability(actor: Actor = supplier) -> dict[str, Decimal]:
        # 404 until inventory's replica of the price list has the pricelist.updated event.
        answer = story.call(
            "GET", "inventory", f"/api/v1/price-lists/{pl}/availability", actor=actor, expect=(200, 404)
        )
        if answer.status_code == 404:
            return {}
        body = answer.json()
        return {item["sku"]: Decimal(str(item["total_available"])) for item in body["items"]}

    before = story.wait_for("the price list to reach inventory", lambda: availability() or None)
    story.note(f"availability in the price list: {dict((k, str(v)) for k, v in before.items())}")
    if before != {"BOLT-M8": Decimal(100), "NUT-M8": Decimal(40), "WASHER-M8": Decimal(0)}:
        raise DemoFailed(f"unexpected availability before ordering: {before}")

    story.step("The buyer sees the price list with its availability, and places an order of two lines")
    visible = story.call("GET", "orders", "/api/v1/price-lists", actor=buyer).json()
    if pl not in {p["price_list_id"] for p in visible["items"]}:
        raise DemoFailed("the buyer does not see the price list opened to it")
    # The buyer reads availability from inventory too; the supplier's on-hand and reserve figures stay hidden.
    as_buyer = story.call("GET", "inventory", f"/api/v1/price-lists/{pl}/availability", actor=buyer).json()
    seen_by_buyer = {i["sku"]: Decimal(str(i["total_available"])) for i in as_buyer["items"]}
    if seen_by_buyer != before or any("on_hand" in w for i in as_buyer["items"] for w in i["warehouses"]):
        raise DemoFailed(f"the buyer's view of availability is wrong: {as_buyer['items']}")
    story.note(f"the buyer sees availability: {dict((k, str(v)) for k, v in seen_by_buyer.items())}")
    order = story.call(
        "POST",
        "orders",
        "/api/v1/orders",
        actor=buyer,
        json={
            "price_list_id": pl,
            "lines": [
                {"sku": "BOLT-M8", "warehouse_id": wh, "quantity": "10"},
                {"sku": "NUT-M8", "warehouse_id": wh, "quantity": "25"},
            ],
            "desired_shipment_date": date.today().isoformat(),
            "comment": "Доставка до 12:00",
            "one_shipment": False,
        },
        expect=201,
    ).json()
    order_id, number = order["order_id"], order["number"]
    story.note(f"order {number} is '{order['status']}', total {order['total']}")

    story.step("The supplier's manager confirms the order (If-Match carries the version seen)")
    seen = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier)
    confirmed = story.call(
        "POST",
        "orders",
        f"/api/v1/orders/{order_id}/transitions",
        actor=supplier,
        headers={"If-Match": seen.headers["etag"]},
        json={"to": "confirmed", "comment": "Подтверждаем"},
    ).json()
    story.note(f"order {number} is '{confirmed['status']}'")

    story.step("Inventory reserves the lines: availability drops in the price list")
    expected_after = {"BOLT-M8": Decimal(90), "NUT-M8": Decimal(15), "WASHER-M8": Decimal(0)}

    def dropped() -> dict[str, Decimal] | None:
        now = availability()
        return now if now == expected_after else None

    after = story.wait_for("availability to drop by the ordered quantities", dropped)
    story.note(f"availability now: {dict((k, str(v)) for k, v in after.items())}")
    if availability(buyer) != expected_after:
        raise DemoFailed("the buyer's price list does not show the reserve")

    story.step("The order shows its reserve")

    def reserved_order() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=buyer).json()
        return body if body.get("reserve_status") == "full" else None

    reserved = story.wait_for("the order to show a full reserve", reserved_order)
    for line in reserved["lines"]:
        story.note(f"{line['sku']}: ordered {line['quantity']}, reserved {line['reserved']}")

    story.step("The supplier and the buyer are notified in-app and by e-mail")

    def inbox(actor: Actor) -> list[dict[str, Any]]:
        body = story.call("GET", "notifications", "/api/v1/notifications", actor=actor).json()
        return [n for n in body["items"] if n.get("order_id") == order_id]

    supplier_inbox = story.wait_for("the supplier's in-app notification", lambda: inbox(supplier))
    buyer_inbox = story.wait_for("the buyer's in-app notification", lambda: inbox(buyer))
    story.note(f"supplier inbox: {[n['title'] for n in supplier_inbox]}")
    story.note(f"buyer inbox: {[n['title'] for n in buyer_inbox]}")

    def sent_mail() -> list[dict[str, Any]]:
        body = story.call(
            "GET", "notifications", f"/api/v1/emails?status=sent&order_id={order_id}", actor=supplier
        ).json()
        items: list[dict[str, Any]] = body["items"]
        return items if {supplier.email, buyer.email} <= {m["to"] for m in items} else []

    mails = story.wait_for("e-mails about the order to the supplier and the buyer", sent_mail)
    story.note(f"e-mails sent: {[(m['kind'], m['to']) for m in mails]}")

    story.step("Analytics counts the order")
    today = date.today().isoformat()

    def summary() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call(
            "GET", "analytics", f"/api/v1/summary?date_from={today}&date_to={today}", actor=supplier
        ).json()
        return body if body.get("confirmed", {}).get("count") == 1 else None

    figures = story.wait_for("analytics to count the confirmed order", summary)
    story.note(f"orders: {figures['orders_count']}, sum {figures['orders_sum']}, confirmed {figures['confirmed']}")
    story.facts.update(
        order_id=order_id,
        number=number,
        supplier=supplier,
        buyer=buyer,
        warehouse_id=wh,
        price_list_id=pl,
        buyer_id=buyer_rec["buyer_id"],
        availability=availability,
    )


def _transition(story: Story, actor: Actor, order_id: str, to: str, comment: str = "") -> dict[str, Any]:
    seen = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=actor)
    answer: dict[str, Any] = story.call(
        "POST",
        "orders",
        f"/api/v1/orders/{order_id}/transitions",
        actor=actor,
        headers={"If-Match": seen.headers["etag"]},
        json={"to": to, "comment": comment},
    ).json()
    if answer["status"] != to:
        raise DemoFailed(f"order {answer['number']} is '{answer['status']}', expected '{to}'")
    return answer


def chapter_order_lifecycle(story: Story) -> None:
    """An order's life: the manager edits an order, the buyer agrees, it is confirmed, split into parts and shipped."""
    supplier: Actor = story.facts["supplier"]
    buyer: Actor = story.facts["buyer"]
    wh, pl = story.facts["warehouse_id"], story.facts["price_list_id"]

    story.step("The buyer places a second order: 20 bolts and 10 nuts")
    order = story.call(
        "POST",
        "orders",
        "/api/v1/orders",
        actor=buyer,
        json={
            "price_list_id": pl,
            "lines": [
                {"sku": "BOLT-M8", "warehouse_id": wh, "quantity": "20"},
                {"sku": "NUT-M8", "warehouse_id": wh, "quantity": "10"},
            ],
        },
        expect=201,
    ).json()
    order_id, number = order["order_id"], order["number"]
    lines = {line["sku"]: line for line in order["lines"]}
    story.note(f"order {number}: {[(sku, line['quantity']) for sku, line in lines.items()]}, total {order['total']}")

    story.step("The manager edits it: 30 bolts at 12.00 with 10% VAT, nuts removed, 5 washers added")
    seen = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier)
    edited = story.call(
        "POST",
        "orders",
        f"/api/v1/orders/{order_id}/lines",
        actor=supplier,
        headers={"If-Match": seen.headers["etag"]},
        json={
            "edit": [
                {"line_id": lines["BOLT-M8"]["line_id"], "quantity": "30", "price": "12.00", "vat_rate": "10"},
                {"line_id": lines["NUT-M8"]["line_id"], "delete": True},
            ],
            "add": [{"sku": "WASHER-M8", "warehouse_id": wh, "quantity": "5"}],
            "comment": "Болты есть по 12.00, гаек нет — предлагаем шайбы",
        },
    ).json()
    story.note(f"order {number} is '{edited['status']}', total {edited['total']}")
    if edited["status"] != "editing":
        raise DemoFailed(f"an edited order should be in Editing, not {edited['status']}")

    story.step("A stale write is refused: the buyer's view and the manager's version must match (R-ED-4)")
    stale = story.call(
        "POST",
        "orders",
        f"/api/v1/orders/{order_id}/transitions",
        actor=supplier,
        headers={"If-Match": seen.headers["etag"]},
        json={"to": "awaiting_approval"},
        expect=412,
    ).json()
    story.note(f"answer 412: {stale['error']['message']}")

    story.step("The buyer sees exactly what changed, line by line (R-ED-3)")
    changes = story.call("GET", "orders", f"/api/v1/orders/{order_id}/changes", actor=buyer).json()
    items = changes["items"] if isinstance(changes, dict) else changes
    for change in items[:8]:
        story.note(f"{change.get('sku', '')}: {change.get('field')} {change.get('old')} → {change.get('new')}")
    fields = {c.get("field") for c in items}
    if not {"quantity", "price", "vat_rate"} <= fields:
        raise DemoFailed(f"the change log misses edits: {fields}")

    story.step("The manager sends it for approval; the buyer agrees; the manager confirms")
    _transition(story, supplier, order_id, "awaiting_approval", "Просим согласовать")
    _transition(story, buyer, order_id, "agreed", "Согласны")
    _transition(story, supplier, order_id, "confirmed")
    story.note(f"order {number}: editing → awaiting approval → agreed → confirmed")

    story.step("Inventory reserves the bolts; washers are short, so the order splits: in stock + coming soon")

    def split() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier).json()
        return body if body.get("part_ids") else None

    root = story.wait_for("the order to split into parts", split)
    parts = [story.call("GET", "orders", f"/api/v1/orders/{p}", actor=supplier).json() for p in root["part_ids"]]
    for part in [root, *parts]:
        story.note(
            f"part {part['number']} ({part['status']}): "
            + ", ".join(f"{ln['sku']} {ln['quantity']} reserved {ln['reserved']}" for ln in part["lines"])
        )
    in_stock = root if all(Decimal(str(ln["shortage"])) == 0 for ln in root["lines"]) else None
    if in_stock is None or not parts:
        raise DemoFailed("expected an in-stock part and a coming-soon part")

    story.step(f"The manager ships the in-stock part {in_stock['number']}; stock on hand goes down")
    _transition(story, supplier, in_stock["order_id"], "shipped", "Отгружено")
    availability = story.facts["availability"]

    def stock_after_shipping() -> dict[str, Any] | None:
        body = story.call("GET", "inventory", f"/api/v1/stock?warehouse_id={wh}&sku=BOLT-M8", actor=supplier).json()
        rows = body["items"] if isinstance(body, dict) else body
        return rows[0] if rows and Decimal(str(rows[0]["on_hand"])) == 70 else None

    bolts = story.wait_for("30 bolts to leave the warehouse", stock_after_shipping)
    story.note(f"BOLT-M8 on hand {bolts['on_hand']}, reserved {bolts['reserved']}, available {bolts['available']}")
    story.note(f"price-list availability: {dict((k, str(v)) for k, v in availability().items())}")
    story.facts.update(lifecycle_order_id=order_id, lifecycle_parts=[p["order_id"] for p in parts])


def _import_file(story: Story) -> bytes:
    path = story.facts.get("import_file")
    if path:
        return bytes(Path(path).read_bytes())
    # The demo fills the supplier's own template; the e2e test uses a file saved by LibreOffice.
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["SKU", "Warehouse", "Quantity"])
    sheet.append(["BOLT-M8", "MSK", 10])
    sheet.append(["NUT-M8", "MSK", 25])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def chapter_excel_import(story: Story) -> None:
    """Orders from Excel: a manager creates an order for the buyer from an Excel file; the buyer agrees."""
    supplier: Actor = story.facts["supplier"]
    buyer: Actor = story.facts["buyer"]

    story.step("The manager downloads the import template")
    template = story.call("GET", "orders", "/api/v1/imports/template.xlsx", actor=supplier)
    story.note(f"template: {len(template.content)} bytes, {template.headers.get('content-type')}")

    story.step("A file with bad rows is refused row by row, and nothing is created")
    before = story.call("GET", "orders", "/api/v1/orders", actor=supplier).json()["total"]
    # A file as a user makes it in a spreadsheet program: a good row, a duplicate, a word for a number, a
    # negative quantity, an unknown SKU. The whole file is refused, each bad row named with its reasons.
    bad = story.facts.get("bad_import_file")
    bad_bytes = Path(bad).read_bytes() if bad else (resources.files(__package__) / "data" / BAD_ROWS).read_bytes()
    refused = story.call(
        "POST",
        "orders",
        "/api/v1/orders/import",
        actor=supplier,
        data={"buyer_id": story.facts["buyer_id"], "price_list_id": story.facts["price_list_id"]},
        files={"file": (BAD_ROWS, bad_bytes, XLSX)},
        expect=422,
    ).json()
    story.note(f"{BAD_ROWS}: {refused['error']['message']}")
    rows = refused["error"].get("details") or []
    if not rows:
        raise DemoFailed(f"a file with bad rows was refused without naming them: {refused}")
    for row in rows[:6]:
        reasons = row.get("reasons") or [row.get("reason") or row.get("message", "")]
        story.note(f"refused: row {row.get('row')} ({row.get('sku', '')}): {'; '.join(str(r) for r in reasons)}")
    not_a_sheet = story.call(
        "POST",
        "orders",
        "/api/v1/orders/import",
        actor=supplier,
        data={"buyer_id": story.facts["buyer_id"], "price_list_id": story.facts["price_list_id"]},
        files={"file": ("order.xlsx", b"this is not a spreadsheet", XLSX)},
        expect=422,
    ).json()
    story.note(f"a file that is not a spreadsheet: {not_a_sheet['error']['code']}")
    if story.call("GET", "orders", "/api/v1/orders", actor=supplier).json()["total"] != before:
        raise DemoFailed("a refused import created an order")

    story.step("The manager imports the file for the buyer: the order starts in Editing")
    imported = story.call(
        "POST",
        "orders",
        "/api/v1/orders/import",
        actor=supplier,
        data={"buyer_id": story.facts["buyer_id"], "price_list_id": story.facts["price_list_id"]},
        files={"file": ("order.xlsx", _import_file(story), XLSX)},
        expect=201,
    ).json()
    story.note(
        f"order {imported['number']} is '{imported['status']}': "
        + ", ".join(f"{ln['sku']} {ln['quantity']}" for ln in imported["lines"])
    )
    if imported["status"] != "editing":
        raise DemoFailed(f"an imported order starts in Editing, not {imported['status']}")

    story.step("The manager sends it to the buyer, who agrees")
    _transition(story, supplier, imported["order_id"], "awaiting_approval", "Заказ по вашей заявке")
    seen_by_buyer = story.call("GET", "orders", f"/api/v1/orders/{imported['order_id']}", actor=buyer).json()
    story.note(f"the buyer is asked to approve order {seen_by_buyer['number']} ('{seen_by_buyer['status']}')")
    agreed = _transition(story, buyer, imported["order_id"], "agreed")
    story.note(f"the buyer agreed: order {agreed['number']} is now '{agreed['status']}'")
    story.facts.update(imported_order_id=imported["order_id"], imported_number=imported["number"])


def chapter_scarce_stock(story: Story) -> None:
    """Scarce stock: two buyers compete for scarce stock; one order is split; rejecting the other frees stock."""
    supplier: Actor = story.facts["supplier"]
    first_buyer: Actor = story.facts["buyer"]
    wh = story.facts["warehouse_id"]

    story.step("A second buyer joins; a scarce product (10 gears) is opened to both buyers")
    second_buyer = _sign_up(story, "buyer", "ИП Сидоров", "Сергей Сидоров")
    second = _register_buyer(story, supplier, second_buyer, "ИП Сидоров", "500100732259")
    story.call(
        "POST",
        "inventory",
        "/api/v1/products",
        actor=supplier,
        json={"items": [{"sku": "GEAR-40", "name": "Шестерня Z40", "unit": "шт"}]},
    )
    story.call(
        "PUT",
        "inventory",
        "/api/v1/stock",
        actor=supplier,
        json={"items": [{"warehouse_id": wh, "sku": "GEAR-40", "on_hand": "10"}]},
    )
    scarce = _create_price_list(
        story,
        supplier,
        {
            "name": "Дефицит",
            "warehouse_ids": [wh],
            "auto_confirm": False,
            "items": [{"sku": "GEAR-40", "price": "450.00", "vat_rate": "20"}],
            "buyer_ids": [story.facts["buyer_id"], second["buyer_id"]],
        },
    )["price_list_id"]

    def gears() -> dict[str, Any] | None:
        answer = story.call(
            "GET", "inventory", f"/api/v1/price-lists/{scarce}/availability", actor=supplier, expect=(200, 404)
        )
        if answer.status_code == 404:
            return None
        items: list[dict[str, Any]] = answer.json()["items"]
        return items[0] if items else None

    story.wait_for("the scarce price list to reach inventory", gears)

    def place_and_confirm(buyer: Actor, quantity: str) -> str:
        placed = story.call(
            "POST",
            "orders",
            "/api/v1/orders",
            actor=buyer,
            json={"price_list_id": scarce, "lines": [{"sku": "GEAR-40", "warehouse_id": wh, "quantity": quantity}]},
            expect=201,
        ).json()
        _transition(story, supplier, placed["order_id"], "confirmed")
        return str(placed["order_id"])

    story.step("The first buyer orders 8 gears and the order is confirmed: 8 reserved, 2 left")
    first_order = place_and_confirm(first_buyer, "8")
    story.wait_for(
        "8 gears to be reserved",
        lambda: (g := gears()) is not None and Decimal(str(g["total_available"])) == 2,
    )

    story.step("The second buyer orders 6: 2 are reserved, the rest splits into a coming-soon part")
    second_order = place_and_confirm(second_buyer, "6")

    def second_split() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{second_order}", actor=second_buyer).json()
        return body if body.get("part_ids") else None

    root = story.wait_for("the second order to split", second_split)
    coming_id = root["part_ids"][0]
    coming = story.call("GET", "orders", f"/api/v1/orders/{coming_id}", actor=second_buyer).json()
    story.note(f"part {root['number']}: {root['lines'][0]['quantity']} reserved {root['lines'][0]['reserved']}")
    story.note(f"part {coming['number']}: {coming['lines'][0]['quantity']} reserved {coming['lines'][0]['reserved']}")

    story.step("Drill-down: who holds the gears (R-RSV-5)")
    holders = story.call(
        "GET", "inventory", f"/api/v1/stock/reserves?warehouse_id={wh}&sku=GEAR-40", actor=supplier
    ).json()
    for holder in holders["holders"]:
        if holder["kind"] == "order":
            number = holder.get("order_number")
            buyer_name = holder.get("buyer_name")
            if not number or not buyer_name:
                held = story.call("GET", "orders", f"/api/v1/orders/{holder['order_id']}", actor=supplier).json()
                number, buyer_name = held["number"], held["buyer_name"]
            story.note(f"order {number} of {buyer_name}: reserved {holder['reserved']} of {holder['requested']}")
        else:
            story.note(f"{holder['kind']} reserve ({holder.get('reason') or 'no reason'}): {holder['reserved']}")

    story.step("The supplier rejects the first order: its 8 gears go to the waiting coming-soon part")
    _transition(story, supplier, first_order, "rejected", "Нет договора")

    def coming_filled() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{coming_id}", actor=second_buyer).json()
        return body if body.get("reserve_status") == "full" else None

    filled = story.wait_for("the coming-soon part to be reserved from the freed stock", coming_filled)
    story.note(
        f"part {filled['number']}: reserved {filled['lines'][0]['reserved']} of {filled['lines'][0]['quantity']}"
    )
    rejected = story.call("GET", "orders", f"/api/v1/orders/{first_order}", actor=first_buyer).json()
    story.note(f"the first buyer sees order {rejected['number']} as '{rejected['status']}'")
    story.wait_for(
        "availability to settle at 4", lambda: (g := gears()) is not None and Decimal(str(g["total_available"])) == 4
    )
    story.note("gears: 10 on hand, 6 reserved for the second buyer's two parts, 4 available")

    story.step("A manual reserve for a phone order counts everywhere (R-RSV-3)")
    story.call(
        "PUT",
        "inventory",
        "/api/v1/manual-reserves",
        actor=supplier,
        json={"warehouse_id": wh, "sku": "GEAR-40", "quantity": "1", "reason": "заказ по телефону"},
    )
    story.wait_for(
        "availability to drop to 3", lambda: (g := gears()) is not None and Decimal(str(g["total_available"])) == 3
    )
    story.note("gears available in the price list: 3")
    story.facts.update(second_buyer=second_buyer, scarce_price_list_id=scarce)


def chapter_notifications(story: Story) -> None:
    """Notifications: each side's in-app inbox, unread markers per order, and the e-mails that went out."""
    supplier: Actor = story.facts["supplier"]
    buyer: Actor = story.facts["buyer"]

    for who, actor in (("supplier", supplier), ("buyer", buyer)):
        story.step(f"The {who}'s inbox")
        body = story.call("GET", "notifications", "/api/v1/notifications?limit=8", actor=actor).json()
        story.note(f"{body['total']} notifications, {body['unread']} unread, orders with news: {body['unread_orders']}")
        for item in body["items"]:
            mark = " " if item["read"] else "•"
            story.note(f"{mark} {item['title']}")
    unread = story.call("GET", "notifications", "/api/v1/notifications/unread", actor=buyer).json()
    first = unread["orders"][0] if unread["orders"] else None
    if first:
        story.step(f"The buyer opens order {first['order_number']}: its notifications are marked read")
        marked = story.call(
            "POST", "notifications", "/api/v1/notifications/read", actor=buyer, json={"order_id": first["order_id"]}
        ).json()
        after = story.call("GET", "notifications", "/api/v1/notifications/unread", actor=buyer).json()
        story.note(f"marked {marked['marked']}; orders with news now: {after['unread_orders']}")

    story.step("The e-mails sent for the supplier's orders")
    emails = story.call("GET", "notifications", "/api/v1/emails?status=sent&limit=200", actor=supplier).json()
    by_kind: dict[str, int] = {}
    for mail in emails["items"]:
        by_kind[mail["kind"]] = by_kind.get(mail["kind"], 0) + 1
    story.note(f"{emails['total']} sent: {by_kind}")
    failed = story.call("GET", "notifications", "/api/v1/emails?status=failed", actor=supplier).json()
    if failed["total"]:
        raise DemoFailed(f"{failed['total']} e-mails failed: {[m['last_error'] for m in failed['items']]}")
    mail_dir = Path(story.facts.get("mail_dir") or Path(os.environ.get("OMS_VAR_DIR", "var")) / "mail")
    if mail_dir.is_dir():
        from oms_shared.devstack.mailcatcher import read_mailbox

        caught = read_mailbox(mail_dir)
        story.note(f"the SMTP catcher holds {len(caught)} messages in {mail_dir}; the latest:")
        for message in caught[-3:]:
            story.note(f"  to {', '.join(message.envelope_to)}: {message.subject}")


def chapter_analytics(story: Story) -> None:
    """Analytics: the manager reads summaries by period, buyer and manager, with a chart and an Excel file."""
    supplier: Actor = story.facts["supplier"]
    today = date.today()
    since = (today - timedelta(days=30)).isoformat()
    query = f"date_from={since}&date_to={today.isoformat()}"

    story.step("The general summary of the last 30 days agrees with the order list")
    in_list = story.call("GET", "orders", "/api/v1/orders", actor=supplier).json()["total"]

    def caught_up() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call(
            "GET", "analytics", f"/api/v1/summary?{query}&interval=week", actor=supplier
        ).json()
        return body if body["orders_count"] == in_list else None

    summary = story.wait_for(f"analytics to count all {in_list} orders of the list", caught_up)
    story.note(
        f"orders {summary['orders_count']}, sum {summary['orders_sum']}, average {summary['average_order']}, "
        f"paid {summary['paid_sum']}"
    )
    # Two different figures: where the orders are now (one status each, shares add up to 100 %), and how many
    # ever got through a step (a shipped order was confirmed too, so those shares overlap).
    by_status = {k: v for k, v in summary["by_status"].items() if v["count"]}
    shares = whole_percents({k: v["count"] for k, v in by_status.items()})
    story.note("now, by current status (each order once; shares add up to 100 %):")
    for status, figure in by_status.items():
        story.note(f"  {status}: {figure['count']} orders, {figure['sum']} ({shares[status]} %)")
    story.note("ever reached, of all orders of the period (a shipped order counts as confirmed too):")
    for status in ("confirmed", "shipped", "rejected", "cancelled"):
        figure = summary[status]
        story.note(f"  ever {status}: {figure['count']} orders, {figure['sum']} ({figure['share']:.0%})")

    story.step("By buyer and by responsible manager")
    for group_by in ("buyer", "manager"):
        grouped = story.call("GET", "analytics", f"/api/v1/summary?{query}&group_by={group_by}", actor=supplier).json()
        for group in grouped.get("groups", [])[:5]:
            story.note(
                f"{group_by} {group.get('name') or group.get('key')}: {group['orders_count']} orders, "
                f"{group['orders_sum']}"
            )

    story.step("The orders behind the 'shipped' figure")
    details = story.call("GET", "analytics", f"/api/v1/summary/details?{query}&figure=shipped", actor=supplier).json()
    story.note(f"{details['total']} shipped: {[item.get('number') for item in details['items'][:5]]}")

    story.step("A chart and an Excel file of the summary")
    out_dir = Path(story.facts.get("out_dir") or Path(os.environ.get("OMS_VAR_DIR", "var")) / "demo")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, content_type in (("chart.png", "image/png"), ("chart.svg", "image/svg"), ("export.xlsx", XLSX)):
        answer = story.call("GET", "analytics", f"/api/v1/summary/{name}?{query}", actor=supplier)
        if not answer.headers.get("content-type", "").startswith(content_type):
            raise DemoFailed(f"{name} came as {answer.headers.get('content-type')}")
        path = out_dir / f"summary-{name}"
        path.write_bytes(answer.content)
        story.note(f"saved {path} ({len(answer.content):,} bytes)")
    story.facts["analytics_files"] = sorted(str(p) for p in out_dir.glob("summary-*"))


def _one_c(story: Story, mode: str, cookie: str, *, content: bytes | None = None, filename: str = "") -> httpx.Response:
    """A call as 1C makes it: one URL, the mode in the query string, the session cookie from checkauth."""
    params = {"type": "sale", "mode": mode, **({"filename": filename} if filename else {})}
    answer = story.call(
        "POST" if content is not None else "GET",
        "erp-bridge",
        "/exchange/1c",
        params=params,
        content=content,
        headers={"Cookie": f"oms_exchange={cookie}"},
        expect=200,
    )
    if answer.text.startswith("failure"):
        raise DemoFailed(f"1C's {mode} failed: {answer.text}")
    return answer


def _requisites(*pairs: tuple[str, str]) -> str:
    return "".join(
        f"<ЗначениеРеквизита><Наименование>{name}</Наименование><Значение>{value}</Значение></ЗначениеРеквизита>"
        for name, value in pairs
    )


def _goods(lines: list[tuple[str, str, str]]) -> str:
    """1C's goods lines (SKU as `Артикул`, quantity, price with VAT) of a shipment document."""
    return "".join(
        f"<Товар><Ид>{sku}</Ид><Артикул>{sku}</Артикул><Наименование>{sku}</Наименование>"
        f"<ЦенаЗаЕдиницу>{price}</ЦенаЗаЕдиницу><Количество>{quantity}</Количество>"
        f"<Сумма>{Decimal(price) * Decimal(quantity)}</Сумма></Товар>"
        for sku, quantity, price in lines
    )


def _documents_file(order_id: str, number: str, version: str, status: str, shipments: list[str]) -> bytes:
    """1C's documents file: in one `Контейнер`, the order (status only, no lines) and its shipment documents."""
    today = date.today().isoformat()
    order = (
        f"<Документ><Ид>{order_id}</Ид><Номер>{number}</Номер><Номер1С>УТ-00{number}   </Номер1С>"
        f"<Дата1С>{today}</Дата1С><НомерВерсии>{version}</НомерВерсии><ХозОперация>Заказ товара</ХозОперация>"
        f"<Роль>Продавец</Роль><ЗначенияРеквизитов>"
        + _requisites(("Проведен", "true"), ("Статус заказа", status))
        + "</ЗначенияРеквизитов></Документ>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<КоммерческаяИнформация ВерсияСхемы="3.1" '
        f'ДатаФормирования="{today}T12:00:00"><Контейнер>{order}{"".join(shipments)}</Контейнер>'
        f"</КоммерческаяИнформация>\n"
    ).encode()


def _shipment(number: str, lines: list[tuple[str, str, str]]) -> str:
    """`Отпуск товара`: the goods 1C shipped, posted."""
    today = date.today().isoformat()
    return (
        f"<Документ><Ид>ship-{number}</Ид><Номер>{number}</Номер><Дата>{today}</Дата>"
        f"<ХозОперация>Отпуск товара</ХозОперация><Роль>Продавец</Роль><Товары>{_goods(lines)}</Товары>"
        f"<ЗначенияРеквизитов>{_requisites(('Проведен', 'true'), ('Дата отгрузки по 1С', today))}"
        f"</ЗначенияРеквизитов></Документ>"
    )


def chapter_erp(story: Story) -> None:
    """The ERP: 1C takes the confirmed orders (a split part too) over CommerceML, ships one in two shipments, and
    OMS shows what was shipped per line, then the order shipped."""
    supplier: Actor = story.facts["supplier"]
    order_id, number = story.facts["order_id"], story.facts["number"]

    story.step("The supplier connects its 1C: the login and password 1C will use for the exchange")
    login, password = f"1c-{uuid.uuid4().hex[:8]}", f"exchange-{uuid.uuid4().hex[:8]}"
    story.call(
        "PUT",
        "erp-bridge",
        "/api/v1/erp/connection",
        actor=supplier,
        json={"login": login, "password": password, "status_map": {"Отгружен": "shipped"}},
        expect=200,
    )

    story.step("1C logs in (checkauth, init) and asks for new and changed orders (query)")
    answer = story.call(
        "GET", "erp-bridge", "/exchange/1c", params={"type": "sale", "mode": "checkauth"}, auth=(login, password)
    )
    status, _name, cookie, *_ = [*answer.text.split("\n"), "", "", ""]
    if status != "success":
        raise DemoFailed(f"1C could not log in: {answer.text}")
    story.note(f"init: {_one_c(story, 'init', cookie).text.replace(chr(10), ', ')}")
    parts = [
        story.call("GET", "orders", f"/api/v1/orders/{p}", actor=supplier).json()
        for p in story.facts.get("lifecycle_parts", [])
    ]
    wanted = [number, *(part["number"] for part in parts)]

    def exported() -> httpx.Response | None:
        xml = _one_c(story, "query", cookie)
        return xml if all(f"<Номер>{n}</Номер>".encode() in xml.content for n in wanted) else None

    xml = story.wait_for(f"orders {', '.join(wanted)} in 1C's query", exported)
    story.note(f"{xml.headers['content-type']}, {len(xml.content):,} bytes, {xml.text.count('<Документ>')} orders")
    for part in parts:
        story.note(
            f"split part {part['number']} goes to 1C as its own document: "
            + ", ".join(f"{ln['sku']} {ln['quantity']}" for ln in part["lines"])
            + f", total {part['total']}"
        )
    _one_c(story, "success", cookie)
    story.note("1C confirmed it took them (mode=success): they are not sent again until they change")

    order = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier).json()
    lines = [(ln["sku"], ln["quantity"], ln["price"]) for ln in order["lines"]]
    first, rest = lines[:1], lines[1:]
    wh = story.facts["warehouse_id"]

    def stock_of(sku: str) -> dict[str, Any]:
        body = story.call("GET", "inventory", f"/api/v1/stock?warehouse_id={wh}&sku={sku}", actor=supplier).json()
        rows: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
        return rows[0]

    before = stock_of(first[0][0])
    story.step(f"In 1C part of order {number} is shipped ({first[0][0]}); 1C sends the order with its shipment")
    shipments = [_shipment("РТ-0001", first)]
    document = _documents_file(order_id, number, "demo-1", "Отгружается частями", shipments)
    story.note(_one_c(story, "file", cookie, content=document, filename="documents.xml").text.replace("\n", " | "))

    story.step(f"OMS shows what left per line; order {number} stays confirmed; inventory holds only the rest")

    def partly_shipped() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier).json()
        shipped = [Decimal(str(ln.get("shipped", "0"))) for ln in body["lines"]]
        return body if shipped and shipped[0] > 0 else None

    body = story.wait_for(f"order {number} to show its shipped quantities", partly_shipped)
    if body["status"] != "confirmed":
        raise DemoFailed(f"a partly shipped order should stay confirmed, not {body['status']}")
    story.note(
        f"order {number} ({body['status']}): "
        + ", ".join(f"{ln['sku']} shipped {ln['shipped']} of {ln['quantity']}" for ln in body["lines"])
    )
    story.note(f"history: {body['history'][-1]['comment']!r} (by {body['history'][-1]['by_side']})")
    story.facts["erp_partly_shipped"] = {ln["sku"]: ln["shipped"] for ln in body["lines"]}
    left = Decimal(str(before["on_hand"])) - Decimal(first[0][1])

    def consumed() -> dict[str, Any] | None:
        row = stock_of(first[0][0])
        return row if Decimal(str(row["on_hand"])) == left else None

    after = story.wait_for(f"{first[0][1]} {first[0][0]} to leave the warehouse", consumed)
    story.note(
        f"{first[0][0]} on hand {before['on_hand']} → {after['on_hand']}, "
        f"reserved {before['reserved']} → {after['reserved']}"
    )

    story.step("In 1C the rest is shipped; 1C sends the order again with both shipments")
    shipments.append(_shipment("РТ-0002", rest))
    document = _documents_file(order_id, number, "demo-1", "Отгружается частями", shipments)
    story.note(_one_c(story, "file", cookie, content=document, filename="documents-2.xml").text.replace("\n", " | "))

    story.step(f"OMS shows order {number} shipped, by the ERP")

    def shipped() -> dict[str, Any] | None:
        body: dict[str, Any] = story.call("GET", "orders", f"/api/v1/orders/{order_id}", actor=supplier).json()
        return body if body["status"] == "shipped" else None

    body = story.wait_for(f"order {number} to be shipped", shipped)
    last = body["history"][-1]
    if last["by_side"] != "erp":
        raise DemoFailed(f"order {number} was shipped by {last['by_side']}, expected the ERP")
    story.note(
        f"order {number}: '{body['status']}' (by {last['by_side']}): "
        + ", ".join(f"{ln['sku']} shipped {ln['shipped']} of {ln['quantity']}" for ln in body["lines"])
    )
    log = story.call("GET", "erp-bridge", "/api/v1/erp/exchanges", actor=supplier, params={"limit": 20}).json()
    story.note(f"exchange log: {[(i['kind'], i['outcome']) for i in reversed(log['items'])]}")
    story.facts["erp_shipped_order_id"] = order_id


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The demo's file with bad rows, shipped with the package (written by LibreOffice Calc, like a user's).
BAD_ROWS = "import_bad_rows.xlsx"


def whole_percents(counts: dict[str, int]) -> dict[str, int]:
    """Shares in whole percents that add up to exactly 100 (largest remainders get the rounding)."""
    whole = sum(counts.values())
    if not whole:
        return {k: 0 for k in counts}
    exact = {k: Decimal(100 * n) / whole for k, n in counts.items()}
    floors = {k: int(v.to_integral_value(rounding=ROUND_DOWN)) for k, v in exact.items()}
    left = 100 - sum(floors.values())
    for k in sorted(exact, key=lambda k: exact[k] - floors[k], reverse=True)[:left]:
        floors[k] += 1
    return floors


CHAPTERS: list[Callable[[Story], None]] = [
    chapter_thin_slice,
    chapter_order_lifecycle,
    chapter_excel_import,
    chapter_scarce_stock,
    chapter_notifications,
    chapter_analytics,
    chapter_erp,
]


def play(urls: dict[str, str], say: Callable[[str], None] = print, facts: dict[str, Any] | None = None) -> Story:
    """Play every chapter; raises ``DemoFailed`` at the first step that goes wrong."""
    with httpx.Client(timeout=15.0, trust_env=False) as client:
        story = Story(urls=urls, client=client, say=say, facts=dict(facts or {}))
        for chapter in CHAPTERS:
            say(f"== {(chapter.__doc__ or chapter.__name__).strip()}")
            chapter(story)
        say("demo: the story played through")
        return story
