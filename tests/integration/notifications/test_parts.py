"""A part split off an order is announced even when its split event outruns its order.placed."""

from __future__ import annotations

from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app
from oms_shared.contracts import LineChange, OrderStatus
from tests.integration.notifications.support import World, inbox, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import eventually, running_service


async def test_split_part_is_announced_before_its_order_placed_arrives(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-3 (lines moved to another part), R-SPL-1: topics are not ordered against each other, so the
    split event of a new part can arrive before the part's order.placed; the buyer still hears of it."""
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port))
        async with running_service(app) as client, publisher(kafka) as send:
            for event in world.setup_events():
                await send(event)
            root = world.order_placed(number="1024")
            await send(root)
            await send(world.status_changed(root, OrderStatus.CONFIRMED, world.owner))

            async def buyer_told_of_the_confirmation() -> None:
                items = (await inbox(client, world.buyer1, keys[0]))["items"]
                assert any(n["order_number"] == "1024" for n in items), items

            await eventually(buyer_told_of_the_confirmation)  # the split comes after the reserve, later
            part = world.order_placed(number="1024-1", parent_order_id=root.data.order_id, status=OrderStatus.CONFIRMED)
            moved = root.data.lines[1]
            split = world.changed(
                part,
                "split",
                None,
                line_changes=[LineChange(line_id=moved.line_id, sku=moved.sku, field="moved", new="1024-1")],
            )
            split = split.model_copy(
                update={"data": split.data.model_copy(update={"related_order_ids": [root.data.order_id]})}
            )
            await send(split)  # before the part's own order.placed

            async def buyer_told_of_the_part() -> None:
                items = (await inbox(client, world.buyer1, keys[0]))["items"]
                assert any(n["order_number"] == "1024-1" for n in items), items

            await eventually(buyer_told_of_the_part)
            await send(part)
            await eventually(lambda: _seen(client, "order.placed", 2))
            assert await processed(client, "order.changed") == 1  # handled, not dead-lettered


async def _seen(client: object, event_type: str, count: int) -> bool:
    """Applied, at once or after waiting parked for what it needs (never dead-lettered: checked apart)."""
    applied = await processed(client, event_type) + await processed(client, event_type, outcome="unparked")  # type: ignore[arg-type]
    return applied >= count
