"""R-UI-11: the supplier's products in the console (inventory's catalogue): searched and paged, created with an SKU
that is not in use, name and unit changed; bad input is said next to the field and nothing is sent."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.console.conftest import Console


def products(*items: tuple[str, str, str], total: int | None = None) -> dict[str, Any]:
    rows = [{"sku": sku, "name": name, "unit": unit} for sku, name, unit in items]
    return {"items": rows, "total": len(rows) if total is None else total, "limit": 50, "offset": 0}


def test_products_are_listed_searched_and_paged(console: Console) -> None:
    """R-UI-11: the list asks inventory for the search and the page; the pager offers the next page."""
    console.signed_in_as_staff()
    listed = console.services.inventory.get("/api/v1/products").respond(
        200, json=products(("BOLT-M8", "Болт М8×40", "шт"), total=120)
    )
    page = console.get("/settings/products?q=болт&page=2")
    assert page.status_code == 200
    params = listed.calls.last.request.url.params
    assert (params["q"], params["offset"], params["limit"]) == ("болт", "50", "50")
    assert "Болт М8×40" in page.text and 'href="/settings/products/edit?sku=BOLT-M8"' in page.text
    assert 'rel="next"' in page.text and 'rel="prev"' in page.text
    partial = console.htmx_get("/settings/products?q=болт", headers={"HX-Target": "results"})
    assert "Болт М8×40" in partial.text and "<html" not in partial.text
    console.client.cookies.set("oms_locale", "en", domain="console.test", path="/")
    assert "New product" in console.get("/settings/products").text


def test_a_product_is_created_with_a_new_sku(console: Console) -> None:
    """R-UI-11: a new SKU is sent to inventory with its name and unit; the list then shows it."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/products").respond(200, json=products(("SCREW-50", "Саморез", "шт")))
    created = console.services.inventory.post("/api/v1/products").respond(200, json={"items": []})
    answer = console.post("/settings/products", {"sku": " SCREW-5 ", "name": "Саморез 5×50", "unit": "шт"})
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/settings/products?q=SCREW-5&done=created"
    assert json.loads(created.calls.last.request.content) == {
        "items": [{"sku": "SCREW-5", "name": "Саморез 5×50", "unit": "шт"}]
    }


def test_an_sku_in_use_is_refused_on_its_field(console: Console) -> None:
    """R-UI-11: creating an SKU that exists would overwrite that product: refused, what was typed stays."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/products").respond(200, json=products(("BOLT-M8", "Болт", "шт")))
    created = console.services.inventory.post("/api/v1/products").respond(200, json={"items": []})
    answer = console.post("/settings/products", {"sku": "BOLT-M8", "name": "Другой болт", "unit": "шт"})
    assert answer.status_code == 422 and not created.called
    assert "Товар с таким артикулом уже есть." in answer.text and 'aria-describedby="sku-error"' in answer.text
    assert 'value="Другой болт"' in answer.text


def test_bad_product_input_is_refused_before_calling(console: Console) -> None:
    """R-UI-11: no SKU, no name, a unit too long: messages next to each field, nothing sent."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/products").respond(200, json=products())
    created = console.services.inventory.post("/api/v1/products").respond(200, json={"items": []})
    answer = console.post("/settings/products", {"sku": " ", "name": "", "unit": "x" * 31})
    assert answer.status_code == 422 and not created.called
    for field in ("sku", "name", "unit"):
        assert f'id="{field}-error"' in answer.text
    assert "Не больше 30 символов." in answer.text


def test_a_product_name_and_unit_are_changed(console: Console) -> None:
    """R-UI-11: the edit page shows the SKU (fixed) and saves the name and unit; an unknown SKU is 404."""
    console.signed_in_as_staff()
    console.services.inventory.get("/api/v1/products").respond(
        200, json=products(("BOLT-M8/40", "Болт", "шт"), ("BOLT-M8/400", "Болт длинный", "шт"))
    )
    page = console.get("/settings/products/edit?sku=BOLT-M8%2F40")
    assert page.status_code == 200 and 'value="Болт"' in page.text and 'value="BOLT-M8/40"' in page.text
    saved = console.services.inventory.post("/api/v1/products").respond(200, json={"items": []})
    answer = console.post("/settings/products/edit", {"sku": "BOLT-M8/40", "name": "Болт М8×40", "unit": "упак"})
    assert answer.status_code == 303
    assert json.loads(saved.calls.last.request.content)["items"] == [
        {"sku": "BOLT-M8/40", "name": "Болт М8×40", "unit": "упак"}
    ]
    empty = console.post("/settings/products/edit", {"sku": "BOLT-M8/40", "name": " ", "unit": "шт"})
    assert empty.status_code == 422 and 'id="name-error"' in empty.text and saved.call_count == 1
    assert console.get("/settings/products/edit?sku=NOPE").status_code == 404


def test_a_buyer_has_no_products_screen(console: Console) -> None:
    """R-UI-11: settings are the supplier's: a buyer gets 404."""
    assert console.signed_in_as_buyer().get("/settings/products").status_code == 404
