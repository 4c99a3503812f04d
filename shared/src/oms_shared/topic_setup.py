"""``oms-topics``: create every OMS topic (and its dead-letter topic) from the Kafka settings, before the services.

Missing topics are created with ``OMS_KAFKA_TOPIC_PARTITIONS`` partitions and ``OMS_KAFKA_REPLICATION_FACTOR``
replicas. A topic that exists with fewer partitions than asked is reported and the command fails: it never
adds partitions by itself (that moves keys to other partitions and breaks the order of each order's events
while old events are still being consumed) and it never shrinks anything. More partitions than asked is fine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field

from oms_shared.kafka import TopicCreationError, ensure_topics, topic_partitions
from oms_shared.settings import KafkaSettings
from oms_shared.topics import all_topics_with_dlq

# Exit statuses: a script (a compose setup step, a Kubernetes Job) tells "fix the topics" from "no broker".
EXIT_TOO_FEW_PARTITIONS = 1
EXIT_BROKER_ERROR = 2


@dataclass
class TopicReport:
    """What a topic setup found and did."""

    partitions: int
    replication_factor: int
    created: list[str] = field(default_factory=list)
    existing: dict[str, int] = field(default_factory=dict)
    too_few_partitions: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.too_few_partitions

    def as_dict(self) -> dict[str, object]:
        return {
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "created": self.created,
            "existing": self.existing,
            "too_few_partitions": self.too_few_partitions,
            "ok": self.ok,
        }


async def set_up_topics(
    bootstrap: str, partitions: int, replication_factor: int, topics: list[str] | None = None
) -> TopicReport:
    """Create the missing topics; report those with fewer partitions than ``partitions``."""
    wanted = topics if topics is not None else all_topics_with_dlq()
    before = await topic_partitions(bootstrap, wanted)
    missing = [t for t in wanted if t not in before]
    if missing:
        await ensure_topics(bootstrap, missing, partitions, replication_factor=replication_factor)
    report = TopicReport(partitions=partitions, replication_factor=replication_factor, created=missing)
    report.existing = {t: n for t, n in before.items()}
    report.too_few_partitions = {t: n for t, n in before.items() if n < partitions}
    return report


def main(argv: list[str] | None = None) -> int:
    settings = KafkaSettings()
    parser = argparse.ArgumentParser(prog="oms-topics", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bootstrap", default=settings.bootstrap, help="Kafka bootstrap (OMS_KAFKA_BOOTSTRAP)")
    parser.add_argument(
        "--partitions",
        type=int,
        default=settings.topic_partitions,
        help="partitions of a new topic, and the least an existing one must have (OMS_KAFKA_TOPIC_PARTITIONS)",
    )
    parser.add_argument(
        "--replication-factor",
        type=int,
        default=settings.replication_factor,
        help="replicas of a new topic (OMS_KAFKA_REPLICATION_FACTOR)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.partitions < 1 or args.replication_factor < 1:
        parser.error("partitions and replication factor must be at least 1")
    try:
        report = asyncio.run(set_up_topics(args.bootstrap, args.partitions, args.replication_factor))
    except (TopicCreationError, OSError, TimeoutError) as exc:
        print(f"oms-topics: cannot set up topics on {args.bootstrap}: {exc}", file=sys.stderr)
        return EXIT_BROKER_ERROR
    except Exception as exc:  # a Kafka client error: said plainly, no traceback for an operator
        print(f"oms-topics: cannot set up topics on {args.bootstrap}: {exc!r}", file=sys.stderr)
        return EXIT_BROKER_ERROR
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, sort_keys=True))
    else:
        print(
            f"{len(report.created)} topics created, {len(report.existing)} already there "
            f"(asked: {report.partitions} partitions, replication factor {report.replication_factor})"
        )
        for topic in report.created:
            print(f"  created {topic}")
    for topic, count in sorted(report.too_few_partitions.items()):
        print(
            f"oms-topics: {topic} has {count} partitions, fewer than the {report.partitions} asked: "
            "add partitions by hand after reading the runbook (keys move to other partitions)",
            file=sys.stderr,
        )
    return 0 if report.ok else EXIT_TOO_FEW_PARTITIONS


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
