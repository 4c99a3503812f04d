"""A poison message on every partition of every business topic, and a replica lost under a consumer: each poison goes
to its consumers' dead-letter topic, the partitions keep flowing, and ``oms dlq replay`` applies what can be fixed
exactly once.

The services run as processes on PostgreSQL and the bundled broker, as in test_kill.py. What can poison a topic,
and what a replay can do about it, differs by topic (``oms_shared.consumer`` decides: a message that is not an
event is dead-lettered at once; a handler's ``PermanentError`` at once; another error after three tries; a
``NotYet`` parks the event and dead-letters it once ``consumer_park_deadline_s`` has passed):

- Every topic can get a message that is not an event at all (a producer's bug, a stray client): it is
  dead-lettered by each consumer of the topic, marked malformed, and never replayed by default, since a replay
  publishes the same bytes and they would fail the same way. The test puts one on every partition of all 17
  topics before anything else happens, so every event after it on that partition must still be applied.
- ``order.placed`` and ``order.status_changed`` (and ``order.changed`` of a kind that notifies) can also be
  refused by notifications for a reason that is then corrected: it needs the supplier's account from
  ``account.updated``, and when its replica of the account is missing (lost in a restore, say) the event is
  parked and, past the deadline, dead-lettered. The fix is to publish the account again (any change of the
  company's name does); then a replay applies every such event, once, however often it is replayed.
  Erp-bridge and inventory park an order's later events until its earlier ones are there in the same way (not
  exercised here: what they miss is an order event, which nothing but a replay publishes again).
- The other topics carry full snapshots that their consumers upsert (warehouses, products, stock, price lists,
  buyers, accounts), or e-mails to send (invitations, password resets), or changes that name an order made by the
  orders service (``reserve.updated``, ``erp.order_changed``: an unknown order is refused for good, and no later
  fact can create an order with that id): for them only a malformed message is a poison, and replay cannot
  apply it.
- ``notification.delivered`` has no consumer: its poison is dead-lettered by nobody, and nothing waits behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from oms_devstack import cli
from oms_devstack.stack import LocalStack
from oms_devstack.story import Story
from oms_shared.contracts import (
    BuyerInvitedData,
    BuyerInvitedV1,
    EmployeeInvitedData,
    EmployeeInvitedV1,
    ErpOrderChangedData,
    ErpOrderChangedV1,
    ErpStockImportedData,
    ErpStockImportedV1,
    ErpStockItem,
    Event,
    make_event,
    parse_event,
)
from oms_shared.dlq import DeadLetter, read_dead_letters
from oms_shared.kafka import kafka_client_options
from oms_shared.outbox import make_producer
from oms_shared.topics import ALL_TOPICS
from tests.faults.load import SERVICES, Audit, Scene, run_load, service_restarts, set_the_scene, wait_until
from tests.support.databases import needs_postgres
from tests.support.services import WAIT_SCALE

# Which services consume each topic (the dead letters of the malformed poison must name exactly these).
CONSUMERS: dict[str, set[str]] = {
    "order.placed": {"notifications", "erp-bridge", "analytics"},
    "order.status_changed": {"inventory", "notifications", "erp-bridge", "analytics"},
    "order.changed": {"inventory", "notifications", "erp-bridge", "analytics"},
    "order.deleted": {"analytics"},
    "pricelist.updated": {"inventory"},
    "account.updated": {"notifications", "analytics"},
    "buyer.updated": {"inventory", "notifications", "erp-bridge", "analytics"},
    "reserve.updated": {"orders"},
    "stock.updated": {"orders"},
    "warehouse.updated": {"orders", "erp-bridge"},
    "product.updated": {"orders"},
    "erp.order_changed": {"orders"},
    "erp.stock_imported": {"inventory"},
    "notification.delivered": set(),
    "user.password_reset_requested": {"notifications"},
    "buyer.invited": {"notifications"},
    "employee.invited": {"notifications"},
}
POISON = b"\x00poison: not an event {"
# Notifications gives up on an event still waiting for its account this long after parking it (default 15 min).
PARK_DEADLINE_S = 8
ORDERS = 6
SETTLE_S = 150.0 * WAIT_SCALE
REPORT = os.environ.get("OMS_FAULTS_POISON_REPORT", "")


def db_url(env: dict[str, str], service: str) -> str:
    url = env[f"OMS_{service.replace('-', '_').upper()}_DATABASE_URL"]
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _query(url: str, sql: str, *args: Any) -> list[Any]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def query(url: str, sql: str, *args: Any) -> list[Any]:
    return asyncio.run(_query(url, sql, *args))


async def _poison_every_partition(bootstrap: str) -> dict[tuple[str, int], int]:
    """One poison on every partition of every business topic; where each one landed."""
    producer = make_producer(bootstrap, client_id="poison")
    await producer.start()
    try:
        landed: dict[tuple[str, int], int] = {}
        for topic in ALL_TOPICS:
            for partition in sorted(await producer.partitions_for(topic)):
                meta = await producer.send_and_wait(topic, POISON, key=b"poison", partition=partition)
                landed[(topic, partition)] = meta.offset
        return landed
    finally:
        await producer.stop()


async def _send(bootstrap: str, events: list[Event]) -> None:
    producer = make_producer(bootstrap, client_id="poison-test")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                event.TOPIC, event.to_json(), key=event.partition_key().encode(), headers=event.kafka_header_list()
            )
    finally:
        await producer.stop()


async def _read_topics(bootstrap: str) -> dict[tuple[str, int], list[tuple[int, bytes, dict[str, str]]]]:
    """Every message of every business topic, by partition (read from the start until nothing more comes)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **kafka_client_options()
    )
    await consumer.start()
    found: dict[tuple[str, int], list[tuple[int, bytes, dict[str, str]]]] = {}
    try:
        await consumer.topics()
        tps = [TopicPartition(t, p) for t in ALL_TOPICS for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        loop = asyncio.get_running_loop()
        quiet_until = loop.time() + 3.0
        while loop.time() < quiet_until:
            batch = await consumer.getmany(timeout_ms=200, max_records=2000)
            for tp, records in batch.items():
                for r in records:
                    headers = {k: v.decode(errors="replace") for k, v in (r.headers or ())}
                    found.setdefault((tp.topic, tp.partition), []).append((r.offset, r.value or b"", headers))
                quiet_until = loop.time() + 3.0
    finally:
        await consumer.stop()
    return found


def rare_events(scene: Scene, tenant: uuid.UUID) -> list[Event]:
    """Well-formed events of the topics the demo and the load do not use, as their producers would send them:
    an ERP change of an order's shipment date (orders then publishes an order.changed too), an ERP stock change,
    a buyer's and an employee's invitation."""
    expires = datetime.now(UTC) + timedelta(days=1)
    order_id = uuid.UUID(scene.thin.order_id)
    return [
        make_event(
            ErpOrderChangedV1,
            tenant_id=tenant,
            aggregate_id=str(order_id),
            # A new shipment date: orders applies it and publishes order.changed (erp_applied, nobody notified).
            data=ErpOrderChangedData(
                order_id=order_id,
                erp_document_id="ЗК-1",
                shipment_date=(datetime.now(UTC) + timedelta(days=7)).date(),
                comment="проверено в 1С",
            ),
            producer="erp-bridge",
        ),
        make_event(
            ErpStockImportedV1,
            tenant_id=tenant,
            aggregate_id=str(tenant),
            data=ErpStockImportedData(
                mode="changes",
                items=[ErpStockItem(warehouse_id=uuid.UUID(scene.warehouse_id), sku="WASHER-M8", on_hand=0)],
            ),
            producer="erp-bridge",
        ),
        make_event(
            BuyerInvitedV1,
            tenant_id=tenant,
            aggregate_id=str(uuid.uuid4()),
            data=BuyerInvitedData(
                invitation_id=uuid.uuid4(),
                buyer_id=uuid.uuid4(),
                buyer_name="ООО «Новый»",
                supplier_name="ООО «Поставщик»",
                email="new-buyer@example.test",
                token=uuid.uuid4().hex,
                expires_at=expires,
            ),
            producer="orders",
        ),
        make_event(
            EmployeeInvitedV1,
            tenant_id=tenant,
            aggregate_id=str(uuid.uuid4()),
            data=EmployeeInvitedData(
                invitation_id=uuid.uuid4(),
                account_name="ООО «Поставщик»",
                email="new-employee@example.test",
                token=uuid.uuid4().hex,
                expires_at=expires,
            ),
            producer="orders",
        ),
    ]


def replay(bootstrap: str) -> str:
    """``oms dlq replay`` as an operator runs it (every dead letter that is an event, malformed ones left)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["dlq", "replay", "--bootstrap", bootstrap]) == 0
    return out.getvalue()


@needs_postgres
def test_poison_on_every_topic_is_dead_lettered_the_partitions_flow_and_a_fixed_cause_replays_once(
    tmp_path: Path, pg_env: dict[str, str]
) -> None:
    """Dead letters (R-IN-1, ADR 001): nothing stops a partition, nothing is lost, a replay applies an event once.

    A malformed message on every partition of every topic is dead-lettered by each consumer of the topic, once,
    and every event published after it on that partition is applied by every consumer (its inbox row is there);
    ``oms dlq replay`` leaves malformed letters alone. Notifications then loses its replica of the supplier's
    account: the events of the orders placed meanwhile are parked, then dead-lettered; inventory, erp-bridge and
    analytics apply them as usual. After the fix (the supplier renames the company: its account is published
    again) ``oms dlq replay`` is run twice, and the audit of test_kill.py holds: every notification once per
    person, every e-mail received once (R-NT-1, R-NT-2, R-NT-4), reserves, analytics and the ERP queue as the
    orders say, nothing parked; no service exited."""
    env = dict(pg_env)
    env["OMS_NOTIFICATIONS_CONSUMER_PARK_DEADLINE_S"] = str(PARK_DEADLINE_S)
    env["OMS_NOTIFICATIONS_CONSUMER_PARK_BACKOFF_S"] = "0.5"
    started = time.monotonic()
    stack = LocalStack.on_free_ports(tmp_path / "var", env=env, services=list(SERVICES), restart_limit=100)
    stack.start()
    figures: dict[str, Any] = {"kind": "poison"}
    try:
        poisoned = asyncio.run(_poison_every_partition(stack.bootstrap))
        figures["poisoned"] = len(poisoned)
        assert {t for t, _ in poisoned} == set(ALL_TOPICS)

        with httpx.Client(timeout=30.0, trust_env=False) as client:
            story = Story(stack.urls, client, say=lambda _line: None, facts={"mail_dir": stack.mail_dir})
            scene = set_the_scene(story)
            api, supplier, buyer = scene.api, scene.supplier, scene.buyer
            tenant = uuid.UUID(supplier.account_id)

            # Every malformed poison is dead-lettered by each consumer of its topic, once per partition.
            def malformed_letters() -> Counter[tuple[str, int, str]]:
                dead = asyncio.run(read_dead_letters(stack.bootstrap))
                return Counter((d.source_topic, int(d.headers["dlq_source_partition"]), d.consumer)
                               for d in dead if d.malformed)  # fmt: skip

            want_malformed = Counter({(t, p, c): 1 for (t, p) in poisoned for c in CONSUMERS[t]})
            wait_until("every poison dead-lettered", lambda: malformed_letters() == want_malformed, SETTLE_S)
            figures["malformed_letters"] = sum(want_malformed.values())
            wait_until("every service drained", lambda: all(
                client.get(f"{u}/drained", timeout=30.0).status_code == 200 for u in stack.urls.values()
            ), SETTLE_S, stack.supervise)  # fmt: skip

            # Notifications loses its replica of the supplier's account; orders are placed and moved meanwhile.
            notifications_db = db_url(env, "notifications")
            query(notifications_db, "DELETE FROM nt_accounts WHERE account_id = $1", str(tenant))
            load = scene.load(faults=0, orders=ORDERS)
            run_load(load, [], stack.supervise)

            # The topics the demo and the load leave alone get an event behind their poison too: a password reset
            # and a buyer hiding a rejected order (over HTTP), an ERP comment, an ERP stock change, invitations.
            api.call("POST", "orders", "/api/v1/auth/password-reset", buyer, expect=(200, 202),
                     json={"email": buyer.email})  # fmt: skip
            rejected = next(o for o in load.placed if o.status == "rejected")
            seen = api.call("GET", "orders", f"/api/v1/orders/{rejected.order_id}", buyer)
            api.call("DELETE", "orders", f"/api/v1/orders/{rejected.order_id}", buyer, expect=(204,),
                     headers={"If-Match": seen.headers["etag"]})  # fmt: skip
            asyncio.run(_send(stack.bootstrap, rare_events(scene, tenant)))

            # What notifications gave up on: the load's order events, for want of the account; nothing else.
            def refused() -> list[DeadLetter]:
                return [d for d in asyncio.run(read_dead_letters(stack.bootstrap)) if not d.malformed]

            wanted_refusals = sum(1 + len(o.plan.split(",")) for o in load.placed)
            wait_until(
                "the load's notifications dead-lettered",
                lambda: len(refused()) >= wanted_refusals,
                SETTLE_S,
                stack.supervise,
            )
            letters = refused()
            ours = {o.order_id for o in load.placed}
            assert all(d.consumer == "notifications" for d in letters), [d.summary() for d in letters]
            assert all("unknown supplier account" in d.error for d in letters), [d.summary() for d in letters]
            assert {d.source_topic for d in letters} == {"order.placed", "order.status_changed"}
            assert {str(parse_event(d.value, d.headers).data.order_id) for d in letters} == ours  # type: ignore[attr-defined]
            assert Counter(d.event_id for d in letters).most_common(1)[0][1] == 1
            figures["refused"] = len(letters)

            # The fix: the supplier renames the company, so its account is published again; then replay, twice.
            profile = api.call("GET", "orders", "/api/v1/account", supplier)
            api.call("PATCH", "orders", "/api/v1/account", supplier, headers={"If-Match": profile.headers["etag"]},
                     json={"name": "ООО «Поставщик и партнёры»"})  # fmt: skip
            wait_until(
                "notifications has the account again",
                lambda: query(notifications_db, "SELECT 1 FROM nt_accounts WHERE account_id = $1", str(tenant)),
                SETTLE_S,
                stack.supervise,
            )
            dead_before = len(asyncio.run(read_dead_letters(stack.bootstrap)))
            first, second = replay(stack.bootstrap), replay(stack.bootstrap)
            assert f"replayed {len(letters)} of {dead_before} dead letters" in first, first
            assert f"replayed {len(letters)} of {dead_before} dead letters" in second, second
            figures["replays"] = 2

            audit = Audit(api, stack, supplier, buyer, [scene.thin, *load.placed], tick=stack.supervise)
            refused_ids = {d.event_id for d in letters}

            def only_the_poison_and_the_refusals(dead: list[DeadLetter]) -> None:
                # Replayed events are applied, not dead-lettered again: the letters are what they were.
                malformed = Counter(
                    (d.source_topic, int(d.headers["dlq_source_partition"]), d.consumer) for d in dead if d.malformed
                )
                assert malformed == want_malformed, malformed
                assert Counter(d.event_id for d in dead if not d.malformed) == Counter(refused_ids), [
                    d.summary() for d in dead if not d.malformed
                ]

            audit.dead_letters_check = "dead letters: the poison and the refusals only, none after the replay"
            audit.dead_letters = only_the_poison_and_the_refusals
            figures["audit"] = audit.results
            audit.run()

            # Every partition flowed: each event behind a poison was applied by every consumer of its topic.
            messages = asyncio.run(_read_topics(stack.bootstrap))
            inbox = {
                service: {r["event_id"] for r in query(db_url(env, service), "SELECT event_id FROM inbox")}
                for service in SERVICES
            }
            behind: Counter[str] = Counter()
            for (topic, partition), records in messages.items():
                after = [(o, v, h) for o, v, h in records if o > poisoned[(topic, partition)]]
                for _offset, value, headers in after:
                    assert value != POISON, f"a second poison on {topic}:{partition}"
                    event = parse_event(value, headers)
                    behind[topic] += 1
                    for service in CONSUMERS[topic]:
                        assert str(event.event_id) in inbox[service], (
                            f"{service} never applied {event.event_type} {event.event_id} on {topic}:{partition}"
                        )
            figures["events_behind"] = sum(behind.values())
            starved = sorted(t for t in ALL_TOPICS if CONSUMERS[t] and not behind[t])
            assert not starved, f"no event behind the poison on {starved}"
            restarts = service_restarts(stack)
            assert not any(restarts.values()), f"a service exited: {restarts}"
    finally:
        stack.stop()
        figures["total_s"] = round(time.monotonic() - started, 1)
        if REPORT:
            Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")
