"""How every Kafka client connects (TLS, SASL), and the administration every service needs at start: topics
created explicitly, idempotently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from oms_shared.settings import KafkaSettings
from oms_shared.topics import DEFAULT_PARTITIONS

log = logging.getLogger(__name__)

# Kafka error code TOPIC_ALREADY_EXISTS: creating topics at every start must be idempotent.
TOPIC_ALREADY_EXISTS = 36


def kafka_client_options(settings: KafkaSettings | None = None) -> dict[str, Any]:
    """The keyword arguments every aiokafka client (producer, consumer, admin) gets to reach the cluster securely,
    from ``OMS_KAFKA_*`` when ``settings`` is not given; nothing for PLAINTEXT (aiokafka's own default)."""
    settings = settings if settings is not None else KafkaSettings()
    protocol = settings.security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    if protocol.endswith("SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    return options


# FastStream's security object for each SASL mechanism (each turns back into the same aiokafka options).
SASL_SECURITY: dict[str, type[SASLPlaintext] | type[SASLScram256] | type[SASLScram512]] = {
    "PLAIN": SASLPlaintext,
    "SCRAM-SHA-256": SASLScram256,
    "SCRAM-SHA-512": SASLScram512,
}


def kafka_broker_security(settings: KafkaSettings | None = None) -> BaseSecurity | None:
    """The same connection for FastStream's ``KafkaBroker(security=...)``, built from ``kafka_client_options``
    (None for PLAINTEXT: the broker is made exactly as without security)."""
    options = kafka_client_options(settings)
    if not options:
        return None
    ssl_context = options.get("ssl_context")
    use_ssl = ssl_context is not None
    mechanism = options.get("sasl_mechanism")
    if mechanism is None:
        return BaseSecurity(ssl_context=ssl_context, use_ssl=use_ssl)
    return SASL_SECURITY[mechanism](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=ssl_context,
        use_ssl=use_ssl,
    )


class TopicCreationError(RuntimeError):
    """Topics could not be created (the broker refused or never answered)."""


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = DEFAULT_PARTITIONS,
    *,
    replication_factor: int = 1,
    attempts: int = 5,
    retry_backoff_s: float = 0.5,
) -> None:
    """Create each topic with ``partitions`` partitions (and ``replication_factor`` replicas); a topic that
    already exists counts as created, whatever its partition count (see ``topic_partitions``)."""
    # Explicit creation matters on Tansu: auto-created topics get 4 partitions, and after a broker
    # restart clients need the topics to exist again before they reconnect (BROKER.md).
    pending = list(dict.fromkeys(topics))
    last_error: BaseException | None = None
    for attempt in range(1, attempts + 1):
        if not pending:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kafka_client_options())
        try:
            await admin.start()
            response = await admin.create_topics(
                [NewTopic(name=t, num_partitions=partitions, replication_factor=replication_factor) for t in pending]
            )
            failed: list[str] = []
            for topic_error in response.topic_errors:
                topic, code = topic_error[0], topic_error[1]
                if code in (0, TOPIC_ALREADY_EXISTS):
                    continue
                error = for_code(code)
                if not error.retriable:
                    message = topic_error[2] if len(topic_error) > 2 else ""
                    raise TopicCreationError(f"cannot create topic {topic!r}: {error.__name__} {message or ''}".strip())
                last_error = error()
                failed.append(topic)
            pending = failed
        except TopicAlreadyExistsError:
            # Some clients raise instead of returning per-topic codes; then go one topic at a time
            # so the exception names exactly one topic that is already there.
            if len(pending) == 1:
                return
            for topic in pending:
                await ensure_topics(
                    bootstrap,
                    [topic],
                    partitions,
                    replication_factor=replication_factor,
                    attempts=attempts,
                    retry_backoff_s=retry_backoff_s,
                )
            return
        except (TimeoutError, KafkaError, OSError) as exc:
            last_error = exc
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
        if pending and attempt < attempts:
            log.warning("retrying topic creation for %d topics: %r", len(pending), last_error)
            await asyncio.sleep(retry_backoff_s * attempt)
    if pending:
        raise TopicCreationError(f"could not create topics {pending} on {bootstrap}: {last_error!r}")


async def topic_partitions(bootstrap: str, topics: Iterable[str]) -> dict[str, int]:
    """How many partitions each of ``topics`` has on the broker; a topic that does not exist is left out."""
    wanted = list(dict.fromkeys(topics))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **kafka_client_options())
    await admin.start()
    try:
        # All topics, never named ones: a metadata request naming a missing topic creates it on brokers that
        # auto-create topics (Tansu does, with 4 partitions), which would defeat the point of asking.
        described = await admin.describe_topics(None)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
    counts: dict[str, int] = {}
    for topic in described:
        if topic.get("error_code", 0) == 0 and topic.get("topic") in wanted:
            counts[str(topic["topic"])] = len(topic.get("partitions") or [])
    return counts
