"""Consumer lag as the services export it (``oms_consumer_lag``), measured against the real broker."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from oms_shared.kafka import ensure_topics
from oms_shared.lag import LagMonitor
from tests.support.kafka import started_producer


def lag_of(registry: CollectorRegistry, group: str, topic: str, partition: int) -> float | None:
    return registry.get_sample_value("oms_consumer_lag", {"group": group, "topic": topic, "partition": str(partition)})


async def test_lag_counts_what_the_group_has_not_committed_and_falls_to_zero_when_it_has(kafka: str) -> None:
    """Messages on a partition the group has not read are its lag; committed, the lag is 0."""
    topic, group = f"lag.{uuid.uuid4().hex[:8]}", f"lag-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], 2)
    registry = CollectorRegistry()
    monitor = LagMonitor(bootstrap=kafka, group=group, topics=[topic], registry=registry)
    producer = await started_producer(kafka)
    try:
        first = await monitor.measure()
        assert [(p.partition, p.lag) for p in first] == [(0, 0), (1, 0)]
        assert lag_of(registry, group, topic, 1) == 0
        for i in range(4):  # one at a time: each its own batch, so every broker answers the exact end
            await producer.send_and_wait(topic, b"m%d" % i, partition=1)
        measured = await monitor.measure()
        assert [(p.partition, p.lag) for p in measured] == [(0, 0), (1, 4)]
        assert lag_of(registry, group, topic, 1) == 4

        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=2000,
        )
        await consumer.start()
        try:
            tp = TopicPartition(topic, 1)
            consumer.assign([tp])
            read = 0
            while read < 3:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=3 - read)
                read += len(batch.get(tp, []))
            await consumer.commit({tp: 3})  # three of four handled
            assert [p.lag for p in await monitor.measure()] == [0, 1]
            await consumer.commit({tp: 4})
            assert [p.lag for p in await monitor.measure()] == [0, 0]
            assert lag_of(registry, group, topic, 1) == 0
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
        await monitor.close()


async def test_a_batch_not_read_yet_is_never_lag_zero(kafka: str) -> None:
    """On the bundled broker the end offset of a batch is short of its last record (BROKER.md); the lag
    of a batch nobody read is still above zero, and what the consumer's own fetch saw makes it exact."""
    topic, group = f"lag.{uuid.uuid4().hex[:8]}", f"lag-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, [topic], 1)
    tp = TopicPartition(topic, 0)
    producer = await started_producer(kafka)
    highwater: dict[TopicPartition, int] = {}
    monitor = LagMonitor(
        bootstrap=kafka, group=group, topics=[topic], registry=CollectorRegistry(), highwater=highwater.get
    )
    try:
        futures = [await producer.send(topic, b"b%d" % i, partition=0) for i in range(10)]
        for future in futures:
            await future
        (lag,) = await monitor.measure()
        assert 1 <= lag.lag <= 10
        highwater[tp] = 10  # what a fetch of this partition answers (the consumer of the group knows it)
        (lag,) = await monitor.measure()
        assert lag.lag == 10
    finally:
        await producer.stop()
        await monitor.close()
