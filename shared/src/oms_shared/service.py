"""The runtime every service's composition root builds: db, broker, consumer, relay, HTTP app.

``ServiceRuntime`` owns the lifecycle: migrate → create topics → start producer and relay →
start the consumer → ready; and the reverse on shutdown. A service adds its routers, its
event handlers and any background tasks, then calls ``build_app()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, Gauge

from oms_shared.asyncapi import asyncapi_document
from oms_shared.auth import TokenVerifier
from oms_shared.broker_watch import BrokerWatch, forbid_topic_auto_creation
from oms_shared.consumer import ConsumerMetrics, EventConsumer
from oms_shared.contracts import Event
from oms_shared.db import Database, create_engine, utcnow
from oms_shared.docs import docs_router
from oms_shared.http import (
    AccessLogMiddleware,
    BodyLimit,
    BodyLimitMiddleware,
    CorrelationIdMiddleware,
    HttpMetrics,
    IdempotencyMiddleware,
    install_error_handlers,
    metrics_response,
)
from oms_shared.kafka import ensure_topics, kafka_broker_security
from oms_shared.lag import LagMonitor
from oms_shared.logs import configure_logging
from oms_shared.migrations import upgrade_to_head
from oms_shared.openapi import install_openapi
from oms_shared.outbox import OutboxMetrics, OutboxRelay, make_producer
from oms_shared.retention import RetentionMetrics, RetentionRule, messaging_rules, purge_all
from oms_shared.settings import KafkaSettings, ServiceSettings
from oms_shared.topics import all_topics_with_dlq
from oms_shared.transient import transient_kind

log = logging.getLogger(__name__)
# How long a stopping service waits for its background tasks and clients before it goes on without them.
STOP_TIMEOUT_S = 15.0

BackgroundTask = Callable[[], Awaitable[None]]
# Something else a service holds until it is done (e.g. e-mails not sent yet): how many, for /drained.
PendingCount = Callable[[], Awaitable[int]]


DRAINED_EXAMPLE: dict[str, Any] = {
    "service": "inventory",
    "ready": True,
    "drained": True,
    "outbox": {"pending": 0, "oldest_age_s": 0.0},
    "parked": 0,
    "lag": {"group": "oms-inventory", "total": 0, "partitions": []},
}
NOT_DRAINED_EXAMPLE: dict[str, Any] = {
    "service": "inventory",
    "ready": True,
    "drained": False,
    "outbox": {"pending": 2, "oldest_age_s": 0.4},
    "parked": 0,
    "lag": {
        "group": "oms-inventory",
        "total": 3,
        "partitions": [{"topic": "order.placed", "partition": 1, "committed": 40, "end": 43, "lag": 3}],
    },
}


def make_broker(
    settings: ServiceSettings, registry: CollectorRegistry, kafka: KafkaSettings | None = None
) -> KafkaBroker:
    """A FastStream Kafka broker with Prometheus message metrics; no idempotent producer by default. It connects
    the way ``OMS_KAFKA_SECURITY_PROTOCOL`` and the other ``OMS_KAFKA_*`` connection settings say."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        client_id=f"oms-{settings.service_name}",
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name=f"oms-{settings.service_name}")],
        max_request_size=5 * 1024 * 1024,
        graceful_timeout=10.0,
        # Per-message "Received/Processed" lines go to DEBUG through our JSON root handler.
        logger=logging.getLogger(f"oms.{settings.service_name}.broker"),
        log_level=logging.DEBUG,
        description=f"OMS {settings.service_name} service",
        security=kafka_broker_security(kafka),
    )


class ServiceRuntime:
    """Shared plumbing of one service process; built by the service's ``create_app``."""

    def __init__(
        self,
        settings: ServiceSettings,
        metadata: sa.MetaData,
        migrations_dir: Path,
        *,
        title: str,
        version: str = "0.1.0",
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.migrations_dir = migrations_dir
        self.title = title
        self.version = version
        self.registry = CollectorRegistry()
        # The Kafka connection settings are checked first: a missing SASL password or a CA file that is not there
        # stops the service with the reason, before it opens anything.
        self.kafka = KafkaSettings()
        self.db = Database(create_engine(settings.resolved_database_url()), metadata)
        self.broker = make_broker(settings, self.registry, self.kafka)
        self.consumer = EventConsumer(
            service=settings.service_name,
            db=self.db,
            metrics=ConsumerMetrics(self.registry, settings.service_name),
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_s=settings.consumer_retry_backoff_s,
            park_backoff_s=settings.consumer_park_backoff_s,
            park_deadline_s=settings.consumer_park_deadline_s,
            transient_backoff_s=settings.consumer_transient_backoff_s,
            transient_backoff_max_s=settings.consumer_transient_backoff_max_s,
            batch_size=settings.consumer_batch_size,
            batch_wait_ms=settings.consumer_batch_wait_ms,
            batch_max_s=settings.consumer_batch_max_s,
        )
        self._outbox_metrics = OutboxMetrics(self.registry, settings.service_name)
        self.http_metrics = HttpMetrics(self.registry, settings.service_name)
        # aiokafka clients must be created inside the running loop: made in start().
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.produces: list[type[Event]] = []
        self.token_verifier: TokenVerifier | None = None
        self.routers: list[APIRouter] = []
        self.background: list[BackgroundTask] = []
        self.on_started: list[Callable[[], Awaitable[None]]] = []
        self.on_stopping: list[Callable[[], Awaitable[None]]] = []
        # What else /drained waits for, by name (the outbox, parked events and the consumer lag always count).
        self.pending: dict[str, PendingCount] = {}
        self.lag: LagMonitor | None = None
        self.broker_watch: BrokerWatch | None = None
        # Routes that take more than settings.max_body_bytes (uploads) say so here, before build_app().
        self.body_limits: list[BodyLimit] = []
        # What the retention loop deletes: the shared tables, plus what the service adds (its logs).
        self.retention: list[RetentionRule] = messaging_rules(
            self.db, inbox_s=settings.inbox_retention_s, idempotency_s=settings.idempotency_retention_s
        )
        self._retention_metrics = RetentionMetrics(self.registry, settings.service_name)
        self.ready = False
        self._tasks: list[asyncio.Task[None]] = []
        self._ready_gauge = Gauge("oms_ready", "1 when the service is ready", ["service"], registry=self.registry)

    def load_verifier(self) -> None:
        s = self.settings
        if s.jwks_url:  # the issuer's published keys, fetched and cached (keys rotate)
            self.token_verifier = TokenVerifier.from_jwks(
                s.jwks_url,
                issuer=s.jwt_issuer,
                audience=s.jwt_audience,
                min_refresh_interval_s=s.jwks_min_refresh_interval_s,
                refresh_interval_s=s.jwks_refresh_interval_s,
            )
            return
        path = Path(self.settings.jwt_public_key_file)
        if path.exists():
            self.token_verifier = TokenVerifier.from_file(
                path, issuer=self.settings.jwt_issuer, audience=self.settings.jwt_audience
            )
        else:
            log.warning("no token public key at %s: authenticated routes answer 401", path)

    async def start(self) -> None:
        s = self.settings
        if self.token_verifier is None:
            self.load_verifier()
        await upgrade_to_head(self.db.engine, self.migrations_dir)
        await self._ensure_topics(all_topics_with_dlq())
        self.producer = make_producer(
            s.kafka_bootstrap, enable_idempotence=s.kafka_enable_idempotence, client_id=f"oms-{s.service_name}-relay"
        )
        await self.producer.start()
        self.relay = OutboxRelay(
            self.db,
            self.producer,
            self._outbox_metrics,
            service=s.service_name,
            batch_size=s.outbox_batch_size,
            poll_interval_s=s.outbox_poll_interval_s,
            linger_s=s.outbox_linger_ms / 1000,
            keep_sent_s=s.outbox_keep_sent_s,
        )
        kept = self.relay.sent_retention()
        if kept is not None:
            self.retention.append(kept)
        if s.kafka_watch_interval_s > 0:
            # A broker that lost its log (a memory broker restarted) gets its topics back and the kept rows again.
            self.broker_watch = BrokerWatch(
                self.producer.client,
                all_topics_with_dlq(),
                self._ensure_topics,
                self.relay.broker_lost,
                interval_s=s.kafka_watch_interval_s,
            )
            try:
                await self.broker_watch.check()  # the cluster id the topics were just created on
            except Exception as exc:  # checked again every interval; the relay asks again after a reconnect
                log.warning("broker watch: the first check failed: %r", exc)
            self.relay.broker_check = self.broker_watch.check
        self.relay.start()
        if s.start_consumers:
            self.consumer.attach(
                self.broker,
                group_id=s.resolved_group(),
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
            )
        await self.broker.start()
        if s.start_consumers and self.consumer.topics:
            self.lag = LagMonitor(
                bootstrap=s.kafka_bootstrap,
                group=s.resolved_group(),
                topics=self.consumer.topics,
                registry=self.registry,
                highwater=self.consumer.highwater,
            )
        for hook in self.on_started:
            await hook()
        if s.start_consumers and self.consumer.topics:
            self._tasks.append(asyncio.create_task(self._guard(self.consumer.run_parked), name="parked-events"))
        if self.lag is not None:
            self._tasks.append(asyncio.create_task(self._guard(self.lag_loop), name="consumer-lag"))
        if self.broker_watch is not None:
            self._tasks.append(asyncio.create_task(self._guard(self.broker_watch.run), name="broker-watch"))
        if self.token_verifier is not None and self.token_verifier.jwks_url:
            self._tasks.append(asyncio.create_task(self._guard(self.token_verifier.keep_fresh), name="jwks"))
        for task in self.background:
            self._tasks.append(asyncio.create_task(self._guard(task), name=getattr(task, "__name__", "task")))
        self._tasks.append(asyncio.create_task(self._guard(self.retention_loop), name="retention"))
        # Everything alive after start-up (modules, metadata, compiled statements) lives as long as the
        # process; frozen out of the collector's generations, full collections stop re-scanning it. Large
        # answers (a 10,000-line availability) trigger them: p50 153 -> 71 ms measured in inventory.
        gc.freeze()
        self.ready = True
        self._ready_gauge.labels(s.service_name).set(1)
        log.info("%s ready", s.service_name)

    async def _ensure_topics(self, topics: list[str]) -> None:
        s = self.settings
        await ensure_topics(
            s.kafka_bootstrap, topics, s.kafka_topic_partitions, replication_factor=s.kafka_replication_factor
        )

    async def _guard(self, task: BackgroundTask) -> None:
        """Keep a background loop alive: log and restart it after an unexpected error."""
        while True:
            try:
                await task()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                name = getattr(task, "__name__", task)
                if transient_kind(exc) is not None:
                    # The database restarting or out of reach: expected, and /ready says so; no traceback per
                    # second of the outage (31 per loop and service in a 30 s PostgreSQL restart).
                    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                    log.warning(
                        "background task %s: database busy or unavailable (%s); restarting in 1 s", name, reason
                    )
                else:
                    log.exception("background task %s failed; restarting in 1 s", name)
                await asyncio.sleep(1)

    async def purge_expired(self) -> dict[str, int]:
        """One retention pass: delete what outlived its table's retention; returns rows deleted per table."""
        return await purge_all(
            self.db, self.retention, self._retention_metrics, batch_size=self.settings.retention_batch_size
        )

    async def retention_loop(self) -> None:
        """Background loop: a retention pass every retention_interval_s (batches, off the request path; the
        first one an interval after start, not among the start-up work)."""
        while True:
            await asyncio.sleep(self.settings.retention_interval_s)
            await self.purge_expired()

    async def lag_loop(self) -> None:
        """Background loop: the consumer lag measured every consumer_lag_interval_s (oms_consumer_lag)."""
        if self.lag is not None:
            await self.lag.run(self.settings.consumer_lag_interval_s)

    async def stop(self) -> None:
        self.ready = False
        self._ready_gauge.labels(self.settings.service_name).set(0)
        for hook in self.on_stopping:
            await hook()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: a background task stuck in a client that ignores cancellation must not keep the service
            # (and its relay and database) running after it was told to stop.
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S)
            for task in stuck:
                log.warning("background task %s did not stop within %.0f s", task.get_name(), STOP_TIMEOUT_S)
        if self.lag is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.lag.close(), STOP_TIMEOUT_S)
        await self.broker.stop()
        if self.relay is not None:
            await self.relay.stop()
        if self.producer is not None:
            await self.producer.stop()
        await self.db.dispose()

    async def database_state(self) -> str:
        """``"ok"``, or ``"unavailable"`` while the consumer waits for the database or it does not answer."""
        if self.consumer.database_unavailable:
            return "unavailable"
        try:
            async with asyncio.timeout(self.settings.ready_db_timeout_s), self.db.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as exc:  # any failure to answer means "not ready", never a 500
            log.warning("readiness: the database does not answer: %r", exc)
            return "unavailable"
        return "ok"

    async def drained_state(self) -> dict[str, Any]:
        """What this service still has to do: unpublished outbox rows, parked events, consumer lag, and what
        the service adds (``pending``). ``drained`` is true when all of it is nothing."""
        s = self.settings
        body: dict[str, Any] = {"service": s.service_name, "ready": self.ready, "drained": False}
        if not self.ready:
            return body
        try:
            async with asyncio.timeout(s.ready_db_timeout_s), self.db.read() as conn:
                outbox, parked = self.db.outbox, self.db.parked
                pending, oldest = (
                    await conn.execute(sa.select(sa.func.count(), sa.func.min(outbox.c.created_at)))
                ).one()
                waiting = await conn.scalar(
                    sa.select(sa.func.count()).select_from(parked).where(parked.c.consumer == s.service_name)
                )
        except Exception as exc:  # the database does not answer: nothing can be said, so not drained
            log.warning("drained: the database does not answer: %r", exc)
            body["database"] = "unavailable"
            return body
        age = max(0.0, (utcnow() - oldest).total_seconds()) if oldest is not None else 0.0
        body["outbox"] = {"pending": int(pending or 0), "oldest_age_s": round(age, 3)}
        body["parked"] = int(waiting or 0)
        busy = bool(pending) or bool(waiting)
        if self.lag is None:
            body["lag"] = {"group": None, "total": 0, "partitions": []}
        else:
            try:
                async with asyncio.timeout(15.0):
                    lags = await self.lag.measure()
                behind = [p.as_dict() for p in lags if p.lag > 0]
                body["lag"] = {"group": self.lag.group, "total": sum(p.lag for p in lags), "partitions": behind}
                busy = busy or bool(behind)
            except Exception as exc:  # the broker does not answer: the lag is unknown, so not drained
                log.warning("drained: the consumer lag cannot be measured: %r", exc)
                body["lag"] = {"group": self.lag.group, "total": None, "error": "the broker does not answer"}
                busy = True
        others: dict[str, int] = {}
        for name, count in self.pending.items():
            others[name] = int(await count())
        if others:
            body["pending"] = others
            busy = busy or any(others.values())
        body["drained"] = not busy
        return body

    def ops_router(self) -> APIRouter:
        router = APIRouter(tags=["ops"])

        @router.get("/health", summary="Liveness")
        async def health() -> dict[str, str]:
            return {"status": "ok", "service": self.settings.service_name}

        @router.get(
            "/ready",
            summary="Readiness: migrated, connected, consuming",
            responses={503: {"description": "Not ready: starting, stopping, or the database does not answer."}},
        )
        async def ready() -> Response:
            body: dict[str, Any] = {"service": self.settings.service_name, "ready": self.ready}
            if self.ready:
                body["database"] = await self.database_state()
                body["ready"] = body["database"] == "ok"
                # What this process consumes, by topic: replicas of a service share its group's partitions.
                partitions = self.consumer.assigned_partitions()
                if partitions is not None:
                    body["partitions"] = partitions
            return JSONResponse(body, status_code=200 if body["ready"] else 503)

        @router.get(
            "/drained",
            summary="Drained: nothing unpublished in the outbox, nothing parked, no consumer lag",
            description=(
                "200 when this service has nothing left to do with what it was given: every outbox row is "
                "published, no event waits for a fact (parked), its consumer group has committed every message "
                "of its topics (whichever replica consumes them), and nothing the service adds is pending "
                "(e.g. e-mails not sent yet). 503 with what is pending otherwise. For operators (a rolling "
                "upgrade, a migration) and tests to wait on; asks the database and the broker, so poll it "
                "every second or so, not faster."
            ),
            responses={
                200: {
                    "description": "Drained.",
                    "content": {"application/json": {"example": DRAINED_EXAMPLE}},
                },
                503: {
                    "description": "Not drained: starting, or something is pending (the body says what).",
                    "content": {"application/json": {"example": NOT_DRAINED_EXAMPLE}},
                },
            },
        )
        async def drained() -> Response:
            body = await self.drained_state()
            return JSONResponse(body, status_code=200 if body["drained"] else 503)

        @router.get("/asyncapi.json", summary="AsyncAPI document of the topics this service uses")
        async def asyncapi() -> dict[str, Any]:
            return self.asyncapi()

        @router.get("/metrics", summary="Prometheus metrics")
        async def metrics() -> Response:
            return metrics_response(self.registry)

        return router

    def asyncapi(self) -> dict[str, Any]:
        return asyncapi_document(
            self.settings.service_name, consumed=self.consumer.handled_events, produced=self.produces
        )

    def build_app(self) -> FastAPI:
        configure_logging(self.settings.service_name, self.settings.log_level, self.settings.log_json)

        @asynccontextmanager
        async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        # /docs from the files this package vendors (no CDN: it works offline); no ReDoc page.
        app = FastAPI(title=self.title, version=self.version, lifespan=lifespan, docs_url=None, redoc_url=None)
        app.state.runtime = self
        if self.token_verifier is None:  # a service that issues tokens sets its own verifier
            self.load_verifier()
        app.state.token_verifier = self.token_verifier
        install_error_handlers(app)
        install_openapi(app, service=self.settings.service_name)
        app.include_router(self.ops_router())
        app.include_router(docs_router(self.title))
        for router in self.routers:
            app.include_router(router)
        app.add_middleware(
            IdempotencyMiddleware,
            db_getter=lambda: self.db,
            verifier_getter=lambda: self.token_verifier,
            lease_s=self.settings.idempotency_lease_s,
        )
        # Outside the idempotency layer, which buffers bodies: nothing reads more than the route allows.
        app.add_middleware(
            BodyLimitMiddleware, default_max_bytes=self.settings.max_body_bytes, limits=list(self.body_limits)
        )
        # Counts and logs every answer, the body limit's 413 included, under the request's correlation id.
        app.add_middleware(AccessLogMiddleware, metrics=self.http_metrics)
        app.add_middleware(CorrelationIdMiddleware)
        return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run a service app with uvicorn (the console entry point of every service)."""
    import uvicorn

    # Topics are created explicitly, with the configured partitions, never by a client asking for them (ADR 019).
    forbid_topic_auto_creation()
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)
