"""The ``oms`` command: run the local stack (``up``, ``down``, ``status``) and the demo."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from oms_devstack.components import (
    CONSOLE,
    DEFAULT_SMTP_PORT,
    SERVICES,
    STATE_FILE_NAME,
    StackError,
    component_status,
    default_var_dir,
    expected_components,
    format_table,
    parse_replicas,
    partitions_summary,
    read_state,
    state_file,
    stop_recorded,
)
from oms_devstack.procs import PortInUseError
from oms_devstack.stack import LocalStack, StackGaveUp
from oms_devstack.tansu import TansuError

# Port of an external SMTP server when only its host is configured.
SMTP_STANDARD_PORT = 25


class _Terminate(BaseException):
    """Raised from the SIGTERM/SIGHUP handler so `oms up` unwinds exactly like on Ctrl-C."""


def _echo(message: str) -> None:
    print(f"oms: {message}", flush=True)


def _raise_terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminate(signum)


def stack_from_env(args: argparse.Namespace, env: Mapping[str, str], **extra: Any) -> LocalStack:
    """The stack `oms up` starts: its var dir (``OMS_VAR_DIR``), ports (``--broker-port``,
    ``OMS_<SERVICE>_HTTP_PORT``, ``OMS_NOTIFICATIONS_SMTP_PORT``) and external broker or SMTP server, if any."""
    smtp_host = env.get("OMS_NOTIFICATIONS_SMTP_HOST") or None
    smtp_port = int(env.get("OMS_NOTIFICATIONS_SMTP_PORT") or (SMTP_STANDARD_PORT if smtp_host else DEFAULT_SMTP_PORT))
    return LocalStack(
        default_var_dir(env),
        broker_port=args.broker_port,
        smtp_port=smtp_port,
        # A port the user pinned in the environment is the one the service will use, so wait on that.
        service_ports={s.name: int(env.get(f"OMS_{s.env_name}_HTTP_PORT") or s.default_port) for s in SERVICES},
        kafka_bootstrap=env.get("OMS_KAFKA_BOOTSTRAP") or None,
        smtp_host=smtp_host,
        wait_ready=not args.no_wait,
        replicas=getattr(args, "replicas", None) or {},
        **{"env": dict(env), **extra},
    )


def cmd_up(args: argparse.Namespace) -> int:
    stack = stack_from_env(args, os.environ, echo=_echo)
    previous = {sig: signal.signal(sig, _raise_terminate) for sig in (signal.SIGTERM, signal.SIGHUP)}
    running = False
    try:
        try:
            stack.start()
        except (StackError, PortInUseError, TansuError) as exc:
            print(f"oms up: error: {exc}", file=sys.stderr, flush=True)
            return 1
        running = True
        _print_started(stack)
        try:
            # Restarts what dies (with backoff, said on the console and in its log); gives up on a crash loop.
            stack.supervise_forever(poll_s=0.5)
        except StackGaveUp as exc:
            print(f"oms up: error: {exc}", file=sys.stderr, flush=True)
            _echo("stopping the whole stack")
            return 1
        return 0  # not reached: supervise_forever() returns only by an exception
    except (KeyboardInterrupt, _Terminate):
        print(flush=True)
        # start() has already stopped what it had started when it was interrupted.
        _echo("stopping the stack" if running else "start interrupted; everything started was stopped")
        return 0 if running else 130
    finally:
        # A second Ctrl-C must not interrupt the shutdown half-way and leave processes behind.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _print_started(stack: LocalStack) -> None:
    if any(spec.name == CONSOLE for spec in stack.services):
        print(f"\nOMS console: {stack.url(CONSOLE)}  (open it in a browser)\n", flush=True)
    rows = [
        (
            c.name,
            c.url,
            "external" if c.external else c.pid,
            "-" if c.ready_after_s is None else f"{c.ready_after_s:.1f} s",
        )
        for c in stack.components()
    ]
    print(format_table(("component", "url", "pid", "ready after"), rows), flush=True)
    waited = "" if stack.wait_ready else " (services not awaited: --no-wait)"
    print(
        f"\nstack started in {stack.started_in_s or 0:.1f} s{waited}; logs in {stack.log_dir}, "
        f"mail in {stack.mail_dir}, state in {stack.state_path}\nCtrl-C (or `oms down`) stops everything.",
        flush=True,
    )


def cmd_down(args: argparse.Namespace) -> int:
    stop_recorded(default_var_dir(), echo=_echo)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    var_dir = default_var_dir()
    found = read_state(var_dir) is not None
    # Said first, on stderr (the JSON on stdout stays parseable): which stack this is, or that there is none.
    print(_status_heading(var_dir, found=found, from_env=bool(os.environ.get("OMS_VAR_DIR"))), file=sys.stderr)
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        statuses = [component_status(c, client) for c in expected_components(var_dir)]
    if args.json:
        print(json.dumps(statuses, indent=2))
    else:
        rows = [
            (
                s["component"],
                s["url"],
                s["pid"],
                _yes_no(s["alive"]),
                _yes_no(s["ready"]),
                _yes_no(s["drained"]),
                partitions_summary(s["partitions"]),
                s["restarts"],
            )
            for s in statuses
        ]
        headers = ("component", "url", "pid", "alive", "ready", "drained", "partitions", "restarts")
        print(format_table(headers, rows))
    return 0 if all(s["ready"] for s in statuses) else 1


def _status_heading(var_dir: Path, *, found: bool, from_env: bool) -> str:
    source = "OMS_VAR_DIR" if from_env else "the default: OMS_VAR_DIR is not set"
    if found:
        return f"oms status: the stack recorded in {state_file(var_dir)} (var dir {var_dir}, {source})"
    return (
        f"oms status: no stack found in {var_dir} ({source}; no {STATE_FILE_NAME} there).\n"
        "  Shown below: the default addresses, probed; whatever answers there is not a stack started with this "
        "var dir.\n"
        "  A stack started with OMS_VAR_DIR=<dir> is shown by: OMS_VAR_DIR=<dir> oms status"
    )


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def demo_urls(args: argparse.Namespace) -> dict[str, str]:
    """Service URLs: command-line flags, else the state file, else ``OMS_<SVC>_BASE_URL``, else defaults."""
    state = read_state(default_var_dir()) or {}
    recorded = state.get("urls") if isinstance(state.get("urls"), dict) else {}
    urls: dict[str, str] = {}
    for spec in SERVICES:
        flag = getattr(args, f"base_url_{spec.name.replace('-', '_')}")
        port = os.environ.get(f"OMS_{spec.env_name}_HTTP_PORT") or spec.default_port
        urls[spec.name] = (
            flag
            or (recorded or {}).get(spec.name)
            or os.environ.get(f"OMS_{spec.env_name}_BASE_URL")
            or f"http://127.0.0.1:{port}"
        )
    return urls


def cmd_demo(args: argparse.Namespace) -> int:
    from oms_devstack.demo import run_demo

    return run_demo(demo_urls(args))


def _bootstrap(args: argparse.Namespace) -> str:
    """The broker: ``--bootstrap``, else ``OMS_KAFKA_BOOTSTRAP``, else the running local stack's, else :9092."""
    state = read_state(default_var_dir()) or {}
    recorded = state.get("kafka_bootstrap") if isinstance(state.get("kafka_bootstrap"), str) else None
    return str(args.bootstrap or os.environ.get("OMS_KAFKA_BOOTSTRAP") or recorded or "127.0.0.1:9092")


def cmd_dlq(args: argparse.Namespace) -> int:
    import asyncio

    from oms_shared import dlq

    bootstrap = _bootstrap(args)
    topics = args.topic or None
    try:
        letters = asyncio.run(dlq.read_dead_letters(bootstrap, topics))
    except Exception as exc:  # an unreachable broker, a refused connection: say so, no traceback
        _echo(f"cannot read the dead-letter topics from {bootstrap}: {type(exc).__name__}: {exc}")
        return 2
    chosen = dlq.select(
        letters, consumer=args.consumer or "", event_ids=args.event_id or (), include_malformed=args.include_malformed
    )
    if args.action == "list":
        if args.json:
            print(json.dumps([d.summary() for d in chosen], indent=2, ensure_ascii=False))
        else:
            rows = [
                (f"{d.dlq_topic}:{d.partition}:{d.offset}", d.consumer, d.event_type or "?", d.error[:80])
                for d in chosen
            ]
            print(format_table(("letter", "consumer", "event", "error"), rows))
            print(f"\n{len(chosen)} of {len(letters)} dead letters on {bootstrap}")
        return 0
    if args.dry_run:
        _echo(f"would replay {len(chosen)} of {len(letters)} dead letters")
        return 0
    count = asyncio.run(dlq.replay(bootstrap, chosen))
    _echo(f"replayed {count} of {len(letters)} dead letters to their source topics")
    return 0


def _replicas_argument(text: str) -> dict[str, int]:
    try:
        return parse_replicas(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oms", description="OMS local stack and demo.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="start broker, SMTP catcher, the five services and the console, restart what dies; Ctrl-C stops them",
    )
    up.add_argument("--broker-port", type=int, default=9092, help="Tansu port (default 9092; 0 = any free port)")
    up.add_argument("--no-wait", action="store_true", help="do not wait for the services' /ready")
    up.add_argument(
        "--replicas",
        type=_replicas_argument,
        default={},
        metavar="SERVICE=N[,SERVICE=N...]",
        help="run N processes of a consumer service in one consumer group (they split its partitions), "
        "e.g. inventory=2,notifications=2; the extra ones on free ports, shown by `oms status`",
    )
    up.set_defaults(func=cmd_up)

    down = commands.add_parser("down", help="stop the stack recorded in var/stack.json")
    down.set_defaults(func=cmd_down)

    status = commands.add_parser("status", help="show every component; exit 1 unless all are ready")
    status.add_argument("--json", action="store_true", help="print a JSON list")
    status.set_defaults(func=cmd_status)

    demo = commands.add_parser("demo", help="run the demo story against a running stack")
    for spec in SERVICES:
        demo.add_argument(f"--base-url-{spec.name}", metavar="URL", default=None, help=f"{spec.name} base URL")
    demo.set_defaults(func=cmd_demo)

    dead = commands.add_parser(
        "dlq", help="list dead letters, or replay them to their source topics once the cause is fixed"
    )
    dead.add_argument("action", choices=("list", "replay"))
    dead.add_argument("--bootstrap", default=None, help="Kafka bootstrap (default: OMS_KAFKA_BOOTSTRAP or the stack)")
    dead.add_argument("--topic", action="append", help="source topic, e.g. order.placed (repeatable; default all)")
    dead.add_argument("--consumer", default=None, help="only letters this service gave up on (e.g. notifications)")
    dead.add_argument("--event-id", action="append", help="only these events (repeatable)")
    dead.add_argument("--include-malformed", action="store_true", help="also messages that never parsed as an event")
    dead.add_argument("--dry-run", action="store_true", help="replay: only count what would be replayed")
    dead.add_argument("--json", action="store_true", help="list: print JSON")
    dead.set_defaults(func=cmd_dlq)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
