"""What a local stack consists of: service specs, component records, the state file, status and ``down``."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import httpx

from oms_devstack.procs import (
    group_alive,
    pid_alive,
    split_host_port,
    stop_foreign_groups,
    tcp_accepts,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BROKER_PORT = 9092
DEFAULT_SMTP_PORT = 8025
READY_TIMEOUT_S = 90.0
SERVICE_STOP_TIMEOUT_S = 10.0
AUX_STOP_TIMEOUT_S = 5.0
SMTP_START_TIMEOUT_S = 15.0
STATE_FILE_NAME = "stack.json"
# Supervision: a service or the SMTP catcher that dies is started again after RESTART_BACKOFF_S, doubling
# for each further crash up to RESTART_BACKOFF_MAX_S; after RESTART_LIMIT crashes within RESTART_WINDOW_S the
# supervisor gives up and stops the whole stack (a crash loop needs a human, not more restarts).
RESTART_BACKOFF_S = 1.0
RESTART_BACKOFF_MAX_S = 30.0
RESTART_LIMIT = 5
RESTART_WINDOW_S = 120.0

Kind = Literal["broker", "smtp", "service"]


@dataclass(frozen=True)
class ServiceSpec:
    """A service of the stack: its name, console script, default HTTP port, and whether it consumes events
    (only a consumer can run as several replicas sharing its group's partitions)."""

    name: str
    command: str
    default_port: int
    consumes: bool = True

    @property
    def env_name(self) -> str:
        """The ``<SVC>`` part of ``OMS_<SVC>_*`` variables (``erp-bridge`` -> ``ERP_BRIDGE``)."""
        return self.name.upper().replace("-", "_")


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("orders", "oms-orders", 8101),
    ServiceSpec("inventory", "oms-inventory", 8102),
    ServiceSpec("notifications", "oms-notifications", 8103),
    ServiceSpec("erp-bridge", "oms-erp-bridge", 8104),
    ServiceSpec("analytics", "oms-analytics", 8105),
    # The web console: pages over the five services' HTTP APIs (no database, no topics).
    ServiceSpec("console", "oms-console", 8100, consumes=False),
)
CONSOLE = "console"
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES)
CONSUMER_NAMES: tuple[str, ...] = tuple(s.name for s in SERVICES if s.consumes)
# Partitions of every topic when OMS_KAFKA_TOPIC_PARTITIONS is unset (oms_shared.settings.KafkaSettings).
DEFAULT_TOPIC_PARTITIONS = 3


def service_spec(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise ValueError(f"unknown service {name!r}; expected one of {', '.join(SERVICE_NAMES)}")


def replica_name(service: str, replica: int) -> str:
    """The component name of a service's process: ``inventory`` for the first, ``inventory#2`` for the next."""
    return service if replica == 1 else f"{service}#{replica}"


def parse_replicas(text: str, env: Mapping[str, str] | None = None) -> dict[str, int]:
    """``inventory=2,notifications=2`` -> ``{"inventory": 2, "notifications": 2}``; ``ValueError`` says what is
    wrong. Only consumer services, at least 1 and at most the topics' partitions (a replica beyond that would
    consume nothing)."""
    env = os.environ if env is None else env
    partitions = int(env.get("OMS_KAFKA_TOPIC_PARTITIONS") or DEFAULT_TOPIC_PARTITIONS)
    wanted: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, count_text = item.partition("=")
        name = name.strip()
        if not sep or not count_text.strip().isdigit():
            raise ValueError(f"{item!r}: expected SERVICE=COUNT, e.g. inventory=2")
        if name not in CONSUMER_NAMES:
            raise ValueError(
                f"{name!r} cannot have replicas: expected one of the consumer services {', '.join(CONSUMER_NAMES)}"
            )
        if name in wanted:
            raise ValueError(f"{name!r} is given twice")
        count = int(count_text)
        if not 1 <= count <= partitions:
            raise ValueError(
                f"{name}={count}: between 1 and {partitions} replicas (the topics have {partitions} partitions; "
                "OMS_KAFKA_TOPIC_PARTITIONS)"
            )
        wanted[name] = count
    if not wanted:
        raise ValueError("no replicas given; expected SERVICE=COUNT[,SERVICE=COUNT...], e.g. inventory=2")
    return wanted


def default_var_dir(env: Mapping[str, str] | None = None) -> Path:
    """``OMS_VAR_DIR`` or ``./var``, absolute."""
    env = os.environ if env is None else env
    return Path(env.get("OMS_VAR_DIR") or "var").resolve()


def state_file(var_dir: Path) -> Path:
    return var_dir / STATE_FILE_NAME


class StackError(RuntimeError):
    """The stack could not start; the message says which component and shows its log tail."""


@dataclass
class Component:
    """One running (or expected) part of the stack, as written to ``var/stack.json``."""

    name: str
    kind: Kind
    host: str
    port: int
    url: str
    pid: int | None = None
    pid_start: int | None = None
    log: str | None = None
    external: bool = False
    ready_after_s: float | None = None
    # Times the supervisor started it again after it died.
    restarts: int = 0
    # Services: which one this process is, and which of its replicas (1 for the first; ``oms up --replicas``).
    service: str | None = None
    replica: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Component:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def http_ready(client: httpx.Client, base_url: str) -> bool:
    return http_readiness(client, base_url)[0]


def http_readiness(client: httpx.Client, base_url: str) -> tuple[bool, dict[str, Any] | None]:
    """A service's ``/ready``: whether it answered 200, and its body (``partitions``: what it consumes)."""
    try:
        response = client.get(f"{base_url}/ready")
    except httpx.HTTPError:
        return False, None
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code == 200, body if isinstance(body, dict) else None


def http_drained(client: httpx.Client, base_url: str) -> tuple[bool | None, dict[str, Any] | None]:
    """A service's ``/drained``: (True, body) on 200, (False, body) on 503, (None, None) when it does not answer."""
    try:
        response = client.get(f"{base_url}/drained", timeout=15.0)
        body = response.json() if response.status_code in (200, 503) else None
    except (httpx.HTTPError, ValueError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    return response.status_code == 200, body


def read_state(var_dir: Path) -> dict[str, Any] | None:
    """The state file of a running (or crashed) stack, or ``None``."""
    path = state_file(var_dir)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def expected_components(var_dir: Path, env: Mapping[str, str] | None = None) -> list[Component]:
    """Components from the state file, or where a stack started with this environment would be."""
    state = read_state(var_dir)
    if state is not None and isinstance(state.get("components"), list):
        return [Component.from_json(c) for c in state["components"]]
    env = os.environ if env is None else env
    found: list[Component] = []
    bootstrap = env.get("OMS_KAFKA_BOOTSTRAP")
    host, port = split_host_port(bootstrap) if bootstrap else (DEFAULT_HOST, DEFAULT_BROKER_PORT)
    found.append(Component("broker", "broker", host, port, f"kafka://{host}:{port}", external=bool(bootstrap)))
    external_smtp = env.get("OMS_NOTIFICATIONS_SMTP_HOST")
    smtp_host = external_smtp or DEFAULT_HOST
    smtp_port = int(env.get("OMS_NOTIFICATIONS_SMTP_PORT") or DEFAULT_SMTP_PORT)
    found.append(
        Component(
            "smtp",
            "smtp",
            smtp_host,
            smtp_port,
            f"smtp://{smtp_host}:{smtp_port}",
            external=bool(external_smtp),
        )
    )
    for spec in SERVICES:
        url = env.get(f"OMS_{spec.env_name}_BASE_URL")
        port = int(env.get(f"OMS_{spec.env_name}_HTTP_PORT") or spec.default_port)
        found.append(
            Component(
                spec.name, "service", DEFAULT_HOST, port, url or f"http://{DEFAULT_HOST}:{port}", service=spec.name
            )
        )
    return found


def component_status(component: Component, client: httpx.Client) -> dict[str, Any]:
    """Liveness of the recorded pid and readiness (``/ready`` for services, a TCP connect otherwise)."""
    alive: bool | None = None
    if component.pid is not None:
        alive = pid_alive(component.pid, component.pid_start)
    drained: bool | None = None
    pending: dict[str, Any] | None = None
    partitions: dict[str, list[int]] | None = None
    if component.kind == "service":
        ready, body = http_readiness(client, component.url)
        if body is not None and isinstance(body.get("partitions"), dict):
            partitions = body["partitions"]
        if ready:
            drained, pending = http_drained(client, component.url)
    else:
        ready = tcp_accepts(component.host, component.port)
    return {
        "component": component.name,
        "service": component.service,
        "replica": component.replica,
        "url": component.url,
        "port": component.port,
        "pid": component.pid,
        "alive": alive,
        "ready": ready,
        "external": component.external,
        "restarts": component.restarts,
        # Services only: nothing unpublished, parked or unconsumed (GET /drained, its body under "pending").
        "drained": drained,
        "pending": pending,
        # Consumer services: the partitions this process consumes now, by topic (replicas split the group's).
        "partitions": partitions,
    }


def partitions_summary(partitions: Mapping[str, Sequence[int]] | None) -> str | None:
    """``6 (0,2)``: how many partitions a process consumes, and their numbers when every topic has the same."""
    if partitions is None:
        return None
    total = sum(len(p) for p in partitions.values())
    numbers = {tuple(p) for p in partitions.values()}
    if total and len(numbers) == 1:
        return f"{total} ({','.join(str(n) for n in next(iter(numbers)))})"
    return str(total)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain left-aligned text table."""
    cells = [[str(h) for h in headers], *([("-" if v is None else str(v)) for v in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def stop_recorded(var_dir: Path, echo: Callable[[str], None] = print, timeout_s: float = SERVICE_STOP_TIMEOUT_S) -> int:
    """``oms down``: stop the stack recorded in ``var_dir``; returns how many processes were signalled."""
    state = read_state(var_dir)
    if state is None:
        echo(f"no stack recorded in {state_file(var_dir)}; nothing to stop")
        return 0
    signalled = 0
    pid, ticks = state.get("supervisor_pid"), state.get("supervisor_start")
    if isinstance(pid, int) and pid != os.getpid() and pid_alive(pid, ticks):
        # The supervisor (`oms up`) stops its children in the right order and removes the state file.
        echo(f"asking the supervisor (pid {pid}) to stop the stack")
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        signalled += 1
        deadline = time.monotonic() + timeout_s + 2 * AUX_STOP_TIMEOUT_S + 5
        while time.monotonic() < deadline and pid_alive(pid, ticks):
            time.sleep(0.1)
    components = [Component.from_json(raw) for raw in state.get("components", [])]
    leftovers = [c for c in components if c.pid is not None and not c.external and _still_ours(c)]
    # Same order as the supervisor: services, then the SMTP catcher, then the broker.
    for kind in ("service", "smtp", "broker"):
        group = [c for c in leftovers if c.kind == kind]
        if group:
            echo(f"stopping {', '.join(c.name for c in group)}")
            stop_foreign_groups(
                [c.pid for c in group if c.pid is not None],
                timeout_s=timeout_s if kind == "service" else AUX_STOP_TIMEOUT_S,
            )
            signalled += len(group)
    state_file(var_dir).unlink(missing_ok=True)
    return signalled


def _still_ours(component: Component) -> bool:
    """Whether the recorded process (group) is still the one the stack started, not a reused pid."""
    assert component.pid is not None
    if pid_alive(component.pid, component.pid_start):
        return True
    # Leader gone but its group lives on (orphaned grandchildren): the kernel never hands out a pid
    # that is still in use as a process group id, so that group can only be ours.
    return not pid_alive(component.pid) and group_alive(component.pid)
