"""``LocalStack``: broker, SMTP catcher and the five services as local processes, for ``oms`` and tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

import oms_devstack
from oms_devstack.components import (
    AUX_STOP_TIMEOUT_S,
    DEFAULT_BROKER_PORT,
    DEFAULT_HOST,
    DEFAULT_SMTP_PORT,
    DEFAULT_TOPIC_PARTITIONS,
    READY_TIMEOUT_S,
    RESTART_BACKOFF_MAX_S,
    RESTART_BACKOFF_S,
    RESTART_LIMIT,
    RESTART_WINDOW_S,
    SERVICE_STOP_TIMEOUT_S,
    SERVICES,
    SMTP_START_TIMEOUT_S,
    Component,
    ServiceSpec,
    StackError,
    default_var_dir,
    http_ready,
    read_state,
    replica_name,
    service_spec,
    state_file,
)
from oms_devstack.keys import ensure_dev_keys
from oms_devstack.procs import (
    PortInUseError,
    free_ports,
    group_alive,
    log_tail,
    pid_alive,
    port_is_free,
    process_start_ticks,
    run_coro_blocking,
    signal_group,
    split_host_port,
    stop_groups,
    tcp_accepts,
)
from oms_devstack.tansu import TansuBroker
from oms_shared.auth import JWKS_PATH
from oms_shared.kafka import ensure_topics
from oms_shared.topics import all_topics_with_dlq


class StackGaveUp(StackError):
    """A component (the broker too) kept crashing: the supervisor stopped trying; the stack must stop."""


@dataclass
class _Child:
    component: Component
    proc: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    ready: bool = False
    # Reported as exited by exited(); stopped by stop() (never signal a reaped pid twice).
    reported: bool = False
    stopped: bool = False
    # Supervision: when it crashed (monotonic, within the window), when it is due to start again, and
    # whether a restarted process has not answered yet.
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    restarted_at: float | None = None
    awaiting_ready: bool = False


class LocalStack:
    """Starts and stops the whole local stack; every port is configurable and ``0`` means "pick a free one".

    Ports the stack decides (HTTP ports, bootstrap, SMTP, var dir) are always passed to the services;
    ``OMS_<SVC>_BASE_URL`` and the key-file variables are only set when the environment lacks them.
    """

    def __init__(
        self,
        var_dir: Path | str | None = None,
        *,
        host: str = DEFAULT_HOST,
        broker_port: int = DEFAULT_BROKER_PORT,
        smtp_port: int = DEFAULT_SMTP_PORT,
        service_ports: Mapping[str, int] | None = None,
        services: Iterable[str] | None = None,
        kafka_bootstrap: str | None = None,
        smtp_host: str | None = None,
        env: Mapping[str, str] | None = None,
        bin_dir: Path | str | None = None,
        service_commands: Mapping[str, Sequence[str]] | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
        wait_ready: bool = True,
        write_state: bool = True,
        echo: Callable[[str], None] | None = None,
        restart_backoff_s: float = RESTART_BACKOFF_S,
        restart_backoff_max_s: float = RESTART_BACKOFF_MAX_S,
        restart_limit: int = RESTART_LIMIT,
        restart_window_s: float = RESTART_WINDOW_S,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        self.var_dir = Path(var_dir).resolve() if var_dir is not None else default_var_dir(env)
        self.host = host
        self.broker_port = broker_port
        self.smtp_port = smtp_port
        self.service_ports: dict[str, int] = {s.name: s.default_port for s in SERVICES}
        for name, port in (service_ports or {}).items():
            service_spec(name)
            self.service_ports[name] = port
        self.services: list[ServiceSpec] = (
            [service_spec(n) for n in services] if services is not None else list(SERVICES)
        )
        # Processes per service (default 1): the extra ones join the same consumer group on ports of their own.
        self.replicas: dict[str, int] = {}
        for name, count in (replicas or {}).items():
            spec = service_spec(name)
            if not spec.consumes:
                raise ValueError(f"{name} consumes no events, so it cannot have replicas")
            if spec not in self.services:
                raise ValueError(f"replicas of {name}, which this stack does not start")
            if count < 1:
                raise ValueError(f"{name} needs at least one process, not {count}")
            self.replicas[name] = count
        # HTTP ports of the extra replicas (replica 2, 3, ...), picked free at start.
        self.replica_ports: dict[str, list[int]] = {}
        # An external Kafka / SMTP server is used as given; nothing is started for it.
        self.kafka_bootstrap = kafka_bootstrap
        self.smtp_host = smtp_host
        self.base_env: dict[str, str] = dict(os.environ if env is None else env)
        # Console scripts live next to the interpreter of the venv we run in; do not resolve the
        # symlink, or we would land in the base Python's bin dir.
        self.bin_dir = Path(bin_dir) if bin_dir is not None else Path(sys.executable).parent
        self.service_commands = {k: list(v) for k, v in (service_commands or {}).items()}
        self.ready_timeout_s = ready_timeout_s
        self.wait_ready = wait_ready
        self.write_state = write_state
        self.echo = echo or (lambda _msg: None)
        self.restart_backoff_s = restart_backoff_s
        self.restart_backoff_max_s = restart_backoff_max_s
        self.restart_limit = restart_limit
        self.restart_window_s = restart_window_s

        self.broker: TansuBroker | None = None
        self.broker_component: Component | None = None
        self.smtp: _Child | None = None
        self.smtp_component: Component | None = None
        self.children: dict[str, _Child] = {}
        self.private_key_file: Path | None = None
        self.public_key_file: Path | None = None
        self.started_in_s: float | None = None
        self._state_written = False
        self._broker_stopped = False
        self._broker_reported = False
        # Supervision of the bundled broker, as of a service: its crashes within the window, when it starts again.
        self._broker_crashes: list[float] = []
        self._broker_restart_at: float | None = None

    @classmethod
    def on_free_ports(cls, var_dir: Path | str, **kwargs: Any) -> LocalStack:
        """A stack where every component gets a free port (for tests)."""
        kwargs.setdefault("broker_port", 0)
        kwargs.setdefault("smtp_port", 0)
        kwargs.setdefault("service_ports", {s.name: 0 for s in SERVICES})
        return cls(var_dir, **kwargs)

    # -- paths and addresses --------------------------------------------------------------------

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    @property
    def keys_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def state_path(self) -> Path:
        return state_file(self.var_dir)

    @property
    def bootstrap(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        if self.broker is None or self.broker.port is None:
            raise StackError("the broker has not been started")
        return self.broker.bootstrap

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.service_ports[service]}"

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of every service of this stack."""
        return {s.name: self.url(s.name) for s in self.services}

    def components(self) -> list[Component]:
        found: list[Component] = []
        if self.broker_component is not None:
            found.append(self.broker_component)
        if self.smtp_component is not None:
            found.append(self.smtp_component)
        found.extend(c.component for c in self.children.values())
        return found

    # -- start ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything and wait until it is ready; on any failure stop what was started and raise."""
        if self.is_running():
            raise StackError("this stack is already running; stop() it first")
        started = time.monotonic()
        try:
            self._start(started)
        except BaseException:
            self.stop()
            raise
        self.started_in_s = time.monotonic() - started

    def _start(self, started: float) -> None:
        self._refuse_if_running()
        self.children, self.smtp, self.broker = {}, None, None
        self.broker_component = self.smtp_component = None
        self._broker_stopped = self._broker_reported = False
        commands = self._service_argv()
        self._assign_ports()
        for sub in (self.var_dir, self.log_dir, self.mail_dir):
            sub.mkdir(parents=True, exist_ok=True)
        self.private_key_file, self.public_key_file = ensure_dev_keys(self.keys_dir)

        self._start_broker(started)
        self.echo(f"creating {len(all_topics_with_dlq())} topics on {self.bootstrap}")
        # As many partitions as the services would create (OMS_KAFKA_TOPIC_PARTITIONS): the most replicas a
        # consumer group keeps busy.
        partitions = int(self.base_env.get("OMS_KAFKA_TOPIC_PARTITIONS") or DEFAULT_TOPIC_PARTITIONS)
        run_coro_blocking(ensure_topics(self.bootstrap, all_topics_with_dlq(), partitions))
        self._start_smtp(started)

        env = self.service_env()
        for spec in self.services:
            self.children[spec.name] = self._spawn_service(spec, commands[spec.name], env)
        if self.write_state:
            self._write_state()
        if self.wait_ready:
            self._wait_services_ready(started, self.children)
            if self.write_state:
                self._write_state()
        # The extra replicas start once the first of each has migrated its database (two processes migrating
        # one SQLite file at once would clash) and join its consumer group: the group's partitions are split.
        extra: dict[str, _Child] = {}
        for spec in self.services:
            for replica, port in enumerate(self.replica_ports.get(spec.name, []), start=2):
                child = self._spawn_service(spec, commands[spec.name], env, replica=replica, port=port)
                extra[child.component.name] = child
        self.children.update(extra)
        if extra and self.write_state:
            self._write_state()
        if self.wait_ready and extra:
            self._wait_services_ready(started, extra, since=time.monotonic())
            if self.write_state:
                self._write_state()

    def _refuse_if_running(self) -> None:
        state = read_state(self.var_dir)
        if state is None:
            return
        pid, ticks = state.get("supervisor_pid"), state.get("supervisor_start")
        if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid, ticks):
            raise StackError(
                f"a stack is already running from {self.var_dir} (supervisor pid {pid}); stop it with `oms down` first"
            )

    def _service_argv(self) -> dict[str, list[str]]:
        """The command of every service, checked before anything starts so a missing install fails fast."""
        commands: dict[str, list[str]] = {}
        for spec in self.services:
            if spec.name in self.service_commands:
                commands[spec.name] = self.service_commands[spec.name]
                continue
            exe = self.bin_dir / spec.command
            if not (exe.is_file() and os.access(exe, os.X_OK)):
                raise StackError(
                    f"{spec.command} not found in {self.bin_dir} (is the project installed? run `make install`)"
                )
            commands[spec.name] = [str(exe)]
        return commands

    def _assign_ports(self) -> None:
        wanted: list[tuple[str, str, int]] = []  # (component, hint, port)
        if not self.kafka_bootstrap:
            wanted.append(("Kafka broker", "choose another with --broker-port", self.broker_port))
        if not self.smtp_host:
            wanted.append(("SMTP catcher", "set OMS_NOTIFICATIONS_SMTP_PORT", self.smtp_port))
        for spec in self.services:
            wanted.append((spec.name, f"set OMS_{spec.env_name}_HTTP_PORT", self.service_ports[spec.name]))

        # Check fixed ports before anything starts, so a second `oms up` fails cleanly and names the port.
        for what, hint, port in wanted:
            if port and not port_is_free(self.host, port):
                raise PortInUseError(self.host, port, what, f"is another stack running (`oms down`)? or {hint}")
        extra_replicas = sum(count - 1 for count in self.replicas.values())
        picked = iter(free_ports(sum(1 for _, _, p in wanted if p == 0) + extra_replicas, self.host))
        if not self.kafka_bootstrap and self.broker_port == 0:
            self.broker_port = next(picked)
        if not self.smtp_host and self.smtp_port == 0:
            self.smtp_port = next(picked)
        for spec in self.services:
            if self.service_ports[spec.name] == 0:
                self.service_ports[spec.name] = next(picked)
        # The extra replicas always get free ports: OMS_<SVC>_HTTP_PORT is the first replica's.
        self.replica_ports = {
            name: [next(picked) for _ in range(count - 1)] for name, count in self.replicas.items() if count > 1
        }

    def _start_broker(self, started: float) -> None:
        if self.kafka_bootstrap:
            host, port = split_host_port(self.kafka_bootstrap)
            self.broker_component = Component(
                "broker", "broker", host, port, f"kafka://{self.kafka_bootstrap}", external=True
            )
            self.echo(f"using external Kafka at {self.kafka_bootstrap}")
            return
        log_path = self.log_dir / "broker.log"
        log_path.unlink(missing_ok=True)
        self.echo(f"starting Tansu broker on {self.host}:{self.broker_port}")
        self.broker = TansuBroker(log_file=log_path)
        self.broker.start(self.host, self.broker_port)
        self.broker_component = Component(
            "broker",
            "broker",
            self.host,
            self.broker_port,
            f"kafka://{self.broker.bootstrap}",
            pid=self.broker.pid,
            pid_start=process_start_ticks(self.broker.pid),
            log=str(log_path),
            ready_after_s=round(time.monotonic() - started, 2),
        )

    def _start_smtp(self, started: float) -> None:
        if self.smtp_host:
            self.smtp_component = Component(
                "smtp",
                "smtp",
                self.smtp_host,
                self.smtp_port,
                f"smtp://{self.smtp_host}:{self.smtp_port}",
                external=True,
            )
            self.echo(f"using external SMTP server at {self.smtp_host}:{self.smtp_port}")
            return
        self.echo(f"starting SMTP catcher on {self.host}:{self.smtp_port} -> {self.mail_dir}")
        argv = [
            sys.executable, "-m", "oms_devstack.mailcatcher",
            "--host", self.host, "--port", str(self.smtp_port), "--dir", str(self.mail_dir),
        ]  # fmt: skip
        env = dict(self.base_env)
        # The child must import the same oms_devstack as we do, even when it is only on our sys.path.
        package_root = str(Path(oms_devstack.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        component = Component("smtp", "smtp", self.host, self.smtp_port, f"smtp://{self.host}:{self.smtp_port}")
        child = self._spawn(component, argv, env, self.log_dir / "smtp.log")
        self.smtp, self.smtp_component = child, component
        deadline = time.monotonic() + SMTP_START_TIMEOUT_S
        while not tcp_accepts(self.host, self.smtp_port, timeout_s=0.2):
            if child.proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(self._failure_text(child, "did not start"))
            time.sleep(0.05)
        component.ready_after_s = round(time.monotonic() - started, 2)

    def service_env(self) -> dict[str, str]:
        """The environment every service process gets."""
        env = dict(self.base_env)
        env["OMS_VAR_DIR"] = str(self.var_dir)
        env["OMS_KAFKA_BOOTSTRAP"] = self.bootstrap
        for spec in self.services:
            env[f"OMS_{spec.env_name}_HTTP_PORT"] = str(self.service_ports[spec.name])
            env.setdefault(f"OMS_{spec.env_name}_BASE_URL", self.url(spec.name))
        # Where people open the console (e-mail links point there); a deployment sets its public address.
        env.setdefault("OMS_CONSOLE_PUBLIC_URL", self.url("console"))
        env["OMS_NOTIFICATIONS_SMTP_HOST"] = self.smtp_host or self.host
        env["OMS_NOTIFICATIONS_SMTP_PORT"] = str(self.smtp_port)
        if self.public_key_file is not None:
            env.setdefault("OMS_JWT_PUBLIC_KEY_FILE", str(self.public_key_file))
        if self.private_key_file is not None:
            env.setdefault("OMS_ORDERS_JWT_PRIVATE_KEY_FILE", str(self.private_key_file))
        # The other services verify tokens with the keys orders publishes, as in production.
        env.setdefault("OMS_JWKS_URL", self.url("orders") + JWKS_PATH)
        # Logs reach var/log/*.log as they happen, not when a buffer fills.
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn_service(
        self, spec: ServiceSpec, argv: list[str], env: dict[str, str], *, replica: int = 1, port: int | None = None
    ) -> _Child:
        name = replica_name(spec.name, replica)
        if replica > 1 and port is not None:
            # Same service, same database and consumer group; only its HTTP port is its own.
            env = {**env, f"OMS_{spec.env_name}_HTTP_PORT": str(port)}
        else:
            port = self.service_ports[spec.name]
        url = f"http://{self.host}:{port}"
        component = Component(name, "service", self.host, port, url, service=spec.name, replica=replica)
        self.echo(f"starting {name} on {url}")
        log_name = spec.name if replica == 1 else f"{spec.name}-{replica}"
        return self._spawn(component, argv, env, self.log_dir / f"{log_name}.log")

    def _spawn(self, component: Component, argv: list[str], env: dict[str, str], log_path: Path) -> _Child:
        with log_path.open("wb") as log_fh:
            # Own session and process group: Ctrl-C in the terminal reaches only the supervisor, which
            # stops children in order, and killing the group also takes any grandchildren.
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        component.pid = proc.pid
        component.pid_start = process_start_ticks(proc.pid)
        component.log = str(log_path)
        return _Child(component, proc, log_path, argv=list(argv), env=dict(env))

    def _wait_services_ready(self, started: float, children: Mapping[str, _Child], since: float | None = None) -> None:
        """Until every one of ``children`` answers ``/ready``, for ``ready_timeout_s`` from ``since`` (or the
        stack's start)."""
        deadline = (started if since is None else since) + self.ready_timeout_s
        pending = dict(children)
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while pending:
                for name, child in list(pending.items()):
                    code = child.proc.poll()
                    if code is not None:
                        raise StackError(self._failure_text(child, f"exited with code {code} before it was ready"))
                    if http_ready(client, child.component.url):
                        child.ready = True
                        child.component.ready_after_s = round(time.monotonic() - started, 2)
                        self.echo(f"{name} ready after {child.component.ready_after_s:.1f} s")
                        del pending[name]
                if pending and time.monotonic() > deadline:
                    texts = [
                        self._failure_text(c, f"was not ready within {self.ready_timeout_s:.0f} s")
                        for c in pending.values()
                    ]
                    raise StackError("\n\n".join(texts))
                if pending:
                    time.sleep(0.2)

    @staticmethod
    def _failure_text(child: _Child, what: str) -> str:
        c = child.component
        tail = log_tail(child.log_path)
        return f"{c.name} ({c.url}, pid {c.pid}) {what}; last lines of {child.log_path}:\n{tail}"

    # -- state ------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "version": 1,
            "supervisor_pid": os.getpid(),
            "supervisor_start": process_start_ticks(os.getpid()),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "var_dir": str(self.var_dir),
            "kafka_bootstrap": self.bootstrap,
            "components": [c.to_json() for c in self.components()],
            "urls": self.urls,
        }

    def _write_state(self) -> None:
        tmp = self.state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state(), indent=2) + "\n")
        os.replace(tmp, self.state_path)
        self._state_written = True

    # -- supervision ------------------------------------------------------------------------------

    def supervise_forever(self, poll_s: float = 0.5, stop: threading.Event | None = None) -> None:
        """Supervise until ``stop`` is set (or forever); raises :class:`StackGaveUp` when it gives up."""
        while stop is None or not stop.is_set():
            self.supervise()
            if stop is None:
                time.sleep(poll_s)
            else:
                stop.wait(poll_s)

    def supervise(self) -> None:
        """One round, as a process manager does it: a service or the SMTP catcher that died is started again
        after a backoff (doubling per crash, capped); after ``restart_limit`` crashes within
        ``restart_window_s`` it gives up (:class:`StackGaveUp`; the caller stops the stack). The bundled broker
        too: it is started again on its port with every topic created again before the services reconnect (a
        memory broker starts empty: the services re-send what their outboxes kept, docs/adr/019)."""
        now = time.monotonic()
        for child in self._all_children():
            if child.stopped:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child)
                continue
            code = child.proc.poll()
            if code is None:
                if child.awaiting_ready:
                    self._check_back(child)
                continue
            self._crashed(child, code, now)
        self._supervise_broker(now)

    def _supervise_broker(self, now: float) -> None:
        broker = self.broker
        if broker is None or broker.process is None or self._broker_stopped or self._broker_reported:
            return
        if self._broker_restart_at is not None:
            if now >= self._broker_restart_at:
                self._restart_broker()
            return
        code = broker.process.poll()
        if code is None:
            return
        self._broker_crashes = [t for t in self._broker_crashes if now - t < self.restart_window_s] + [now]
        crashes = len(self._broker_crashes)
        log = self.broker_component.log if self.broker_component is not None else None
        if crashes > self.restart_limit:
            self._broker_reported = True
            self._broker_note(f"the Kafka broker exited with code {code}; crash {crashes} within the window")
            raise StackGaveUp(
                f"the Kafka broker exited with code {code}, crash {crashes} within {self.restart_window_s:.0f} s; "
                f"the services cannot work without it (see {log}); giving up on it and stopping the stack"
            )
        delay = min(self.restart_backoff_s * 2 ** (crashes - 1), self.restart_backoff_max_s)
        self._broker_restart_at = now + delay
        self._broker_note(
            f"the Kafka broker exited with code {code}; restarting it on port {self.broker_port} in {delay:.1f} s "
            f"(crash {crashes} of at most {self.restart_limit} within {self.restart_window_s:.0f} s)"
        )

    def _restart_broker(self) -> None:
        """Start the broker again on its port and create every topic before a client can ask for one."""
        assert self.broker is not None
        self._broker_restart_at = None
        try:
            self.broker.start(self.host, self.broker_port)
            partitions = int(self.base_env.get("OMS_KAFKA_TOPIC_PARTITIONS") or DEFAULT_TOPIC_PARTITIONS)
            run_coro_blocking(ensure_topics(self.bootstrap, all_topics_with_dlq(), partitions))
        except Exception as exc:
            self._broker_reported = True
            raise StackGaveUp(f"the Kafka broker could not be started again on port {self.broker_port}: {exc}") from exc
        restarts = 0
        if self.broker_component is not None:
            self.broker_component.pid = self.broker.pid
            self.broker_component.pid_start = process_start_ticks(self.broker.pid)
            self.broker_component.restarts += 1
            restarts = self.broker_component.restarts
        self._broker_note(
            f"broker restarted (pid {self.broker.pid}, restart {restarts}); it started empty: "
            f"{len(all_topics_with_dlq())} topics created again"
        )
        if self.write_state and self._state_written:
            self._write_state()

    def _broker_note(self, message: str) -> None:
        self.echo(message)
        log = self.broker_component.log if self.broker_component is not None else None
        if not log:
            return
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with Path(log).open("ab") as fh:
                fh.write(f"{stamp} oms supervisor: {message}\n".encode())
        except OSError:
            pass

    def _crashed(self, child: _Child, code: int, now: float) -> None:
        c = child.component
        child.crashes = [t for t in child.crashes if now - t < self.restart_window_s] + [now]
        crashes = len(child.crashes)
        if crashes > self.restart_limit:
            self._note(child, f"{c.name} exited with code {code}; crash {crashes} within {self.restart_window_s:.0f} s")
            raise StackGaveUp(
                self._failure_text(
                    child,
                    f"crashed {crashes} times within {self.restart_window_s:.0f} s (last exit code {code}); "
                    "giving up on it and stopping the stack",
                )
            )
        delay = min(self.restart_backoff_s * 2 ** (crashes - 1), self.restart_backoff_max_s)
        child.restart_at = now + delay
        child.awaiting_ready = False
        self._note(
            child,
            f"{c.name} exited with code {code}; restarting it in {delay:.1f} s "
            f"(crash {crashes} of at most {self.restart_limit} within {self.restart_window_s:.0f} s)",
        )

    def _restart(self, child: _Child) -> None:
        c = child.component
        # Whatever the dead process left in its group (workers, grandchildren) would hold its port.
        if group_alive(child.proc.pid):
            signal_group(child.proc.pid, signal.SIGKILL)
        with child.log_path.open("ab") as log_fh:
            proc = subprocess.Popen(
                child.argv, env=child.env, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        child.proc = proc
        child.restart_at = None
        child.reported = False
        child.ready = False
        child.awaiting_ready = True
        child.restarted_at = time.monotonic()
        c.pid = proc.pid
        c.pid_start = process_start_ticks(proc.pid)
        c.restarts += 1
        self._note(child, f"{c.name} restarted (pid {proc.pid}, restart {c.restarts})")
        if self.write_state and self._state_written:
            self._write_state()

    def _check_back(self, child: _Child) -> None:
        c = child.component
        if c.kind == "service":
            with httpx.Client(timeout=0.5, trust_env=False) as client:
                back = http_ready(client, c.url)
        else:
            back = tcp_accepts(c.host, c.port, timeout_s=0.2)
        if back:
            child.ready = True
            child.awaiting_ready = False
            took = time.monotonic() - (child.restarted_at or time.monotonic())
            self._note(child, f"{c.name} is ready again, {took:.1f} s after its restart")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` (default SIGKILL: no chance to clean up) to component ``name``'s process group, as a crash
        would; the next :meth:`supervise` rounds start it again. Returns the pid that was signalled."""
        if name == "broker" and self.broker is not None and self.broker.process is not None:
            proc = self.broker.process
        else:
            proc = self._child(name).proc
        pid = proc.pid
        signal_group(pid, sig)
        proc.wait()
        return pid

    def pause(self, name: str) -> None:
        """Stop component ``name`` (SIGTERM, then SIGKILL) and keep it stopped until :meth:`resume`: an outage."""
        child = self._child(name)
        stop_groups([child.proc], timeout_s=AUX_STOP_TIMEOUT_S)
        child.stopped = True
        child.ready = False

    def resume(self, name: str) -> None:
        """Start a component stopped by :meth:`pause` again (supervision waits for it to answer)."""
        child = self._child(name)
        if not child.stopped:
            raise StackError(f"{name} is not paused")
        child.stopped = False
        self._restart(child)

    def restarted_and_ready(self, name: str) -> bool:
        """Whether component ``name`` runs and answers (after a kill or a resume: supervision saw it back)."""
        if name == "broker" and self.broker is not None:
            return self.broker.running() and self._broker_restart_at is None
        child = self._child(name)
        return child.proc.poll() is None and child.restart_at is None and not child.awaiting_ready

    def _child(self, name: str) -> _Child:
        if name == "smtp" and self.smtp is not None:
            return self.smtp
        if name not in self.children:
            raise StackError(f"no component {name!r} in this stack")
        return self.children[name]

    def _note(self, child: _Child, message: str) -> None:
        """Say it on the console and in the component's own log (next to what it printed before it died)."""
        self.echo(message)
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with child.log_path.open("ab") as fh:
                fh.write(f"{stamp} oms supervisor: {message}\n".encode())
        except OSError:
            pass

    # -- running ----------------------------------------------------------------------------------

    def exited(self) -> list[tuple[Component, int]]:
        """Components that have exited on their own since start, with exit codes (each reported once)."""
        gone: list[tuple[Component, int]] = []
        for child in self._all_children():
            code = child.proc.poll()
            if code is not None and not child.reported and not child.stopped:
                child.reported = True
                gone.append((child.component, code))
        broker_proc = self.broker.process if self.broker is not None else None
        if broker_proc is not None and self.broker_component is not None and not self._broker_reported:
            code = broker_proc.poll()
            if code is not None:
                self._broker_reported = True
                gone.append((self.broker_component, code))
        return gone

    def is_running(self) -> bool:
        """Whether anything this stack started has not been stopped yet."""
        broker_up = self.broker is not None and self.broker.process is not None and not self._broker_stopped
        return broker_up or any(not c.stopped for c in self._all_children())

    def _all_children(self) -> list[_Child]:
        return [*self.children.values(), *([self.smtp] if self.smtp is not None else [])]

    # -- stop -------------------------------------------------------------------------------------

    def stop(self) -> None:
        """Services first (SIGTERM, SIGKILL after 10 s), then the SMTP catcher, then the broker.

        Idempotent; components keep their recorded pids so callers can check they are gone.
        """
        services = [c for c in self.children.values() if not c.stopped]
        if services:
            self.echo("stopping services")
            stop_groups([c.proc for c in services], timeout_s=SERVICE_STOP_TIMEOUT_S)
            for child in services:
                child.stopped = True
        if self.smtp is not None and not self.smtp.stopped:
            stop_groups([self.smtp.proc], timeout_s=AUX_STOP_TIMEOUT_S)
            self.smtp.stopped = True
        if self.broker is not None and self.broker.process is not None and not self._broker_stopped:
            self.echo("stopping broker")
            self.broker.stop(timeout_s=AUX_STOP_TIMEOUT_S)
            self._broker_stopped = True
        if self._state_written:
            self.state_path.unlink(missing_ok=True)
            self._state_written = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
