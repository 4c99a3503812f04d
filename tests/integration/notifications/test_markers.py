"""The inbox, the badge and the "changed since you looked" markers agree (R-NT-2, R-UI-8)."""

from __future__ import annotations

from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app
from oms_shared.contracts import LineChange
from tests.integration.notifications.support import World, inbox, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import eventually, running_service


async def test_an_order_page_shows_its_unseen_lines_and_opening_it_clears_the_badge(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-2, R-UI-8: the inbox names each notification's order by number, buyer and supplier; one order's markers
    say which of its lines changed since the caller looked; marking the order read (on opening it) answers the
    new counts, and the badge, the inbox and the markers agree before and after."""
    private = keys[0]
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port))
        async with running_service(app) as client, publisher(kafka) as send:
            for event in world.setup_events():
                await send(event)

            async def replicas_ready() -> bool:
                return await processed(client, "buyer.updated") >= 2 and await processed(client, "account.updated") >= 2

            await eventually(replicas_ready)
            first, second = world.order_placed(number="1001"), world.order_placed(number="1002")
            line = first.data.lines[1]
            for event in (
                first,
                second,
                world.changed(
                    first,
                    "lines_edited",
                    world.manager,
                    line_changes=[LineChange(line_id=line.line_id, sku="SKU-2", field="quantity", old="4", new="3")],
                ),
            ):
                await send(event)
            owner = world.owner.headers(private)

            async def all_three_arrived() -> bool:
                return (await inbox(client, world.owner, private))["total"] == 3

            await eventually(all_three_arrived, timeout=15)
            listed = await inbox(client, world.owner, private)
            assert {(n["order_number"], n["buyer_name"], n["supplier_name"]) for n in listed["items"]} == {
                ("1001", "ООО Покупатель", "Поставщик"),
                ("1002", "ООО Покупатель", "Поставщик"),
            }
            assert (listed["unread"], listed["unread_orders"]) == (3, 2)

            url = "/api/v1/notifications/unread"
            markers = (await client.get(url, params={"order_id": str(first.data.order_id)}, headers=owner)).json()
            assert (markers["unread"], markers["unread_orders"]) == (3, 2)  # the badge, whatever the order asked
            [order] = markers["orders"]
            assert (order["order_number"], order["buyer_name"], order["unread"]) == ("1001", "ООО Покупатель", 2)
            assert order["kinds"] == ["new_order", "lines_edited"]
            assert order["changed_line_ids"] == [str(line.line_id)]

            r = await client.post(
                "/api/v1/notifications/read", json={"order_id": str(first.data.order_id)}, headers=owner
            )
            assert r.status_code == 200, r.text
            assert r.json() == {"marked": 2, "unread": 1, "unread_orders": 1}
            markers = (await client.get(url, params={"order_id": str(first.data.order_id)}, headers=owner)).json()
            assert markers == {"unread": 1, "unread_orders": 1, "orders": []}
            everything = (await client.get(url, headers=owner)).json()
            assert [o["order_number"] for o in everything["orders"]] == ["1002"]
            listed = await inbox(client, world.owner, private, unread=True)
            assert (listed["total"], listed["unread"], listed["unread_orders"]) == (1, 1, 1)
            # Another user's markers are their own: the full-access employee still has all three unseen.
            assert (await inbox(client, world.full, private))["unread"] == 3
