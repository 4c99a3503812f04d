"""Consumer lag of a service's group: per partition, the end of the log minus the group's committed offset.

Measured in the background every ``consumer_lag_interval_s`` (never on the message path) for every partition
of every subscribed topic, whichever replica consumes it, and exported as ``oms_consumer_lag{group, topic,
partition}``: replicas of a service report the same group, so dashboards take ``max by (group, topic,
partition)``. A partition the group never committed on counts from the beginning of the log (the group reads
from the earliest offset).

The end of the log is the larger of two answers. The broker's ListOffsets answer is right on Apache Kafka;
the bundled broker (Tansu, docs/design/BROKER.md) answers with the first offset of the last record batch
plus one (measured: 10 records sent as one batch after offset 0 give 2, not 11), so it under-reports by at
most that batch's size minus one, and never says 0 while a whole batch is unread. The high-water mark that
the last fetch brought back is right on both; it is known for the partitions this replica consumes, so a
replica's own partitions are exact everywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Gauge

from oms_shared.kafka import kafka_client_options

log = logging.getLogger(__name__)
# How long closing the Kafka clients may take before they are left to the garbage collector.
CLOSE_TIMEOUT_S = 5.0

HighWater = Callable[[TopicPartition], "int | None"]


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)

    def as_dict(self) -> dict[str, object]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
        }


class LagMonitor:
    """Measures one consumer group's lag on the topics it subscribes to."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        topics: Sequence[str],
        registry: CollectorRegistry,
        highwater: HighWater | None = None,
        request_timeout_ms: int = 10_000,
    ) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self.topics = list(topics)
        self._highwater = highwater
        self._request_timeout_ms = request_timeout_ms
        self.gauge = Gauge(
            "oms_consumer_lag",
            "Messages of a partition not yet committed by the consumer group (end of log minus committed offset)",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.last: list[PartitionLag] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._probe: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._probe is None:
            security = kafka_client_options()
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, request_timeout_ms=self._request_timeout_ms, **security
            )
            # No group: it only asks for offsets, it never joins or commits.
            probe = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, request_timeout_ms=self._request_timeout_ms, **security
            )
            try:
                await admin.start()
                await probe.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                with contextlib.suppress(Exception):
                    await probe.stop()
                raise
            self._admin, self._probe = admin, probe
        return self._admin, self._probe

    async def measure(self) -> list[PartitionLag]:
        """Ask the broker now; updates the gauge and ``last``. Raises when the broker does not answer."""
        if not self.topics:
            self.last = []
            return []
        async with self._lock:
            try:
                return await self._measure()
            except BaseException:
                # Fresh clients next time (a broker restart leaves stale metadata behind). Bounded: a client
                # that never finishes closing must not hold up a service that is stopping.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.close(), CLOSE_TIMEOUT_S)
                raise

    async def _measure(self) -> list[PartitionLag]:
        admin, probe = await self._clients()
        described = await admin.describe_topics(None)  # all topics: naming one could auto-create it
        wanted = set(self.topics)
        partitions = sorted(
            TopicPartition(str(t["topic"]), int(p["partition"]))
            for t in described
            if t.get("topic") in wanted and t.get("error_code", 0) == 0
            for p in t.get("partitions") or []
        )
        if not partitions:
            self.last = []
            return []
        committed = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        beginning = await probe.beginning_offsets(partitions)
        ends = await probe.end_offsets(partitions)
        result: list[PartitionLag] = []
        for tp in partitions:
            end = ends.get(tp, 0)
            seen = self._highwater(tp) if self._highwater is not None else None
            if seen is not None:
                end = max(end, seen)
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else beginning.get(tp, 0)
            lag = PartitionLag(tp.topic, tp.partition, offset, end)
            result.append(lag)
            self.gauge.labels(self.group, tp.topic, str(tp.partition)).set(lag.lag)
        self.last = result
        return result

    async def run(self, interval_s: float) -> None:
        """Background loop: measure, then again after ``interval_s``; a broker that does not answer is logged."""
        while True:
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer lag of %s not measured: %r", self.group, exc)
            await asyncio.sleep(interval_s)

    async def close(self) -> None:
        admin, probe, self._admin, self._probe = self._admin, self._probe, None, None
        if probe is not None:
            with contextlib.suppress(Exception):
                await probe.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
