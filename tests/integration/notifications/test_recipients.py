"""The recipients replica follows the newest account and buyer snapshots, whatever order they arrive in."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from oms_devstack.mailcatcher import MailCatcher
from oms_notifications.app import create_app
from oms_shared.contracts import AccountUpdatedV1, BuyerUpdatedV1
from tests.integration.notifications.support import World, inbox, processed, publisher
from tests.integration.notifications.test_thin_slice import settings
from tests.support.services import WAIT_SCALE, eventually, running_service


async def test_recipients_follow_the_newest_snapshots(
    database_url: str, service_env: dict[str, object], keys: tuple[Path, Path], kafka: str, tmp_path: Path
) -> None:
    """R-NT-1: a user removed from the account is no longer told; an older snapshot arriving late does not bring
    them back; a manager newly assigned to the buyer is told of its next order."""
    private = keys[0]
    world = World()
    with MailCatcher(tmp_path / "mail") as catcher:
        assert catcher.port is not None
        app = create_app(settings(database_url, service_env, catcher.port))
        async with running_service(app) as client, publisher(kafka) as send:
            setup = world.setup_events()
            supplier_v1 = setup[0]
            assert isinstance(supplier_v1, AccountUpdatedV1)
            for event in setup:
                await send(event)
            # Newer: the full-access employee left the company; the restricted manager now also manages this buyer.
            without_full = supplier_v1.model_copy(
                update={
                    "event_id": uuid.uuid4(),
                    "occurred_at": supplier_v1.occurred_at + timedelta(seconds=5),
                    "data": supplier_v1.data.model_copy(
                        update={"users": [u for u in supplier_v1.data.users if u.user_id != world.full.user_id]}
                    ),
                }
            )
            buyer = setup[2]
            assert isinstance(buyer, BuyerUpdatedV1)
            reassigned = buyer.model_copy(
                update={
                    "event_id": uuid.uuid4(),
                    "data": buyer.data.model_copy(
                        update={"manager_user_ids": [world.manager.user_id, world.other_manager.user_id]}
                    ),
                }
            )
            await send(without_full)
            await send(reassigned)
            await eventually(lambda: _at_least(client, "account.updated", 3))
            await eventually(lambda: _at_least(client, "buyer.updated", 3))
            await send(supplier_v1)  # redelivered old snapshot: deduped by id
            stale = supplier_v1.model_copy(update={"event_id": uuid.uuid4()})
            await send(stale)  # an older snapshot under a new id: ignored by its time
            await eventually(lambda: _at_least(client, "account.updated", 4))

            await send(world.order_placed(number="5"))
            for person in (world.owner, world.manager, world.other_manager):
                await eventually(lambda p=person: _inbox_total(client, p, private, 1))
            assert (await inbox(client, world.full, private))["total"] == 0
            mails = await catcher.wait_for_messages(3, timeout_s=10 * WAIT_SCALE)
            assert world.full.email not in {m.envelope_to[0] for m in mails}


async def _at_least(client: object, event_type: str, count: int) -> bool:
    return await processed(client, event_type) >= count  # type: ignore[arg-type]


async def _inbox_total(client: object, who: object, private: Path, count: int) -> bool:
    return (await inbox(client, who, private))["total"] == count  # type: ignore[arg-type]
