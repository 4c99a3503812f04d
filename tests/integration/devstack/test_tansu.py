"""The bundled Tansu broker starts on a free port, carries keyed messages and gets its topics created."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient

from oms_devstack.procs import PortInUseError, free_port, pid_alive
from oms_devstack.tansu import TansuBroker, tansu_binary
from oms_shared.kafka import ensure_topics
from oms_shared.topics import all_topics_with_dlq
from tests.support.services import WAIT_SCALE


@pytest.fixture(scope="module")
def broker() -> Iterator[TansuBroker]:
    # No skip when the binary is missing: tansu_binary() raises and the tests fail, as CI requires.
    tansu = TansuBroker()
    tansu.start()
    try:
        yield tansu
    finally:
        tansu.stop()


def test_the_bundled_binary_is_executable() -> None:
    path = tansu_binary()
    assert path.is_file()
    assert path.stat().st_mode & 0o111


async def test_a_keyed_message_produced_is_consumed_back(broker: TansuBroker) -> None:
    topic = f"devstack.roundtrip.{uuid.uuid4().hex[:8]}"
    await ensure_topics(broker.bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, b"one", key=b"order-42", headers=[("event_type", b"t")])
        second = await producer.send_and_wait(topic, b"two", key=b"order-42")
    finally:
        await producer.stop()
    assert first.partition == second.partition, "the same key must land on the same partition"

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=f"devstack-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    try:
        received: list[ConsumerRecord[bytes, bytes]] = []
        while len(received) < 2:
            batch = await consumer.getmany(timeout_ms=1000)
            received.extend(record for records in batch.values() for record in records)
    finally:
        await consumer.stop()
    assert [(r.key, r.value) for r in received] == [(b"order-42", b"one"), (b"order-42", b"two")]
    assert received[0].headers == (("event_type", b"t"),)


async def test_ensure_topics_creates_three_partitions_and_is_idempotent(broker: TansuBroker) -> None:
    suffix = uuid.uuid4().hex[:8]
    topics = [f"{t}.{suffix}" for t in all_topics_with_dlq()[:4]]

    await ensure_topics(broker.bootstrap, topics)
    await ensure_topics(broker.bootstrap, topics)  # "already exists" is success

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(topics, 3)


def test_stop_ends_the_broker_process(tmp_path: Path) -> None:
    tansu = TansuBroker(log_file=tmp_path / "broker.log")
    tansu.start()
    pid = tansu.pid
    tansu.stop()
    assert not pid_alive(pid)
    assert "tansu broker" in (tmp_path / "broker.log").read_text()


def test_a_taken_port_fails_with_a_message_naming_it(broker: TansuBroker) -> None:
    assert broker.port is not None
    with pytest.raises(PortInUseError, match=str(broker.port)):
        TansuBroker().start(port=broker.port)


def test_start_on_an_explicit_port_uses_it() -> None:
    port = free_port()
    tansu = TansuBroker()
    try:
        assert tansu.start(port=port) == f"127.0.0.1:{port}"
        assert tansu.bootstrap == f"127.0.0.1:{port}"
    finally:
        tansu.stop()


def test_a_broker_started_to_die_with_its_parent_goes_when_the_parent_is_killed(tmp_path: Path) -> None:
    """A benchmark or test run killed with SIGKILL leaves no broker behind (``die_with_parent``)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from oms_devstack.tansu import TansuBroker\n"
        "b = TansuBroker(die_with_parent=True)\n"
        "b.start()\n"
        "print(b.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert pid_alive(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10 * WAIT_SCALE
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child), "the broker outlived the process that started it"
