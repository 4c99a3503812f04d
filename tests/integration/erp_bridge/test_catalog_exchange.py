"""The 1C catalog exchange over HTTP: products → the SKU map, offers/rests → stock events on the broker (R-ERP-2)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.integration.erp_bridge.support_catalog import (
    OneC,
    add_warehouses,
    catalog_app,
    connect,
    items_of,
    sample,
    stock_events,
    wait_warehouses,
)
from tests.support.services import bearer, running_service, token_for

# The three 1C warehouses of sample 09, and the four of sample 10 that carry stock.
VLADIVOSTOK, NOVOSIBIRSK, MOSCOW = (
    "6abdb0b5-18fd-11e7-80c2-0cc47ab29cd1",
    "d2a52d49-19c9-11e7-80c2-0cc47ab29cd1",
    "dd306af1-19c9-11e7-80c2-0cc47ab29cd1",
)
RESTS_WAREHOUSES = (
    "a3d8885d-d931-11e6-a8e7-38d547224d22",
    "ebab87fa-bcf4-11e6-b36c-38d547224d22",
    "c7ceb2f4-833b-11e7-b922-38d547224d22",
    "9bf5be08-af08-11e7-a56d-38d547224d22",
)
RUG = "bd8c4e15-18f9-11e7-80c2-0cc47ab29cd1"  # product PM-421-WP of sample 08

# Ours: a changes-only offers file for two characteristics of sample 08's rug, without Артикул (the SKU comes
# from the map the catalog built), one with negative stock.
CHARACTERISTICS = f"""<?xml version="1.0" encoding="UTF-8"?>
<КоммерческаяИнформация ВерсияСхемы="2.07">
  <ПакетПредложений СодержитТолькоИзменения="true">
    <Склады><Склад><Ид>{MOSCOW}</Ид><Наименование>Москва</Наименование></Склад></Склады>
    <Предложения>
      <Предложение><Ид>{RUG}#size-l</Ид><Наименование>Коврик L</Наименование>
        <Склад ИдСклада="{MOSCOW}" КоличествоНаСкладе="3"/><Склад ИдСклада="{VLADIVOSTOK}" КоличествоНаСкладе="-2"/>
      </Предложение>
      <Предложение><Ид>{RUG}#size-xl</Ид><Наименование>Коврик XL</Наименование>
        <Склад ИдСклада="{MOSCOW}" КоличествоНаСкладе="4,5"/>
      </Предложение>
    </Предложения>
  </ПакетПредложений>
</КоммерческаяИнформация>
""".encode()


def quantities(events: list[dict[str, Any]], sku: str, warehouses: dict[str, str]) -> dict[str, Decimal]:
    """{warehouse label: on hand} of one SKU."""
    items = items_of(events)
    return {label: Decimal(items[(wid, sku)]["on_hand"]) for label, wid in warehouses.items() if (wid, sku) in items}


async def log_of(client: httpx.AsyncClient, token: str, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/erp/exchanges", params={"limit": 200, **params}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["items"]))  # oldest first


async def test_a_1c_catalog_session_maps_products_and_publishes_stock_per_warehouse(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-2, R-ERP-6: 1C sends import0_1.xml (in two pieces) and offers0_1.xml with three warehouses. The
    catalog is imported in steps (progress, then success) into the 1C product ↔ SKU map; the offers fail first,
    naming the one 1C warehouse that matches no OMS warehouse, and publish nothing; once the supplier maps it the
    repeated import publishes one full snapshot per warehouse with the file's quantities and prices. A rests file
    (sample 10) and characteristics of a known product arrive as changes."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    app = catalog_app(database_url, tmp_path, service_env, import_batch=10)
    async with running_service(app) as client:
        await connect(client, token)
        moscow, vladivostok, novosibirsk = await add_warehouses(
            kafka,
            tenant,
            ("MSK", " москва "),  # the same name as 1C's «Москва»
            (VLADIVOSTOK.upper(), "Дальний Восток"),  # its code is 1C's Ид
            ("NSK", "Склад в Новосибирске"),  # matches nothing: mapped by hand
        )
        await wait_warehouses(client, token, 3)
        onec = OneC(client)
        await onec.start()

        await onec.send("import0_1.xml", sample("08"), pieces=2)
        answers = await onec.import_file("import0_1.xml")
        assert [a[0] for a in answers] == ["progress"] * 3 + ["success"]
        assert answers[0][1] == "products 10 of 36" and answers[2][1] == "products 30 of 36"
        assert "36 mapped to SKUs" in "\n".join(answers[-1])
        assert (await onec.call("import", filename="import0_1.xml"))[0] == "success"  # repeated: nothing twice

        await onec.send("offers0_1.xml", sample("09"))
        failed = await onec.call("import", filename="offers0_1.xml")
        assert failed[0] == "failure"
        assert f"map 1C warehouse {NOVOSIBIRSK} «Новосибирск»" in "\n".join(failed)
        assert MOSCOW not in "\n".join(failed) and VLADIVOSTOK not in "\n".join(failed)

        r = await client.put(
            f"/api/v1/erp/warehouses/{novosibirsk}", json={"erp_id": NOVOSIBIRSK}, headers=bearer(token)
        )
        assert r.status_code == 200 and r.json()["erp_id"] == NOVOSIBIRSK, r.text
        done = await onec.call("import", filename="offers0_1.xml")
        assert done[0] == "success" and done[1] == "full snapshot: 3 warehouses, 132 items (44 SKUs)", done
        # R-ERP-4: 1C's offers report stock, not reserves: the reserves made in 1C are left as they are, and said so.
        assert done[-1] == "Integration reserves unchanged: 1C's offers report stock, not reserves", done
        assert await onec.call("import", filename="offers0_1.xml") == done  # repeated: the same answer, no events

        # Sample 10 (rests, changes only): its four warehouses with stock match OMS warehouses by code.
        rests_ids = await add_warehouses(
            kafka, tenant, *((erp_id, f"Rests {n}") for n, erp_id in enumerate(RESTS_WAREHOUSES))
        )
        await wait_warehouses(client, token, 7)
        await onec.send("rests___0f1e.xml", sample("10"))
        rests = await onec.call("import", filename="rests___0f1e.xml")
        assert rests[0] == "success" and rests[1] == "changes: 4 warehouses, 8 items (2 SKUs)", rests
        assert "without stock and without a mapping skipped" in "\n".join(rests)

        await onec.send("offers___chars.xml", CHARACTERISTICS)
        chars = await onec.call("import", filename="offers___chars.xml")
        assert chars[0] == "success" and "negative stock from 1C counted as 0 in 1 items" in chars, chars

        events = await stock_events(kafka, expect=3 + 4 + 2)
        r = await client.get("/api/v1/erp/warehouses", headers=bearer(token))
        mapped = {w["warehouse_id"]: w["erp_id"] for w in r.json()["items"]}
        products = await client.get("/api/v1/erp/products", params={"q": "pm-421-wp"}, headers=bearer(token))
        log = await log_of(client, token, kind="catalog.import")

    assert len(events) == 9  # the failed import published nothing, the repeated ones nothing more
    offers = [e for e in events if e["data"]["mode"] == "full"]
    characteristics = [e for e in events if e["data"]["items"][0]["sku"] == "PM-421-WP" and e not in offers]
    rest = [e for e in events if e not in offers and e not in characteristics]
    assert (len(offers), len(rest), len(characteristics)) == (3, 4, 2)
    assert {e["aggregate_id"] for e in offers} == {moscow, vladivostok, novosibirsk}
    assert all(e["data"]["mode"] == "full" and len(e["data"]["items"]) == 44 for e in offers)
    assert all(item["integration_reserved"] is None for e in events for item in e["data"]["items"])
    where = {"Москва": moscow, "Владивосток": vladivostok, "Новосибирск": novosibirsk}
    assert quantities(offers, "PM-421-WP", where) == {"Москва": 376, "Владивосток": 1, "Новосибирск": 0}
    assert quantities(offers, "PM-421-LE", where) == {"Москва": 5, "Владивосток": 1, "Новосибирск": 5}
    rug = items_of(offers)[(moscow, "PM-421-WP")]
    assert (Decimal(rug["price"]), rug["unit"]) == (Decimal(100), "Штука")
    assert rug["name"] == "Портативный коврик Portable 140x200x1 см, Деревянные лошадки"
    assert (vladivostok, "HKS-345-SW") in items_of(offers)  # an offer whose product was not in import0_1.xml

    assert all(e["data"]["mode"] == "changes" for e in rest + characteristics)
    by_code = dict(zip(RESTS_WAREHOUSES, rests_ids, strict=True))
    assert {mapped[w] for w in rests_ids} == set(RESTS_WAREHOUSES)  # matched automatically and remembered
    rest_items = items_of(rest)
    assert Decimal(rest_items[(by_code[RESTS_WAREHOUSES[0]], "6c4e0c4b-6c2c-11e7-81d6-38d547224d22")]["on_hand"]) == 4
    assert Decimal(rest_items[(by_code[RESTS_WAREHOUSES[3]], "6c4e0c4d-6c2c-11e7-81d6-38d547224d22")]["on_hand"]) == 7
    assert quantities(characteristics, "PM-421-WP", where) == {"Москва": Decimal("7.5"), "Владивосток": 0}

    assert products.json()["total"] == 1
    assert products.json()["items"][0] | {"updated_at": None} == {
        "erp_id": RUG,
        "sku": "PM-421-WP",
        "name": "Портативный коврик Portable 140x200x1 см, Деревянные лошадки",
        "unit": "Штука",
        "updated_at": None,
    }
    assert [(e["outcome"], e["filename"]) for e in log] == [
        *[("progress", "import0_1.xml")] * 3,
        ("success", "import0_1.xml"),
        ("success", "import0_1.xml"),
        ("failure", "offers0_1.xml"),
        ("success", "offers0_1.xml"),
        ("success", "offers0_1.xml"),
        ("success", "rests___0f1e.xml"),
        ("success", "offers___chars.xml"),
    ]
    assert NOVOSIBIRSK in log[5]["detail"]


async def test_bad_files_fail_with_reasons_and_publish_nothing(
    database_url: str, kafka: str, keys: tuple[Path, Path], service_env: dict[str, object], tmp_path: Path
) -> None:
    """R-ERP-2, R-ERP-6: a malformed file, an orders document sent to the catalog channel (named like a catalog),
    a number 1C cannot have meant, a file of no known kind and offers for warehouses nobody mapped: each answers
    ``failure`` with its reason, publishes nothing, imports nothing, and the log lists each as a failure."""
    tenant = uuid.uuid4()
    token = token_for(keys[0], account_id=tenant)
    bad_number = sample("09").replace('КоличествоНаСкладе="1"'.encode(), 'КоличествоНаСкладе="один"'.encode(), 1)
    assert bad_number != sample("09")
    files = {
        "import.xml": (b'<?xml version="1.0" encoding="UTF-8"?>\n<\xd0\x9a\xd0\xbe><broken', "not well-formed"),
        "import0_1.xml": (sample("01"), "orders document"),
        "offers_bad.xml": (bad_number, "'один' is not a number"),
        "empty.xml": ('<КоммерческаяИнформация ВерсияСхемы="2.07"/>'.encode(), "not a catalog, offers or rests"),
        "offers0_1.xml": (sample("09"), "nothing imported"),
    }
    app = catalog_app(database_url, tmp_path, service_env)
    async with running_service(app) as client:
        await connect(client, token)
        (main,) = await add_warehouses(kafka, tenant, ("MAIN", "Основной склад"))
        await wait_warehouses(client, token, 1)
        onec = OneC(client)
        await onec.start()
        answers = {}
        for name, (data, _) in files.items():
            await onec.send(name, data)
            answers[name] = await onec.call("import", filename=name)
        never_sent = await onec.call("import", filename="offers.xml")

        # Then something valid: the first stock event on the broker must be this one.
        r = await client.post(
            "/api/v1/erp/stock",
            json={"mode": "changes", "items": [{"warehouse_id": main, "sku": "SENTINEL", "on_hand": 1}]},
            headers=bearer(token),
        )
        assert r.status_code == 202, r.text
        events = await stock_events(kafka, expect=1)
        products = await client.get("/api/v1/erp/products", headers=bearer(token))
        failures = await log_of(client, token, kind="catalog.import", outcome="failure")
        warehouses = await wait_warehouses(client, token, 1)

    for name, (_, reason) in files.items():
        assert answers[name][0] == "failure" and reason in "\n".join(answers[name]), (name, answers[name])
    unmapped = "\n".join(answers["offers0_1.xml"])
    assert all(f"map 1C warehouse {w}" in unmapped for w in (VLADIVOSTOK, NOVOSIBIRSK, MOSCOW))
    assert never_sent[0] == "failure" and "was not received" in never_sent[1]
    assert [e["data"]["items"][0]["sku"] for e in events] == ["SENTINEL"]
    assert products.json()["total"] == 0
    assert warehouses[0]["erp_id"] is None
    assert [(f["filename"], f["outcome"]) for f in failures] == [(n, "failure") for n in [*files, "offers.xml"]]
    assert "orders document" in failures[1]["detail"]
