"""Notice that the broker lost its log (a memory broker restarted), put the topics back, and tell the relay.

Every few seconds a service asks the broker for its metadata (cluster id and topics) over the relay producer's
connection. A cluster id that changed, or a topic this service created at start that is gone, means the broker
started over without its log: the missing topics are created again (with the configured partitions, before any
client could auto-create them with the broker's default) and ``on_lost`` is called (the relay re-sends what it
kept). A durable Kafka keeps both across restarts, so there this only costs one metadata request per interval.
See docs/adr/019-broker-restart-and-lost-logs.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaClient
from aiokafka.protocol.metadata import MetadataRequest

log = logging.getLogger(__name__)

# How long one metadata request may take before the round counts as "the broker does not answer".
PROBE_TIMEOUT_S = 5.0


class _NoAutoCreateMetadataRequest(MetadataRequest):  # type: ignore[misc]
    """A metadata request that never creates the topics it names (Kafka's ``allow_auto_topic_creation``)."""

    def __init__(self, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = False) -> None:
        super().__init__(topics, allow_auto_topic_creation)


def forbid_topic_auto_creation() -> None:
    """Make every aiokafka client of this process ask for metadata without creating missing topics.

    After a memory broker restarted, the first client to ask for a topic's metadata would create it with the
    broker's default partition count (Tansu: 4) instead of ``OMS_KAFKA_TOPIC_PARTITIONS``: keys would move to other
    partitions and consumers would miss one until a rebalance. Topics are created explicitly (``ensure_topics``);
    a client that meets a missing topic waits until it is created again. Called by service processes (``serve``).
    """
    import aiokafka.client

    aiokafka.client.MetadataRequest = _NoAutoCreateMetadataRequest


class BrokerWatch:
    """Probes the broker's identity and topics; on a loss re-creates topics, then calls ``on_lost``."""

    def __init__(
        self,
        client: AIOKafkaClient,
        topics: Sequence[str],
        ensure_topics: Callable[[list[str]], Awaitable[None]],
        on_lost: Callable[[str], None],
        *,
        interval_s: float = 2.0,
    ) -> None:
        self.client = client
        self.topics = list(topics)
        self.ensure_topics = ensure_topics
        self.on_lost = on_lost
        self.interval_s = interval_s
        self.cluster_id: str | None = None
        self.losses = 0

    async def probe(self) -> tuple[str | None, set[str]]:
        """The broker's cluster id and the topics it has (raises when it does not answer)."""
        node = self.client.get_random_node()
        if node is None:
            await self.client.force_metadata_update()
            node = self.client.get_random_node()
            if node is None:
                raise ConnectionError("no broker known")
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            answer = await self.client.send(node, MetadataRequest(None, allow_auto_topic_creation=False))
        cluster_id = getattr(answer, "cluster_id", None)
        names = {topic[1] for topic in answer.topics if topic[0] == 0}
        return cluster_id, names

    async def check(self) -> str | None:
        """One round: why the broker lost its log (after putting the topics back), or None."""
        cluster_id, present = await self.probe()
        missing = [t for t in self.topics if t not in present]
        reason: str | None = None
        if self.cluster_id is not None and cluster_id is not None and cluster_id != self.cluster_id:
            reason = f"the cluster id changed from {self.cluster_id} to {cluster_id}"
        elif missing:
            reason = f"{len(missing)} topics were gone (e.g. {missing[0]})"
        if missing:
            log.warning("broker watch: creating %d missing topics again", len(missing))
            await self.ensure_topics(missing)
        if cluster_id is not None:
            self.cluster_id = cluster_id
        if reason is not None:
            self.losses += 1
            log.warning("broker watch: the broker lost its log: %s", reason)
            self.on_lost(reason)
        return reason

    async def run(self) -> None:
        """Check every ``interval_s``; a broker that does not answer is checked again next time."""
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # down, or restarting: the clients reconnect by themselves
                log.info("broker watch: the broker does not answer: %r", exc)
            await asyncio.sleep(self.interval_s)
