"""``oms-topics`` lays the topics out from the Kafka settings on a real broker, and never shrinks or grows one."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from oms_devstack.tansu import TansuBroker
from oms_shared.kafka import topic_partitions
from oms_shared.settings import KafkaSettings, ServiceSettings
from oms_shared.topic_setup import EXIT_BROKER_ERROR, EXIT_TOO_FEW_PARTITIONS, main
from oms_shared.topics import ORDER_PLACED, all_topics_with_dlq


@pytest.fixture
def empty_broker() -> Iterator[str]:
    """A broker of its own with no topic at all (the shared fixture creates them)."""
    tansu = TansuBroker(die_with_parent=True)
    tansu.start()
    try:
        yield tansu.bootstrap
    finally:
        tansu.stop()


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


def report_of(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = capsys.readouterr().out
    report: dict[str, object] = json.loads(out)
    return report


def test_missing_topics_are_created_with_the_partitions_of_the_settings(
    empty_broker: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every topic and its dead-letter topic gets OMS_KAFKA_TOPIC_PARTITIONS partitions; a second run is a no-op."""
    monkeypatch.setenv("OMS_KAFKA_BOOTSTRAP", empty_broker)
    monkeypatch.setenv("OMS_KAFKA_TOPIC_PARTITIONS", "5")
    monkeypatch.setenv("OMS_KAFKA_REPLICATION_FACTOR", "1")

    assert main(["--json"]) == 0
    report = report_of(capsys)
    assert sorted(report["created"]) == sorted(all_topics_with_dlq())  # type: ignore[arg-type]
    counts = asyncio.run(topic_partitions(empty_broker, all_topics_with_dlq()))
    assert counts == {topic: 5 for topic in all_topics_with_dlq()}

    assert main(["--json"]) == 0
    again = report_of(capsys)
    assert again["created"] == [] and again["too_few_partitions"] == {}


def test_a_topic_with_fewer_partitions_than_asked_is_reported_and_left_as_it_is(
    empty_broker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A topic made with 1 partition is named, the command fails, and the topic keeps its partition."""
    asyncio.run(create_topic(empty_broker, ORDER_PLACED, 1))

    status = main(["--bootstrap", empty_broker, "--partitions", "3", "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert status == EXIT_TOO_FEW_PARTITIONS
    assert report["too_few_partitions"] == {ORDER_PLACED: 1}
    assert ORDER_PLACED not in report["created"] and len(report["created"]) == len(all_topics_with_dlq()) - 1
    assert f"{ORDER_PLACED} has 1 partitions, fewer than the 3 asked" in captured.err
    counts = asyncio.run(topic_partitions(empty_broker, all_topics_with_dlq()))
    assert counts[ORDER_PLACED] == 1
    assert {n for topic, n in counts.items() if topic != ORDER_PLACED} == {3}

    # Asking for no more than it has is fine; more partitions than asked is never a problem.
    assert main(["--bootstrap", empty_broker, "--partitions", "1"]) == 0


def test_a_broker_that_does_not_answer_fails_with_its_own_status(capsys: pytest.CaptureFixture[str]) -> None:
    from oms_devstack.procs import free_port

    status = main(["--bootstrap", f"127.0.0.1:{free_port()}"])
    assert status == EXIT_BROKER_ERROR
    assert "cannot set up topics" in capsys.readouterr().err


def test_services_and_the_command_read_the_same_topic_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_KAFKA_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("OMS_KAFKA_REPLICATION_FACTOR", "3")
    assert (KafkaSettings().topic_partitions, KafkaSettings().replication_factor) == (12, 3)
    settings = ServiceSettings()
    assert (settings.kafka_topic_partitions, settings.kafka_replication_factor) == (12, 3)
